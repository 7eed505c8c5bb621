/* Noether Lab live drawing, part 2 of 5: the store of the run being shown, and the texts it gives the page
   (pure; unit-tested with `node --test tests/js/`).

   One growable Float64Array per scalar column (NaN where a record has no finite value), rows deduplicated by
   step (a batch delivered twice is dropped); list-valued views (position, particles, per-neuron values) kept
   per frame, thinned by 2 beyond MAX_FRAMES. `base`: the API's envelope of the whole series when it was long at
   opening (drawn until the records have loaded), `detail`: the records of a zoomed range fetched meanwhile.
*/
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory(require("./live-1-envelope.js"));
  else { const ns = root.noetherLive = root.noetherLive || {}; ns.store = factory(ns.envelope); }
})(typeof self !== "undefined" ? self : this, function (envelope) {
  "use strict";
  const MAX_FRAMES = 20000;
  const TERMINAL = ["succeeded", "failed", "cancelled", "diverged"];

  function newStore(runId) {
    return {
      runId, id: Math.random(), cursor: null, n: 0, cap: 0, lastStep: -Infinity, cols: {}, envs: {}, first: {},
      views: {}, viewDims: {}, frameSteps: [], frameRows: [], viewStride: 1, done: false, status: null, seek: null,
      stopped: false, ws: null, wsFailures: 0, mode: "catchup", marks: [], reported: "", lastReport: 0, error: null,
      stamped: 0, base: null, detail: null, drawnStep: null,
    };
  }

  function column(S, name) {
    let col = S.cols[name];
    if (!col) { col = S.cols[name] = new Float64Array(S.cap).fill(NaN); }
    return col;
  }

  function grow(S, rows) {
    if (rows <= S.cap) return;
    let cap = Math.max(1024, S.cap);
    while (cap < rows) cap *= 2;
    for (const name in S.cols) {
      const col = new Float64Array(cap).fill(NaN);
      col.set(S.cols[name].subarray(0, S.n));
      S.cols[name] = col;
    }
    S.cap = cap;
  }

  /* Records into the store, in step order, each step once (a duplicate or an older step is dropped).
     Returns the number of rows added; `t` (ms, a monotone clock) paces the live stream for the axes' headroom. */
  function ingest(S, records, t) {
    if (!S || !records || !records.length) return 0;
    grow(S, S.n + records.length);
    let added = 0;
    for (const rec of records) {
      const step = rec.step;
      if (typeof step !== "number" || step <= S.lastStep) continue;  // duplicate or out of order: drop
      const row = S.n;
      let any = false;
      for (const key in rec) {
        const v = rec[key];
        if (Array.isArray(v)) { any = true; continue; }
        column(S, key)[row] = typeof v === "number" ? v : NaN;
      }
      if (any && row % S.viewStride === 0) {
        for (const key in rec) {
          const v = rec[key];
          if (!Array.isArray(v)) continue;
          if (!S.views[key]) { S.views[key] = new Array(S.frameSteps.length).fill(null); }
          S.viewDims[key] = Array.isArray(v[0]) ? [v.length, v[0].length] : [v.length];
        }
        for (const key in S.views) S.views[key].push(Array.isArray(rec[key]) ? rec[key] : null);
        S.frameSteps.push(step); S.frameRows.push(row);
        if (S.frameSteps.length > MAX_FRAMES) thinFrames(S);
      }
      S.lastStep = step; S.n += 1; added += 1;
    }
    if (added && S.mode !== "catchup" && t !== undefined) {  // the pace of the live stream (rows per second)
      const m = S.marks;
      if (!m.length || t - m[m.length - 1][0] >= 250) { m.push([t, S.n]); if (m.length > 12) m.shift(); }
    }
    return added;
  }

  function thinFrames(S) {
    const keep = (arr) => arr.filter((_, i) => i % 2 === 0);
    for (const key in S.views) S.views[key] = keep(S.views[key]);
    S.frameSteps = keep(S.frameSteps); S.frameRows = keep(S.frameRows);
    S.viewStride *= 2;
    if (S.seek !== null) S.seek = Math.floor(S.seek / 2);
  }

  function envelopeOf(S, name) {
    let env = S.envs[name];
    if (!env) env = S.envs[name] = new envelope.Envelope(envelope.BUCKETS);
    env.update(S.cols[name], S.n);
    return env;
  }

  /* The column's first finite value (the drift transform's y(0)); 0 while there is none. */
  function firstFinite(S, name) {
    if (S.first[name] !== undefined) return S.first[name];
    const y = S.cols[name];
    if (!y) return 0;
    for (let i = 0; i < S.n; i++) if (isFinite(y[i])) return (S.first[name] = y[i]);
    return 0;  // none yet: looked for again next time
  }

  /* The API envelope of the whole series, when it is longer than its first page: drawn until the records load. */
  function setBase(S, view) {
    if (view && view.downsampled && view.step && view.step.length && view.total > S.n) S.base = view;
  }

  /* Is the whole history drawn from the API envelope (its records still loading)? */
  function usesBase(S) { return !!(S && S.base && S.n < S.base.total); }

  function streaming(S) { return !!S && !S.done && TERMINAL.indexOf(S.status) < 0; }

  function currentFrame(S) {
    const nf = S ? S.frameSteps.length : 0;
    if (!nf) return -1;
    return S.seek === null ? nf - 1 : Math.max(0, Math.min(nf - 1, S.seek));
  }

  function liveKey(cols, views) {
    return cols.slice().sort().join(",") + "|" + Object.keys(views).sort().join(",");
  }

  /* What the page shows about the stream (Dash's run-live store). */
  function summary(S) {
    const cols = Object.keys(S.cols);
    if (S.base) for (const c of Object.keys(S.base.columns)) if (cols.indexOf(c) < 0) cols.push(c);
    const total = S.base ? Math.max(S.base.total, S.n) : S.n;
    return {
      run: S.runId, n: S.n, total, loading: usesBase(S), last_step: S.lastStep === -Infinity ? null : S.lastStep,
      drawn_step: S.drawnStep, frames: S.frameSteps.length, columns: cols, views: S.viewDims, done: S.done,
      status: S.status, mode: S.mode, error: S.error, key: liveKey(cols, S.viewDims),
    };
  }

  function count(n) { return Number(n || 0).toLocaleString("en-US"); }

  /* The toolbar's line about the stream: records, and how it is drawn. */
  function liveText(live) {
    if (!live) return "";
    if (live.loading) {
      return count(live.total) + " records: whole run drawn as a min/max envelope, records loading (" +
        count(live.n) + " so far)";
    }
    return count(live.n) + " records · " + (live.done ? "complete" : "live (" + live.mode + ")");
  }

  /* How far the drawing is behind the worker, in records: the worker's step (the run record's, polled once a
     second, or the newest record received, whichever is further) against the last step drawn on every chart
     (none yet: every record is behind). [text, level] with level "ok", "behind" or "" (not running). */
  function lagText(live, info) {
    if (!live || !info || info.status !== "running" || typeof info.step !== "number") return ["", ""];
    const every = Math.max(1, ((info.spec || {}).record_every) || 1);
    const worker = Math.max(info.step, typeof live.last_step === "number" ? live.last_step : 0);
    const drawn = typeof live.drawn_step === "number" ? live.drawn_step : -every;
    const behind = Math.max(0, Math.floor((worker - drawn) / every));
    if (behind <= LAG_OK) return ["live: drawing keeps up with the worker (step " + count(drawn < 0 ? 0 : drawn) + ")", "ok"];
    return ["drawing is " + count(behind) + " records behind the worker (drawn to step " + count(Math.max(0, drawn)) +
      " of " + count(worker) + ")", "behind"];
  }
  const LAG_OK = 200;  // records: about a second of a fast run (the run record is polled once a second)

  /* What the replay slider's position shows: the frame's step k and time t. */
  function frameLabel(S, frame) {
    if (!S || !S.frameSteps.length) return "";
    const f = Math.max(0, Math.min(S.frameSteps.length - 1, frame === null || frame === undefined ? S.frameSteps.length - 1 : frame));
    const row = S.frameRows[f], t = S.cols.t ? S.cols.t[row] : NaN;
    return "step " + S.frameSteps[f].toLocaleString("en-US") + (isFinite(t) ? " · t = " + Number(t.toPrecision(4)) : "");
  }

  return {MAX_FRAMES, TERMINAL, LAG_OK, newStore, column, grow, ingest, thinFrames, envelopeOf, firstFinite, setBase,
          usesBase, streaming, currentFrame, liveKey, summary, liveText, lagText, frameLabel};
});
