/** Display writes the kernel refuses (zeromq "Socket is busy writing") are retried, never thrown. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { displayBundle, displayWriteStats, flushDisplayWrites, type MimeBundle, newDisplay, setDisplaySink } from "../../lib/view/display";

/** A sink that throws while `busy`, recording what got through. */
function flakySink() {
  const sent: { text: string; id: string | undefined; update: boolean }[] = [];
  const state = { busy: false };
  setDisplaySink((bundle: MimeBundle, id, update) => {
    if (state.busy) throw new Error("Socket is busy writing; only one send operation may be in progress at any time");
    sent.push({ text: String(bundle["text/plain"]), id, update });
  });
  return { sent, state };
}

test("a refused write is dropped, counted, and the latest content goes out on the next update", (t) => {
  t.after(() => setDisplaySink(undefined));
  const { sent, state } = flakySink();
  const before = displayWriteStats();
  const bar = newDisplay();
  bar.show({ "text/plain": "0%" });
  state.busy = true;
  assert.doesNotThrow(() => bar.show({ "text/plain": "10%" }));
  assert.doesNotThrow(() => bar.show({ "text/plain": "20%" })); // replaces the waiting 10%
  assert.doesNotThrow(() => displayBundle({ "text/plain": "figure" }));
  const during = displayWriteStats();
  assert.ok(during.failed > before.failed);
  assert.equal(during.pending, 2, "one entry per display id, plus the figure");
  assert.match(during.lastError ?? "", /Socket is busy/);
  state.busy = false;
  bar.show({ "text/plain": "30%" }); // the next update sends the waiting ones first, in order
  assert.deepEqual(
    sent.map((s) => s.text),
    ["0%", "20%", "figure", "30%"],
  );
  assert.deepEqual(
    sent.map((s) => s.update),
    [false, true, false, true],
  );
  const after = displayWriteStats();
  assert.equal(after.pending, 0);
  assert.equal(after.recovered - before.recovered, 2);
});

test("a first write that fails still creates the entry later (as a creation, not an update)", (t) => {
  t.after(() => setDisplaySink(undefined));
  const { sent, state } = flakySink();
  const chart = newDisplay();
  state.busy = true;
  chart.show({ "text/plain": "frame 1" });
  chart.show({ "text/plain": "frame 2" });
  state.busy = false;
  assert.equal(flushDisplayWrites(), true, "the retry timer's flush empties the outbox");
  assert.deepEqual(sent, [{ text: "frame 2", id: sent[0]?.id, update: false }]);
  assert.ok(sent[0].id);
});

test("an output the sink keeps refusing is given up after the retries, and later outputs go on", (t) => {
  t.after(() => setDisplaySink(undefined));
  const { sent, state } = flakySink();
  const lost = displayWriteStats().lost;
  state.busy = true;
  displayBundle({ "text/plain": "never" });
  for (let i = 0; i < 100 && displayWriteStats().pending > 0; i++) flushDisplayWrites();
  assert.equal(displayWriteStats().pending, 0);
  assert.equal(displayWriteStats().lost, lost + 1);
  state.busy = false;
  displayBundle({ "text/plain": "next" });
  assert.deepEqual(
    sent.map((s) => s.text),
    ["next"],
  );
});
