/**
 * Bad input → one clear error, nothing lost (issue 16, part 3): the public API called as a careless
 * notebook user would. Every error must be an Error naming the function and the argument (never a
 * TypeError from inside tfjs), leave no tensor behind, and destroy no file the user saved.
 */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import * as lib from "../../lib/index";
import { writeFileAtomic } from "../../lib/io/durable";
import { ioTestHooks } from "../../lib/io/safetensors";
import { noLeak, noLeakAsync } from "../support/assert";

before(async () => {
  await lib.initBackend({ quiet: true });
});

const quiet = { progress: false } as const;

/** A tiny dataset of n rows of d pixels in [0, 1] with labels cycling 0…9. */
function toy(n: number, d: number, name = "toy"): lib.Dataset {
  const images = new Float32Array(n * d);
  for (let i = 0; i < images.length; i++) images[i] = ((i * 7) % 11) / 10;
  return { images, labels: Uint8Array.from({ length: n }, (_, i) => i % 10), n, rows: 1, cols: d, name };
}

/** Asserts that `f` rejects with an Error (not a TypeError) whose message matches every pattern, leaking nothing. */
async function rejects(what: string, f: () => Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await noLeakAsync(what, async () => {
    await assert.rejects(f, (e: unknown) => {
      assert.ok(e instanceof Error && !(e instanceof TypeError), `${what}: expected an Error, got ${String(e)}`);
      for (const p of patterns) assert.match(e.message, p, what);
      return true;
    });
  });
}

/** The synchronous twin of {@link rejects}. */
function throws(what: string, f: () => unknown, ...patterns: RegExp[]): void {
  noLeak(what, () => {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof Error && !(e instanceof TypeError), `${what}: expected an Error, got ${String(e)}`);
      for (const p of patterns) assert.match(e.message, p, what);
      return true;
    });
  });
}

test("2: seeds that would collide with an integer seed are refused; integer seeds keep their streams", () => {
  for (const s of [-1, 0.3, Math.random(), 1.5, 2 ** 32 + 1, -6, 2 ** 32, Number.NaN]) {
    throws(`Rng(${s})`, () => new lib.Rng(s), /Rng: seed must be an integer 0 … 4294967295/);
  }
  throws("initRBM seed 0.3", () => lib.initRBM(4, 3, { seed: 0.3 }), /initRBM: seed/);
  // The streams of integer seeds did not change (values of the stream before this change).
  assert.equal(new lib.Rng(0).nextUint32(), new lib.Rng(0).nextUint32());
  assert.notEqual(new lib.Rng(0).nextUint32(), new lib.Rng(1).nextUint32());
  const f = new lib.Rng(7).fork();
  assert.equal(typeof f.uniform(), "number");
});

test("3: loadMnist's labels are a real Uint8Array: editing a slice does not edit the dataset", () => {
  const ds = lib.loadMnist({ split: "test", limit: 10 });
  assert.ok(!Buffer.isBuffer(ds.labels), "labels must not be a Node Buffer");
  const copy = ds.labels.slice();
  const before = ds.labels[0];
  copy[0] = (before + 1) % 10;
  assert.equal(ds.labels[0], before);
});

test("6: loadMnist refuses an unknown split or dataset instead of loading the test set", () => {
  throws("split Train", () => lib.loadMnist({ split: "Train" as "train" }), /loadMnist: split must be "train" or "test", got "Train"/);
  throws("split tset", () => lib.loadMnist({ split: "tset" as "test" }), /loadMnist: split/);
  throws("dataset", () => lib.loadMnist({ dataset: "digits" as "mnist" }), /loadMnist: dataset must be/);
});

test("4: trainRBM refuses a Dataset whose images hold fewer than n × nVisible values", async () => {
  const rbm = lib.initRBM(4, 3);
  const ds = { ...toy(10, 4), n: 20 };
  await rejects("trainRBM short images", () => lib.trainRBM(rbm, ds, { ...quiet, batchSize: 5 }), /trainRBM/, /n = 20 but holds 40 values/);
  lib.disposeRBM(rbm);
});

