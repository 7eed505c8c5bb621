// The min/max envelopes of the live drawing (dashboard/assets/live-1-envelope.js): `node --test tests/js/`.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const E = require("../../dashboard/assets/live-1-envelope.js");

function series(n) {
  const x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) { x[i] = 5 * i; y[i] = Math.sin(i / 700) + 1e-3 * ((i * 7919) % 13); }
  return {x, y};
}

test("fed in uneven chunks, each bucket holds exactly the min and max rows of its span", () => {
  const n = 100000, {x, y} = series(n);
  y[54321] = 1e6; y[77777] = -5;
  for (let i = 30000; i < 30100; i++) y[i] = NaN;
  const env = new E.Envelope(256);
  let fed = 0, chunk = 1;
  while (fed < n) { fed = Math.min(n, fed + chunk); env.update(y, fed); chunk = (chunk * 3) % 997 + 1; }
  assert.ok(env.nb >= 256 && env.nb < 512);
  for (let k = 0; k < env.nb; k++) {
    const [lo, hi] = E.extremes(y, k * env.w, (k + 1) * env.w);
    assert.equal(y[env.lo[k]], y[lo], `bucket ${k} min`);
    assert.equal(y[env.hi[k]], y[hi], `bucket ${k} max`);
  }
  const xs = [], ys = [];
  E.emitEnvelope(x, y, env, n, 0, xs, ys);
  const finite = ys.filter((v) => v !== null);
  assert.ok(xs.length <= 2 * env.nb + env.w);
  assert.equal(Math.max(...finite), 1e6);  // a one-record spike stays visible
  assert.equal(Math.min(...finite), -5);
  assert.ok(xs.includes(5 * 54321));
  assert.ok(xs.every((v, i) => i === 0 || v >= xs[i - 1]));
  assert.equal(xs[xs.length - 1], 5 * (n - 1));  // the newest record is drawn as it is
  assert.ok(!ys.includes(null));  // a 100-record NaN stretch inside a bucket is not a gap
});

test("a bucket with no finite value is a gap; the drift offset is subtracted", () => {
  const x = Float64Array.from({length: 8}, (_, i) => i), y = Float64Array.from([1, 2, NaN, NaN, 5, Infinity, 3, 4]);
  const xs = [], ys = [];
  E.emitRange(x, y, 0, 8, 4, 1, xs, ys);  // 8 rows <= 2 * 4 buckets: every row
  assert.deepEqual(ys, [0, 1, null, null, 4, null, 2, 3]);
  const xs2 = [], ys2 = [];
  const long = Float64Array.from({length: 40}, (_, i) => (i >= 10 && i < 20 ? NaN : i));
  E.emitRange(Float64Array.from({length: 40}, (_, i) => i), long, 0, 40, 4, 0, xs2, ys2);
  assert.deepEqual(ys2, [0, 9, null, 20, 29, 30, 39]);
  assert.deepEqual(xs2, [0, 9, 10, 20, 29, 30, 39]);
});

test("lowerBound finds the first row at or after a value", () => {
  const x = Float64Array.from([0, 10, 10, 20, 30]);
  assert.equal(E.lowerBound(x, 5, -1), 0);
  assert.equal(E.lowerBound(x, 5, 10), 1);
  assert.equal(E.lowerBound(x, 5, 11), 3);
  assert.equal(E.lowerBound(x, 5, 31), 5);
});

// The API's envelope (GET /api/runs/{id}/series?points=N; workers/envelopes.py), 3 buckets of 4 records.
const BASE = {downsampled: true, total: 11, bucket_records: 4, step: [0, 40, 80],
  columns: {loss: {min: [0.5, 0.2, null], max: [1.0, 0.2, null], mean: [0.7, 0.2, null]},
            t: {min: [0, 0.4, 0.8], max: [0.3, 0.7, 1.0], mean: [0.15, 0.55, 0.9]}}};

test("an API envelope is drawn as one stroke from min to max per bucket, a gap where a bucket has none", () => {
  const xs = [], ys = [];
  E.emitBuckets(BASE, "step", "loss", 0, xs, ys);
  assert.deepEqual(xs, [0, 0, 40, 80]);
  assert.deepEqual(ys, [0.5, 1.0, 0.2, null]);
  const xt = [], yt = [];
  E.emitBuckets(BASE, "t", "loss", 0.5, xt, yt);  // against t: each bucket at its first time; drift from 0.5
  assert.deepEqual(xt, [0, 0, 0.4, 0.8]);
  assert.deepEqual(yt.map((v) => (v === null ? v : Math.round(v * 10) / 10)), [0, 0.5, -0.3, null]);
});

test("a zoomed range maps to the records of the buckets it touches", () => {
  assert.deepEqual(E.recordRange(BASE, "step", 45, 60), [4, 8]);
  assert.deepEqual(E.recordRange(BASE, "step", 10, 90), [0, 11]);  // the last bucket ends with the series
  assert.deepEqual(E.recordRange(BASE, "t", 0.45, 0.9), [4, 11]);
});

test("without stored levels (records bucketed exactly), bucket k starts at round(k N / B)", () => {
  const exact = {downsampled: true, total: 10, step: [0, 3, 7], columns: {}};  // edges 0, 3, 7, 10
  assert.deepEqual(E.recordRange(exact, "step", 4, 5), [3, 7]);
  assert.deepEqual(E.recordRange(exact, "step", 8, 100), [7, 10]);
});

test("the series' last record ends an API envelope's curve, so the x axis reaches the run's last step", () => {
  const base = Object.assign({}, BASE, {last: {step: 100, t: 1.0, loss: 0.1}});
  const xs = [], ys = [];
  E.emitBuckets(base, "step", "loss", 0, xs, ys);
  assert.deepEqual(xs, [0, 0, 40, 80, 100]);
  assert.deepEqual(ys, [0.5, 1.0, 0.2, null, 0.1]);
  const xt = [], yt = [];
  E.emitBuckets(base, "t", "loss", 0, xt, yt);
  assert.equal(xt[xt.length - 1], 1.0);
});
