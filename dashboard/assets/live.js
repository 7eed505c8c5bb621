/* Noether Lab live loop: streams a run's records into the run page's charts.

   Transport: catch up with GET /api/runs/{id}/series?after=cursor (pages of 5000), then follow with
   the WebSocket /api/runs/{id}/stream?after=cursor (reconnects and resumes from the last cursor);
   after repeated WebSocket failures it polls the series endpoint every 150 ms instead.
   Records land in one column store, deduplicated by step (a batch delivered twice is dropped).
   Drawing is batched: at most one flush every 100 ms, so one point per message cannot freeze the page.
   Each trace says what it shows in meta.live (see dashboard/figures.py). Line traces grow with
   Plotly.extendTraces; beyond MAX_POINTS points they are redrawn as min/max envelopes (once a second)
   and the chart says so. 3D views, heatmaps and histograms are redrawn at most twice a second.
   Telemetry for the benchmark: window.__noetherDraws [{first, last, t}] (t in epoch ms).
*/
(function () {
  "use strict";
  const MAX_POINTS = 2000, ENVELOPE_BUCKETS = 500, MAX_GAP_MS = 1000, MAX_FRAMES = 20000, TRAIL = 5000, HEAT_ROWS = 300;
  const FLUSH_MS = 100, SLOW_MS = 500, SLOW3D_MS = 2000, ENVELOPE_MS = 5000, POLL_MS = 150, PAGE = 5000;

  let S = null;          // the store of the run being shown
  window.__noetherDraws = [];

  function now() { return performance.timeOrigin + performance.now(); }
  function finite(v) { return typeof v === "number" && isFinite(v); }

  function newStore(runId) {
    return {
      runId, cursor: null, n: 0, lastStep: -Infinity, cols: {}, views: {}, viewDims: {}, frameSteps: [],
      frameRows: [], viewStride: 1, lastFlushMs: 0, done: false, status: null, seek: null, stopped: false, ws: null,
      wsFailures: 0, mode: "catchup", flushTimer: null, lastFlush: 0, lastSlow: 0, pendingFirst: null,
      pendingLast: null, reported: "", lastReport: 0, gds: new Map(), error: null,
    };
  }

  // ------------------------------------------------------------------ store
  function ingest(records) {
    if (!S || !records || !records.length) return 0;
    let added = 0;
    for (const rec of records) {
      const step = rec.step;
      if (typeof step !== "number" || step <= S.lastStep) continue;  // duplicate or out of order: drop
      const row = S.n;
      for (const key in rec) {
        const v = rec[key];
        if (Array.isArray(v)) continue;
        let col = S.cols[key];
        if (!col) { col = S.cols[key] = new Array(row).fill(null); }
        col.push(v === undefined ? null : v);
      }
      for (const key in S.cols) { if (S.cols[key].length === row) S.cols[key].push(null); }
      if (row % S.viewStride === 0) {
        let any = false;
        for (const key in rec) {
          const v = rec[key];
          if (!Array.isArray(v)) continue;
          any = true;
          if (!S.views[key]) { S.views[key] = new Array(S.frameSteps.length).fill(null); }
          S.viewDims[key] = Array.isArray(v[0]) ? [v.length, v[0].length] : [v.length];
        }
        if (any) {
          for (const key in S.views) S.views[key].push(Array.isArray(rec[key]) ? rec[key] : null);
          S.frameSteps.push(step); S.frameRows.push(row);
          if (S.frameSteps.length > MAX_FRAMES) thinFrames();
        }
      }
      S.lastStep = step; S.n += 1; added += 1;
      if (S.pendingFirst === null) S.pendingFirst = step;
      S.pendingLast = step;
    }
    if (added) scheduleFlush();
    return added;
  }

  function thinFrames() {
    const keep = (arr) => arr.filter((_, i) => i % 2 === 0);
    for (const key in S.views) S.views[key] = keep(S.views[key]);
    S.frameSteps = keep(S.frameSteps); S.frameRows = keep(S.frameRows);
    S.viewStride *= 2;
  }

  // ------------------------------------------------------------------ transport
  async function fetchJSON(url) {
    const r = await fetch(url, {cache: "no-store"});
    if (!r.ok) { const t = await r.text(); throw new Error(r.status + " " + t.slice(0, 200)); }
    return r.json();
  }

  function seriesUrl(after, limit) {
    const q = new URLSearchParams();
    if (after !== null && after !== undefined) q.set("after", after);
    if (limit) q.set("limit", limit);
    return "/api/runs/" + encodeURIComponent(S.runId) + "/series?" + q.toString();
  }

  async function catchUp(store) {
    for (;;) {
      if (store !== S || store.stopped) return;
      const page = await fetchJSON(seriesUrl(store.cursor, PAGE));
      if (store !== S) return;
      ingest(page.records || []);
      if (page.cursor !== undefined && page.cursor !== null) store.cursor = page.cursor;
      store.status = page.status || store.status;
      if (page.done) { store.done = true; return; }
      if (!page.records || page.records.length < PAGE) return;
    }
  }

  function follow(store) {
    if (store !== S || store.stopped || store.done) return;
    if (store.mode === "poll" || !("WebSocket" in window)) { poll(store); return; }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = store.cursor !== null ? "?after=" + encodeURIComponent(store.cursor) : "";
    let ws;
    try { ws = new WebSocket(proto + "//" + location.host + "/api/runs/" + encodeURIComponent(store.runId) + "/stream" + q); }
    catch (e) { store.wsFailures += 1; return retry(store); }
    store.ws = ws; store.mode = "ws"; report(true);
    let got = false;
    ws.onmessage = (ev) => {
      if (store !== S) { ws.close(); return; }
      got = true; store.wsFailures = 0;
      let msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.reset) { start(store.runId); return; }  // the run restarted after its worker was lost
      if (msg.error) { store.error = msg.error; }
      if (msg.records) ingest(msg.records);
      if (msg.cursor !== undefined && msg.cursor !== null) store.cursor = msg.cursor;
      if (msg.done) { store.done = true; store.status = msg.status || store.status; scheduleFlush(); report(true); ws.close(); }
    };
    ws.onclose = () => {
      store.ws = null;
      if (store !== S || store.stopped || store.done) return;
      if (!got) store.wsFailures += 1;
      retry(store);
    };
    ws.onerror = () => {};
  }

  function retry(store) {
    if (store.wsFailures >= 3) store.mode = "poll";
    const wait = Math.min(5000, 250 * Math.pow(2, store.wsFailures));
    setTimeout(() => follow(store), store.mode === "poll" ? 0 : wait);
  }

  async function poll(store) {
    while (store === S && !store.stopped && !store.done) {
      try {
        const page = await fetchJSON(seriesUrl(store.cursor, PAGE));
        if (store !== S) return;
        ingest(page.records || []);
        if (page.cursor !== undefined && page.cursor !== null) store.cursor = page.cursor;
        store.status = page.status || store.status;
        if (page.done) { store.done = true; scheduleFlush(); report(true); return; }
        if (page.records && page.records.length >= PAGE) continue;
      } catch (e) { store.error = String(e); }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async function start(runId) {
    stop();
    const store = S = newStore(runId);
    try { await catchUp(store); }
    catch (e) { store.error = String(e); }
    scheduleFlush(); report(true);
    if (store === S && !store.done) follow(store);
  }

  function stop() {
    if (!S) return;
    S.stopped = true;
    if (S.ws) { try { S.ws.close(); } catch (e) { /* closed */ } }
    if (S.flushTimer) clearTimeout(S.flushTimer);
    S = null;
  }

  // ------------------------------------------------------------------ drawing
  function scheduleFlush() {
    if (!S || S.flushTimer) return;
    // adaptive: never spend more than about half the time drawing (a slow machine draws less often)
    const gap = Math.min(MAX_GAP_MS, Math.max(FLUSH_MS, 2 * S.lastFlushMs));
    const wait = Math.max(0, gap - (now() - S.lastFlush));
    S.flushTimer = setTimeout(() => { if (S) { S.flushTimer = null; flush(); } }, wait);
  }

  function graphs() {
    const root = document.getElementById("run-graphs");
    return root ? Array.from(root.querySelectorAll(".js-plotly-plot")) : [];
  }

  // Which charts are on screen, kept by an IntersectionObserver (asking the layout every flush is costly).
  const visible = new WeakMap();
  const observed = new WeakSet();
  const io = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    let newly = false;
    for (const e of entries) {
      if (e.isIntersecting && !visible.get(e.target)) newly = true;
      visible.set(e.target, e.isIntersecting);
    }
    if (newly && S) { S.seekDirty = true; scheduleFlush(); }  // scrolled into view: catch up now
  }, {rootMargin: "100px"}) : null;
  function onScreen(gd) {
    if (!io) return true;
    if (!observed.has(gd)) { observed.add(gd); io.observe(gd); return true; }
    return visible.get(gd) !== false;
  }

  function xCol(name) { return S.cols[name] || S.cols.step || []; }

  function yCol(meta) {
    const y = S.cols[meta.y] || [];
    if (meta.transform !== "drift") return y;
    let y0 = null;
    for (const v of y) { if (finite(v)) { y0 = v; break; } }
    return y.map((v) => (finite(v) && y0 !== null ? v - y0 : null));
  }

  function envelope(x, y, buckets) {
    const n = x.length;
    if (n <= 2 * buckets) return [x.slice(), y.slice()];
    const xs = [], ys = [];
    for (let b = 0; b < buckets; b++) {
      const lo = Math.floor(b * n / buckets), hi = Math.floor((b + 1) * n / buckets);
      let iMin = -1, iMax = -1;
      for (let i = lo; i < hi; i++) {
        const v = y[i];
        if (!finite(v)) continue;
        if (iMin < 0 || v < y[iMin]) iMin = i;
        if (iMax < 0 || v > y[iMax]) iMax = i;
      }
      if (iMin < 0) { xs.push(x[lo]); ys.push(null); continue; }
      const a = Math.min(iMin, iMax), c = Math.max(iMin, iMax);
      xs.push(x[a]); ys.push(y[a]);
      if (c !== a) { xs.push(x[c]); ys.push(y[c]); }
    }
    return [xs, ys];
  }

  function stride(n, limit) {
    if (n <= limit) return Array.from({length: n}, (_, i) => i);
    const out = new Set();
    for (let i = 0; i < limit; i++) out.add(Math.round(i * (n - 1) / (limit - 1)));
    return Array.from(out).sort((a, b) => a - b);
  }

  function currentFrame() {
    const nf = S.frameSteps.length;
    if (!nf) return -1;
    return S.seek === null ? nf - 1 : Math.max(0, Math.min(nf - 1, S.seek));
  }

  function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
  function norm(v) { return Math.sqrt(v.reduce((s, c) => s + c * c, 0)); }

  function jAt(f) {
    const vec = S.views["angular_momentum:vector"];
    if (vec && vec[f] && vec[f].length === 3) return vec[f];
    const p = (S.views.position || [])[f], v = (S.views.velocity || [])[f];
    if (p && v && p.length === 3 && v.length === 3) return cross(p, v);
    return null;
  }

  function slowUpdate(gd, i, meta, f) {
    const live = meta.live;
    if (f < 0) return null;
    if (live === "path3d") {
      const pos = S.views[meta.col] || [];
      const idx = stride(f + 1, TRAIL).filter((k) => pos[k]);
      return {x: [idx.map((k) => pos[k][0])], y: [idx.map((k) => pos[k][1])], z: [idx.map((k) => pos[k][2])]};
    }
    if (live === "head3d") {
      const p = (S.views[meta.col] || [])[f];
      return p ? {x: [[p[0]]], y: [[p[1]]], z: [[p[2]]]} : null;
    }
    if (live === "particles") {
      const ps = (S.views[meta.col] || [])[f];
      return ps ? {x: [ps.map((p) => p[0])], y: [ps.map((p) => p[1])], z: [ps.map((p) => p[2])]} : null;
    }
    if (live === "jvec" || live === "plane") {
      const j = jAt(f);
      if (!j || !(norm(j) > 0)) return {x: [[]], y: [[]], z: [[]]};
      const n = j.map((c) => c / norm(j)), s = meta.scale || 1;
      if (live === "jvec") return {x: [[0, n[0] * s]], y: [[0, n[1] * s]], z: [[0, n[2] * s]]};
      const helper = Math.abs(n[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
      let u = cross(n, helper); u = u.map((c) => c / norm(u));
      const v = cross(n, u), corners = [[-s, -s], [-s, s], [s, s], [s, -s], [-s, -s]];
      const P = (k) => corners.map(([a, b]) => a * u[k] + b * v[k]);
      return {x: [P(0)], y: [P(1)], z: [P(2)]};
    }
    if (live === "heatmap") {
      const rows = S.views[meta.col] || [];
      const idx = stride(f + 1, HEAT_ROWS).filter((k) => rows[k]);
      const first = rows.find((r) => r);
      const z = idx.map((k) => (meta.transform === "drift" && first ? rows[k].map((v, j) => v - first[j]) : rows[k]));
      return {z: [z], y: [idx.map((k) => S.frameSteps[k])]};
    }
    if (live === "hist") {
      const vals = (S.views[meta.col] || [])[f];
      return vals ? {x: [vals]} : null;
    }
    if (live === "matrix") {
      const m = (S.views[meta.col] || [])[f];
      return m ? {z: [m]} : null;
    }
    return null;
  }

  function setNote(gd, text) {
    const anns = ((gd.layout && gd.layout.annotations) || []).filter((a) => a.name !== "downsampled");
    if (text) anns.push({text, name: "downsampled", xref: "paper", yref: "paper", x: 1, y: 1, showarrow: false,
      xanchor: "right", yanchor: "bottom", font: {size: 10, color: "#666"}});
    return Plotly.relayout(gd, {annotations: anns});
  }

  async function flush() {
    if (!S || !window.Plotly) return;
    const t0 = now();
    S.lastFlush = t0;
    const first = S.pendingFirst, last = S.pendingLast;
    S.pendingFirst = S.pendingLast = null;
    const seekNow = !!S.seekDirty;
    const doSlow = t0 - S.lastSlow >= SLOW_MS || S.done || seekNow;
    S.seekDirty = false;
    if (doSlow) S.lastSlow = t0;
    const f = currentFrame();
    const jobs = [];
    for (const gd of graphs()) {
      if (!gd.data || !onScreen(gd)) continue;  // off-screen charts catch up when scrolled into view
      let st = S.gds.get(gd);
      if (!st || st.data !== gd.data) {
        st = {drawn: new Map(), len: new Map(), env: new Map(), slow3d: 0, enveloped: false, data: gd.data};
        S.gds.set(gd, st);
      }
      const ext = {x: [], y: [], idx: []};
      const full = {x: [], y: [], idx: []};
      const slow = {};
      const is3d = !!(gd._fullLayout && gd._fullLayout.scene);
      const n = S.n;
      let enveloped = false;
      gd.data.forEach((tr, i) => {
        const meta = tr.meta;
        if (!meta || !meta.live) return;
        if (meta.live === "line") {
          if (!S.cols[meta.y]) return;
          const trLen = tr.x ? tr.x.length : 0;
          let drawn = st.drawn.get(i) || 0;
          const len = st.len.get(i) || 0;
          const redrawn = len !== trLen;  // Dash drew the figure again: start over from the store
          if (redrawn) drawn = 0;
          const long = n > MAX_POINTS;
          // Long series: the history as a min/max envelope, new points appended raw until the trace
          // holds 1.5x the envelope's size or ENVELOPE_MS passed; then the envelope is rebuilt.
          const rebuild = redrawn && drawn === 0 && trLen > 0 || long && (drawn === 0 ||
            trLen + (n - drawn) > 3 * ENVELOPE_BUCKETS || t0 - (st.env.get(i) || 0) >= ENVELOPE_MS);
          if (rebuild) {
            const x = xCol(meta.x), y = yCol(meta);
            const [ex, ey] = long ? envelope(x, y, ENVELOPE_BUCKETS) : [x.slice(), y.slice()];
            full.x.push(ex); full.y.push(ey); full.idx.push(i);
            st.len.set(i, ex.length); st.env.set(i, t0);
            enveloped = enveloped || long;
          } else if (n > drawn) {
            const x = xCol(meta.x), y = yCol(meta);
            ext.x.push(x.slice(drawn, n)); ext.y.push(y.slice(drawn, n)); ext.idx.push(i);
            st.len.set(i, trLen + (n - drawn));
          }
          if (long) enveloped = enveloped || st.enveloped;
          st.drawn.set(i, n);
        } else if (doSlow && (st.slowN !== n || st.slowF !== f) &&
                   (!is3d || t0 - st.slow3d >= (window.NOETHER_3D_MS || SLOW3D_MS) || S.done || seekNow)) {
          const upd = slowUpdate(gd, i, meta, f);
          if (!upd) return;
          const sig = Object.keys(upd).sort().join(",");
          if (!slow[sig]) slow[sig] = {upd: {}, idx: []};
          for (const k in upd) (slow[sig].upd[k] = slow[sig].upd[k] || []).push(upd[k][0]);
          slow[sig].idx.push(i);
        }
      });
      // one call per kind of update: a chart (a 3D scene above all) redraws once, not once per trace
      for (const sig in slow) { jobs.push(Plotly.restyle(gd, slow[sig].upd, slow[sig].idx)); if (is3d) st.slow3d = t0; }
      if (Object.keys(slow).length) { st.slowN = n; st.slowF = f; }
      if (full.idx.length) jobs.push(Plotly.restyle(gd, {x: full.x, y: full.y}, full.idx));
      if (ext.idx.length) jobs.push(Plotly.extendTraces(gd, {x: ext.x, y: ext.y}, ext.idx));
      if (enveloped && !st.enveloped) {
        st.enveloped = true;
        jobs.push(setNote(gd, "long series: history drawn as min/max envelope"));
      }
    }
    try { await Promise.all(jobs); } catch (e) { S && (S.error = String(e)); }
    if (S) S.lastFlushMs = now() - t0;
    if (first !== null) {
      const draws = window.__noetherDraws;
      draws.push({first, last, t: now(), ms: now() - t0});
      if (draws.length > 20000) draws.splice(0, draws.length - 10000);
    }
    report(false);
  }

  // ------------------------------------------------------------------ Dash bridge
  function summary() {
    const cols = Object.keys(S.cols);
    return {
      run: S.runId, n: S.n, last_step: S.lastStep === -Infinity ? null : S.lastStep, frames: S.frameSteps.length,
      columns: cols, views: S.viewDims, done: S.done, status: S.status, mode: S.mode, error: S.error,
    };
  }

  function report(force) {
    if (!S || !window.dash_clientside || !window.dash_clientside.set_props) return;
    const info = summary();
    const key = [info.columns.join(","), Object.keys(info.views).join(","), info.done, info.status, info.mode].join("|");
    const t = now();
    if (!force && key === S.reported && t - S.lastReport < 1000) return;
    S.reported = key; S.lastReport = t;
    if (!document.getElementById("run-page")) return;
    try { window.dash_clientside.set_props("run-live", {data: info}); } catch (e) { /* page left */ }
  }

  // Live charts: Python lays out <div class="live-plot" data-figure="{...}">; this loop plots and owns them.
  const CONFIG = {displaylogo: false, responsive: true, toImageButtonOptions: {format: "png", scale: 2}};
  function mountPlots() {
    // one chart per tick, visible ones first: mounting them all at once (a 3D scene above all) would be
    // one long task that freezes the page for seconds on a machine without a GPU
    if (!window.Plotly) return;
    const pending = Array.from(document.querySelectorAll(".live-plot"))
      .filter((div) => div.getAttribute("data-figure") && div.__spec !== div.getAttribute("data-figure"));
    if (!pending.length) return;
    const div = pending.find((d) => { const r = d.getBoundingClientRect(); return r.top < window.innerHeight && r.bottom > 0; })
      || pending[0];
    const spec = div.getAttribute("data-figure");
    div.__spec = spec;
    let fig;
    try { fig = JSON.parse(spec); } catch (e) { return; }
    Plotly.react(div, fig.data || [], fig.layout || {}, CONFIG).then(() => {
      if (S) { S.gds.delete(div); S.seekDirty = true; scheduleFlush(); }
    });
  }

  // Watch the page: start streaming when a run page appears, stop when it goes.
  function watch() {
    mountPlots();
    const el = document.getElementById("run-page");
    const runId = el ? el.getAttribute("data-run") : null;
    if (runId && (!S || S.runId !== runId)) start(runId);
    else if (!runId && S) stop();
    else if (S && graphs().some((gd) => gd.data && onScreen(gd) && (!S.gds.get(gd) || S.gds.get(gd).data !== gd.data))) {
      S.seekDirty = true; scheduleFlush();  // new or re-rendered charts: fill them from the store
    }
  }
  setInterval(watch, 200);

  function download(format) {
    const jobs = graphs().map((gd, k) => Plotly.downloadImage(gd, {
      format, filename: (S ? S.runId : "run") + "-" + (gd.parentElement && gd.parentElement.id || k),
      width: gd.clientWidth || 900, height: gd.clientHeight || 500}));
    return Promise.all(jobs);
  }

  window.NoetherLive = {
    state: () => (S ? summary() : null),
    store: () => S,
    seek: (frame) => { if (!S) return; S.seek = frame === null || frame === undefined ? null : frame; S.seekDirty = true; scheduleFlush(); },
    follow: () => { if (S) { S.seek = null; S.seekDirty = true; scheduleFlush(); } },
    setLog: (on) => {
      const gd = document.querySelector("#run-graph-loss .js-plotly-plot");
      if (gd) Plotly.relayout(gd, {"yaxis.type": on ? "log" : "linear"});
    },
    download,
    envelope,
  };

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.noether = {
      seek: function (value, frames) {
        if (!window.NoetherLive) return "";
        const info = frames || {};
        if (value === null || value === undefined || (info.frames && value >= info.frames - 1 && !info.done)) {
          window.NoetherLive.follow();
        } else { window.NoetherLive.seek(value); }
        return "";
      },
      log: function (value) { window.NoetherLive.setLog((value || []).indexOf("log") >= 0); return ""; },
      download: function (nPng, nSvg) {
        const id = window.dash_clientside.callback_context.triggered_id;
        if (id) window.NoetherLive.download(id === "run-export-svg" ? "svg" : "png");
        return "";
      },
  };
})();