test("7: trainRBM refuses checkEvery 0/−1/NaN, maxWeight NaN, momentumSwitchEpoch NaN, sparsityCost −1/NaN", async () => {
  const rbm = lib.initRBM(4, 3);
  const ds = toy(10, 4);
  const cases: [lib.TrainOptions, RegExp][] = [
    [{ checkEvery: 0 }, /trainRBM: checkEvery must be a positive integer/],
    [{ checkEvery: -1 }, /trainRBM: checkEvery/],
    [{ checkEvery: Number.NaN }, /trainRBM: checkEvery/],
    [{ maxWeight: Number.NaN }, /trainRBM: maxWeight must be a positive number/],
    [{ momentumSwitchEpoch: Number.NaN }, /trainRBM: momentumSwitchEpoch must be an integer ≥ 0/],
    [{ sparsityTarget: 0.1, sparsityCost: -1 }, /trainRBM: sparsityCost must be a number ≥ 0/],
    [{ sparsityTarget: 0.1, sparsityCost: Number.NaN }, /trainRBM: sparsityCost/],
  ];
  for (const [o, p] of cases)
    await rejects(`trainRBM ${JSON.stringify(o)}`, () => lib.trainRBM(rbm, ds, { ...quiet, batchSize: 5, ...o }), p);
  const mlp = lib.randomMLP([4, 3, 10]);
  await rejects(
    "fineTuneMLP checkEvery 0",
    () => lib.fineTuneMLP(mlp, ds, { ...quiet, batchSize: 5, checkEvery: 0 }),
    /fineTuneMLP: checkEvery/,
  );
  await rejects(
    "fineTuneMLP maxWeight NaN",
    () => lib.fineTuneMLP(mlp, ds, { ...quiet, batchSize: 5, maxWeight: Number.NaN }),
    /fineTuneMLP: maxWeight/,
  );
  lib.disposeMLP(mlp);
  const dbn = lib.stackRBMs([lib.initRBM(4, 3), lib.initRBM(3, 2)]);
  await rejects(
    "upDownFineTune checkEvery -1",
    () => lib.upDownFineTune(dbn, ds, { ...quiet, batchSize: 5, checkEvery: -1 }),
    /upDownFineTune: checkEvery/,
  );
  lib.disposeDBN(dbn);
  lib.disposeRBM(rbm);
});

test("8, 9: fineTuneMLP refuses float or negative labels and NaN data, naming them", async () => {
  const mlp = lib.randomMLP([4, 3, 10]);
  const floats = { ...toy(10, 4), labels: [2.5, 1, 2, 3, 4, 5, 6, 7, 8, 9] as unknown as Uint8Array };
  await rejects(
    "fineTuneMLP label 2.5",
    () => lib.fineTuneMLP(mlp, floats, { ...quiet, batchSize: 5 }),
    /fineTuneMLP/,
    /label 2\.5 at row 0/,
  );
  const negative = { ...toy(10, 4), labels: [-1, 1, 2, 3, 4, 5, 6, 7, 8, 9] as unknown as Uint8Array };
  await rejects(
    "fineTuneMLP label -1",
    () => lib.fineTuneMLP(mlp, negative, { ...quiet, batchSize: 5 }),
    /fineTuneMLP/,
    /label -1 at row 0/,
  );
  const nan = toy(10, 4);
  nan.images[5] = Number.NaN;
  await rejects("fineTuneMLP NaN pixel", () => lib.fineTuneMLP(mlp, nan, { ...quiet, batchSize: 5 }), /fineTuneMLP/, /NaN at flat index 5/);
  lib.disposeMLP(mlp);
});

test("5: upDownFineTune validates its data as trainRBM does (NaN pixel, 0..255)", async () => {
  const dbn = lib.stackRBMs([lib.initRBM(4, 3), lib.initRBM(3, 2)]);
  const nan = toy(10, 4);
  nan.images[3] = Number.NaN;
  await rejects(
    "upDownFineTune NaN",
    () => lib.upDownFineTune(dbn, nan, { ...quiet, batchSize: 5 }),
    /upDownFineTune/,
    /NaN at flat index 3/,
  );
  const bytes = toy(10, 4);
  bytes.images[0] = 255;
  await rejects("upDownFineTune 255", () => lib.upDownFineTune(dbn, bytes, { ...quiet, batchSize: 5 }), /upDownFineTune/, /divide by 255/);
  lib.disposeDBN(dbn);
});

test("12: annealedLogZ without a seed says so and leaks nothing", async () => {
  const rbm = lib.randomRBM(4, 3, { seed: 1 });
  await rejects(
    "annealedLogZ no seed",
    () => lib.annealedLogZ(rbm, { runs: 2, progress: false } as unknown as lib.AISOptions),
    /annealedLogZ: seed must be/,
  );
  lib.disposeRBM(rbm);
});

test("13: a TrainResult or a disposed model where an RBM is expected gives a clear error", async () => {
  const rbm = lib.initRBM(4, 3);
  const ds = toy(10, 4);
  const result = await lib.trainRBM(rbm, ds, { ...quiet, batchSize: 5 });
  const notRBM = result as unknown as lib.RBM;
  throws("freeEnergy-free check", () => lib.assertFiniteRBM(notRBM), /not an RBM/, /\.rbm/);
  await rejects("trainRBM(TrainResult)", () => lib.trainRBM(notRBM, ds, quiet), /trainRBM/, /not an RBM/);
  lib.disposeRBM(result.rbm);
  await rejects("trainRBM(disposed)", () => lib.trainRBM(result.rbm, ds, quiet), /trainRBM/, /disposed/);
  throws("reconstructionError(disposed)", () => lib.reconstructionError(result.rbm, ds, { seed: 0 }), /reconstructionError/, /disposed/);
  lib.disposeRBM(rbm);
});

