/** Tests of the training progress bar: text format, throttling (with an injected clock), notebook output. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { type MimeBundle, setDisplaySink } from "../../lib/view/display";
import { formatDuration, formatValue, progressBar, progressLine } from "../../lib/view/progress";

/** A bar drawing into an array, on a clock we move by hand. */
function fake(mode: "tty" | "lines" | "off", total = 1000) {
  const out: string[] = [];
  const clock = { t: 0 };
  const bar = progressBar({ total, label: "CD-1", mode, write: (s) => out.push(s), now: () => clock.t });
  return { out, clock, bar };
}

test("durations and monitor values are formatted compactly", () => {
  assert.deepEqual(
    [formatDuration(0), formatDuration(75.4), formatDuration(3725), formatDuration(NaN)],
    ["00:00", "01:15", "1:02:05", "?"],
  );
  assert.deepEqual(
    [formatValue(3), formatValue(0.0312345), formatValue(123.456), formatValue(2.5e-5), formatValue("PCD")],
    ["3", "0.03123", "123.5", "2.500e-5", "PCD"],
  );
});

test("a line shows percent, bar, count, elapsed<ETA, rate and info", () => {
  const line = progressLine({ count: 450, total: 1000, elapsed: 12, info: { epoch: 3, recon: 0.031234 } }, "CD-1");
  // rate 37.5 it/s, ETA 550/37.5 = 14.67 s
  assert.equal(line, `CD-1  45% |${"█".repeat(9)}${"░".repeat(11)}| 450/1000 [00:12<00:15, 37.5 it/s] epoch=3 recon=0.03123`);
  const start = progressLine({ count: 0, total: 10, elapsed: 0, info: {} }, "", "batch");
  assert.equal(start, `  0% |${"░".repeat(20)}| 0/10 [00:00<?, ? batch/s]`);
});

test("tty mode redraws one \\r line at most every 100 ms, done() always draws and ends the line", () => {
  const { out, clock, bar } = fake("tty");
  for (const t of [0, 50, 99, 100, 150, 199, 250]) {
    clock.t = t;
    bar.tick(10, { t });
  }
  assert.equal(out.length, 3, "draws at t=0, 100, 250");
  assert.ok(out.every((s) => s.startsWith("\r") && s.endsWith("\x1b[K")));
  assert.match(out[1], / 40\/1000 .*t=100/);
  assert.match(out[2], / 70\/1000 .*t=250/);
  clock.t = 260;
  bar.done({ final: 1 });
  bar.done();
  bar.tick();
  assert.equal(out.length, 4, "done draws once; nothing after done");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the line must end with the ANSI clear-to-end-of-line ESC [K
  assert.match(out[3], /^\rCD-1 +7% .* 70\/1000 .*final=1\x1b\[K\n$/);
});

test("lines mode prints whole lines every 2 s; off mode prints nothing", () => {
  const { out, clock, bar } = fake("lines", 100);
  for (let t = 0; t <= 5000; t += 500) {
    clock.t = t;
    bar.tick();
  }
  bar.done();
  assert.equal(out.length, 3 + 1, "t=0, 2000, 4000, then done");
  assert.ok(out.every((s) => s.endsWith("\n") && !s.includes("\r")));
  assert.match(out[3], /CD-1 +11% .* 11\/100 \[00:05</);
  const off = fake("off");
  off.bar.tick(5);
  off.bar.done();
  assert.deepEqual(off.out, []);
});

test("notebook mode updates one HTML output in place", () => {
  const outputs: { bundle: MimeBundle; id?: string; update: boolean }[] = [];
  setDisplaySink((bundle, id, update) => outputs.push({ bundle, id, update }));
  try {
    let t = 0;
    const bar = progressBar({ total: 4, label: "epochs", now: () => t });
    for (let e = 0; e < 4; e++) {
      t = e * 1000;
      bar.tick(1, { recon: 1 / (e + 1) });
    }
    bar.done();
    assert.equal(outputs.length, 5);
    assert.ok(outputs[0].id && outputs.every((o) => o.id === outputs[0].id));
    assert.deepEqual(
      outputs.map((o) => o.update),
      [false, true, true, true, true],
    );
    const html = String(outputs[4].bundle["text/html"]);
    assert.ok(html.includes("width:100.0%") && html.includes("recon=0.25") && html.includes("4/4"));
    // Long monitor lists wrap between values instead of running off the output area.
    assert.ok(html.includes('<span style="white-space:nowrap">recon=0.25</span>') && !html.startsWith('<div style="white-space:nowrap'));
    assert.match(String(outputs[1].bundle["text/plain"]), /epochs +50% .* 2\/4/);
  } finally {
    setDisplaySink(undefined);
  }
});

test("a million ticks cost one clock read each and only the throttled redraws", () => {
  // An injected clock, 1 µs per tick in whole milliseconds: the ticks span t = 0 … 999 ms.
  // (How long the ticks take on this machine is measured by bench/view.ts, not asserted here.)
  const out: string[] = [];
  let t = 0;
  let reads = 0;
  const bar = progressBar({
    total: 1e6,
    mode: "tty",
    write: (s) => out.push(s),
    now: () => {
      reads++;
      return t;
    },
  });
  for (let i = 0; i < 1e6; i++) {
    t = Math.floor(i / 1000);
    bar.tick(1);
  }
  assert.equal(out.length, 10, "redraws at t = 0, 100, …, 900 ms and never in between");
  assert.match(out[9], / 900001\/1000000 /);
  assert.equal(reads, 1 + 1e6 + out.length, "one clock read at the start, one per tick, one per redraw");
});
