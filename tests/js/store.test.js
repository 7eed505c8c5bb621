// The live drawing's store and the texts it gives the page (dashboard/assets/live-2-store.js).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const St = require("../../dashboard/assets/live-2-store.js");

const rec = (step, extra) => Object.assign({step, t: step / 10, loss: 1 / (1 + step)}, extra || {});

test("records are stored once per step, in order: a batch delivered twice is dropped", () => {
  const S = St.newStore("r");
  assert.equal(St.ingest(S, [rec(0), rec(1), rec(2)]), 3);
  assert.equal(St.ingest(S, [rec(1), rec(2), rec(3)]), 1);  // 1 and 2 again, then 3
  assert.equal(St.ingest(S, [rec(0)]), 0);
  assert.deepEqual(Array.from(S.cols.step.subarray(0, S.n)), [0, 1, 2, 3]);
  assert.equal(S.lastStep, 3);
});

test("columns grow past their capacity; a missing or non-number value is NaN", () => {
  const S = St.newStore("r");
  const many = Array.from({length: 3000}, (_, i) => rec(i, i === 7 ? {loss: null} : {}));
  St.ingest(S, many);
  assert.equal(S.n, 3000);
  assert.ok(S.cap >= 3000);
  assert.ok(Number.isNaN(S.cols.loss[7]));
  assert.equal(S.cols.loss[2999], 1 / 3000);
  assert.equal(St.firstFinite(S, "loss"), 1);
});

test("list-valued views are kept per frame and thinned by 2 beyond MAX_FRAMES", () => {
  const S = St.newStore("r");
  const n = St.MAX_FRAMES + 1;
  St.ingest(S, Array.from({length: n}, (_, i) => rec(i, {position: [i, 0, 0]})));
  assert.equal(S.viewStride, 2);
  assert.equal(S.frameSteps.length, Math.ceil(n / 2));
  assert.deepEqual(S.views.position[1], [2, 0, 0]);
  assert.deepEqual(S.viewDims, {position: [3]});
  assert.equal(St.currentFrame(S), S.frameSteps.length - 1);
  S.seek = 3;
  assert.equal(St.frameLabel(S, 3), "step 6 · t = 0.6");
});

test("a long series opened later is drawn from the API envelope until its records have loaded", () => {
  const S = St.newStore("r");
  St.ingest(S, [rec(0), rec(1)]);
  St.setBase(S, {downsampled: true, total: 200000, step: [0, 512], columns: {loss: {min: [0, 0], max: [1, 1]}}});
  assert.ok(St.usesBase(S));
  const info = St.summary(S);
  assert.equal(info.total, 200000);
  assert.ok(info.loading);
  assert.match(St.liveText(info), /^200,000 records: whole run drawn as a min\/max envelope/);
  St.setBase(St.newStore("short"), {downsampled: false, total: 2, step: [0, 1], columns: {}});
  const short = St.newStore("s");
  St.ingest(short, [rec(0), rec(1)]);
  St.setBase(short, {downsampled: true, total: 2, step: [0], columns: {}});
  assert.ok(!St.usesBase(short));  // the first page held every record
});

test("the toolbar says whether the stream is complete or live", () => {
  assert.equal(St.liveText({n: 1234, done: true, mode: "ws"}), "1,234 records · complete");
  assert.equal(St.liveText({n: 5, done: false, mode: "ws"}), "5 records · live (ws)");
  assert.equal(St.liveText(null), "");
});

test("the lag badge says how many records the drawing is behind the worker", () => {
  const info = {status: "running", step: 21024, spec: {record_every: 2}};
  const [text, level] = St.lagText({drawn_step: 10584, last_step: 21000}, info);
  assert.equal(level, "behind");
  assert.equal(text, "drawing is 5,220 records behind the worker (drawn to step 10,584 of 21,024)");
  assert.equal(St.lagText({drawn_step: 21000}, info)[1], "ok");
  // the newest record received is further than the run record says (polled once a second): it counts
  assert.match(St.lagText({drawn_step: 21000, last_step: 25000}, info)[0], /2,000 records behind .* of 25,000/);
  // nothing drawn yet: every record is behind
  assert.equal(St.lagText({drawn_step: null, last_step: 500}, info)[1], "behind");
  assert.deepEqual(St.lagText({drawn_step: 5}, {status: "succeeded", step: 10}), ["", ""]);
});