test("1: showImages / showFigure never replace a file that is not their kind of picture", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-badinput-"));
  try {
    const rbm = lib.initRBM(4, 3);
    const ckpt = path.join(dir, "model.safetensors");
    lib.saveCheckpoint(ckpt, { rbm });
    const before = fs.readFileSync(ckpt);
    const images = new Float32Array(8).fill(0.5);
    const fig = lib.lineChart([{ name: "loss", y: [1, 2] }]);
    throws(
      "showImages over a checkpoint",
      () => lib.showImages(images, { height: 2, width: 2, save: ckpt }),
      /showImages/,
      /model\.safetensors/,
      /overwrite: true/,
    );
    throws(
      "showFigure over a checkpoint",
      () => lib.showFigure(fig, { save: ckpt }),
      /showFigure/,
      /model\.safetensors/,
      /overwrite: true/,
    );
    assert.ok(fs.readFileSync(ckpt).equals(before), "the checkpoint is intact");
    // A picture of ours is replaced on a rerun; overwrite: true replaces anything.
    const png = path.join(dir, "grid.png");
    lib.showImages(images, { height: 2, width: 2, save: png });
    lib.showImages(images, { height: 2, width: 2, save: png, zoom: 2 });
    const svg = path.join(dir, "fig.svg");
    lib.showFigure(fig, { save: svg });
    lib.showFigure(fig, { save: svg });
    throws("showImages over an SVG", () => lib.showImages(images, { height: 2, width: 2, save: svg }), /not a PNG picture/);
    lib.showImages(images, { height: 2, width: 2, save: ckpt, overwrite: true });
    assert.ok(!fs.readFileSync(ckpt).equals(before));
    lib.disposeRBM(rbm);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** An errno error as the file system raises it (ENOSPC names the temporary file, not the target). */
function diskFull(tmp: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, write '${tmp}'`);
  e.code = "ENOSPC";
  return e;
}

test("10: a full disk names the target and the fix; pretrainDBN keeps the layer it trained", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-badinput-"));
  try {
    const target = path.join(dir, "t.csv");
    throws(
      "writeFileAtomic ENOSPC",
      () =>
        writeFileAtomic(target, "a,b\n", {
          afterChunk: (tmp) => {
            throw diskFull(tmp);
          },
        }),
      /Cannot write .*t\.csv: the disk holding .* is full: free some space/,
    );
    assert.deepEqual(fs.readdirSync(dir), [], "no temporary file left behind");
    const ds = toy(20, 4);
    ioTestHooks.afterChunk = (tmp) => {
      throw diskFull(tmp);
    };
    let caught: unknown;
    try {
      await noLeakAsync(
        "pretrainDBN on a full disk",
        async () => {
          caught = await lib
            .pretrainDBN([4, 3, 2], ds, { perLayer: { ...quiet, batchSize: 5 }, checkpointDir: path.join(dir, "ck") })
            .catch((e: unknown) => e);
        },
        { returned: 3 },
      );
    } finally {
      ioTestHooks.afterChunk = undefined;
    }
    assert.ok(caught instanceof lib.CheckpointWriteError, `expected a CheckpointWriteError, got ${String(caught)}`);
    assert.match(
      caught.message,
      /pretrainDBN: layer 0 is trained but could not be saved.*pretrain\.safetensors: the disk .* is full.*kept in memory/,
    );
    assert.equal(caught.layers.length, 1);
    assert.deepEqual(caught.layers[0].W.shape, [4, 3]);
    caught.layers.forEach(lib.disposeRBM);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("11: pretrainDBN resumes only layers trained with the same settings, else says what differs", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-badinput-"));
  try {
    const ds = toy(20, 4);
    const checkpointDir = path.join(dir, "ck");
    const o = { perLayer: { ...quiet, batchSize: 5, epochs: 1 }, checkpointDir, seed: 1 };
    const first = await lib.pretrainDBN([4, 3, 2], ds, o);
    lib.disposeDBN(first.dbn);
    const again = await lib.pretrainDBN([4, 3, 2], ds, o);
    assert.deepEqual(again.resumed, [true, true]);
    lib.disposeDBN(again.dbn);
    const other: [Partial<lib.PretrainOptions>, RegExp][] = [
      [{ seed: 2 }, /seed was 1, now 2/],
      [{ init: "xavier" }, /init was "hinton", now "xavier"/],
      [{ perLayer: { ...quiet, batchSize: 5, epochs: 2 } }, /layer 0's epochs was 1, now 2/],
      [{ perLayer: { ...quiet, batchSize: 5, epochs: 1, learningRate: 0.05 } }, /layer 0's learningRate was not set, now 0\.05/],
    ];
    for (const [change, p] of other) {
      await rejects(
        `pretrainDBN resume ${JSON.stringify(change)}`,
        () => lib.pretrainDBN([4, 3, 2], ds, { ...o, ...change }),
        /pretrainDBN: cannot resume/,
        p,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
