/* Noether Lab live drawing, part 1 of 5: min/max envelopes (pure; unit-tested with `node --test tests/js/`).

   A curve never holds more than about 1500 points: beyond RAW_MAX records the history is a min/max envelope
   (each bucket's extremes, so a one-record spike stays visible). Two sources:
   - the store's own rows, kept incrementally (Envelope: 256-511 buckets of 2^k rows, O(1) per record);
   - the API's stored envelope levels (GET /api/runs/{id}/series?points=N, workers/envelopes.py): a finished
     run of any length is drawn whole from them at once (emitBuckets), before its records have loaded.
   Loaded by Dash in file-name order (live-1 ... live-5) into window.noetherLive.envelope; in Node, require()d.
*/
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else (root.noetherLive = root.noetherLive || {}).envelope = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  const BUCKETS = 256;

  function isFiniteNumber(v) { return typeof v === "number" && v === v && v !== Infinity && v !== -Infinity; }

  /* Incremental min/max envelope of a column: complete buckets of w = 2^k consecutive rows, each
     remembered by the rows of its minimum and maximum (-1: no finite value). When 2 * buckets are
     complete, neighbours merge (w doubles), so there are always between `buckets` and 2 * buckets. */
  function Envelope(buckets) {
    this.buckets = buckets || BUCKETS; this.w = 1; this.nb = 0;
    this.lo = new Int32Array(2 * this.buckets); this.hi = new Int32Array(2 * this.buckets);
  }
  Envelope.prototype.update = function (y, n) {
    while ((this.nb + 1) * this.w <= n) {
      const a = this.nb * this.w, b = a + this.w;
      const [iMin, iMax] = extremes(y, a, b);
      this.lo[this.nb] = iMin; this.hi[this.nb] = iMax; this.nb += 1;
      if (this.nb === 2 * this.buckets) this.halve(y);
    }
  };
  Envelope.prototype.halve = function (y) {
    const lo = this.lo, hi = this.hi;
    for (let k = 0; k < this.buckets; k++) {
      const a = lo[2 * k], b = lo[2 * k + 1], c = hi[2 * k], d = hi[2 * k + 1];
      lo[k] = a < 0 ? b : b < 0 ? a : (y[b] < y[a] ? b : a);
      hi[k] = c < 0 ? d : d < 0 ? c : (y[d] > y[c] ? d : c);
    }
    this.nb = this.buckets; this.w *= 2;
  };

  /* Append to xs/ys the curve of rows [0, n): each complete bucket's extremes in row order, then the
     rows after the last complete bucket as they are; y - off, NaN as null (a gap). */
  function emitEnvelope(x, y, env, n, off, xs, ys) {
    const lo = env.lo, hi = env.hi, w = env.w;
    for (let k = 0; k < env.nb; k++) emitPair(x, y, lo[k], hi[k], k * w, off, xs, ys);
    emitRaw(x, y, env.nb * w, n, off, xs, ys);
  }

  /* Rows [a, b)'s lowest and highest finite values, as row indices [iMin, iMax] (-1: none finite). */
  function extremes(y, a, b) {
    let iMin = -1, iMax = -1;
    for (let i = a; i < b; i++) {
      const v = y[i];
      if (!isFiniteNumber(v)) continue;
      if (iMin < 0 || v < y[iMin]) iMin = i;
      if (iMax < 0 || v > y[iMax]) iMax = i;
    }
    return [iMin, iMax];
  }

  /* One bucket's extremes in row order, y - off; a gap at x[gap] when it has no finite value. */
  function emitPair(x, y, iMin, iMax, gap, off, xs, ys) {
    if (iMin < 0) { xs.push(x[gap]); ys.push(null); return; }
    const i = Math.min(iMin, iMax), j = Math.max(iMin, iMax);
    xs.push(x[i]); ys.push(y[i] - off);
    if (j !== i) { xs.push(x[j]); ys.push(y[j] - off); }
  }

  /* Rows [a, b) as they are, y - off, non-finite values as null (a gap). */
  function emitRaw(x, y, a, b, off, xs, ys) {
    for (let i = a; i < b; i++) {
      const v = y[i];
      xs.push(x[i]); ys.push(isFiniteNumber(v) ? v - off : null);
    }
  }

  /* One-off envelope of rows [a, b) in `buckets` buckets (a zoomed-in range): O(b - a). */
  function emitRange(x, y, a, b, buckets, off, xs, ys) {
    const n = b - a;
    if (n <= 2 * buckets) { emitRaw(x, y, a, b, off, xs, ys); return; }
    for (let k = 0; k < buckets; k++) {
      const lo = a + Math.floor(k * n / buckets), hi = a + Math.floor((k + 1) * n / buckets);
      const [iMin, iMax] = extremes(y, lo, hi);
      emitPair(x, y, iMin, iMax, lo, off, xs, ys);
    }
  }

  /* First row whose x >= v (x non-decreasing over rows [0, n)). */
  function lowerBound(x, n, v) {
    let a = 0, b = n;
    while (a < b) { const m = (a + b) >> 1; if (x[m] < v) a = m + 1; else b = m; }
    return a;
  }

  /* The x of each bucket of an API envelope: its first step, or (x = "t", any other monotone column)
     the smallest value of that column in the bucket. */
  function bucketX(base, xName) {
    if (xName === "step" || !base.columns[xName]) return base.step;
    return base.columns[xName].min;
  }

  /* Append to xs/ys the API envelope `base` ({step, columns: {name: {min, max}}, last}) of column yName against
     xName: each bucket as a vertical stroke from its minimum to its maximum (y - off) at its first x, then the
     last record; a bucket without a finite value is a gap. The line covers every value of the series. */
  function emitBuckets(base, xName, yName, off, xs, ys) {
    const col = base.columns[yName], x = bucketX(base, xName);
    if (!col || !x) return;
    for (let k = 0; k < x.length; k++) {
      const lo = col.min[k], hi = col.max[k];
      if (!isFiniteNumber(lo) || !isFiniteNumber(hi) || !isFiniteNumber(x[k])) { xs.push(x[k]); ys.push(null); continue; }
      xs.push(x[k]); ys.push(lo - off);
      if (hi !== lo) { xs.push(x[k]); ys.push(hi - off); }
    }
    // the series' last record (base.last, when known) ends the curve: the x axis reaches the run's last step
    const last = base.last, lx = last && (xName === "step" ? last.step : last[xName]), ly = last && last[yName];
    if (last && isFiniteNumber(lx) && lx > xs[xs.length - 1]) { xs.push(lx); ys.push(isFiniteNumber(ly) ? ly - off : null); }
  }

  /* The records [first, end) that hold x in [x0, x1] by the API envelope's buckets: what to fetch to draw a
     zoomed range record by record. Bucket k holds records [k w, (k + 1) w) with w = bucket_records (stored
     levels), else [round(k N / B), round((k + 1) N / B)) (N records bucketed exactly into B). */
  function recordRange(base, xName, x0, x1) {
    const x = bucketX(base, xName), nb = Math.max(1, x.length), w = base.bucket_records;
    const start = (k) => (w ? k * w : Math.round(k * base.total / nb));
    let k0 = 0, k1 = x.length - 1;
    while (k0 + 1 < x.length && x[k0 + 1] <= x0) k0 += 1;
    while (k1 > 0 && x[k1] > x1) k1 -= 1;
    const first = Math.max(0, start(k0)), end = Math.min(base.total, start(Math.max(k0, k1) + 1));
    return [first, Math.max(first, end)];
  }

  return {BUCKETS, Envelope, extremes, emitEnvelope, emitPair, emitRaw, emitRange, lowerBound, emitBuckets,
          recordRange, isFiniteNumber};
});
