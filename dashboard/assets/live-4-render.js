/* Noether Lab live drawing, part 4 of 5: render, the store into the run page's charts.

   Python lays out <div class="live-plot" data-figure="{...}">; this part plots and owns them. Each chart: its
   figure (traces with meta.live say what to draw from the store: the kinds of live-kinds.json, one drawer
   each in LINE and FRAME below), its kind ("line": 2D curves, "gl": a 3D scene, "slow": heatmaps and
   histograms of the current frame, "static"), what it has drawn (rows, frame) and what a draw costs it.

   Drawing has a fixed cost whatever the length of the run (measured with `python -m bench dashboard`):
   - a curve never holds more than about 1500 points: up to RAW_MAX records it shows every one; beyond, the
     history is a min/max envelope (live-1-envelope.js), plus the newest records raw; the chart says so. A run
     that was long when opened is drawn whole from the API's envelope until its records have loaded. Zoomed
     in, the visible range is drawn from the raw records (every one, or an envelope of that range), fetched
     on their own when they have not loaded yet.
   - new points are drawn by rewriting the curves' SVG paths in place (about 1 ms a chart) while they fit the
     axes as drawn; a full Plotly.react (50-100 ms a chart on a busy 2-core machine: axes, ticks, legend) runs
     when they would not, when half the headroom that invisible "keeper" traces give the autoranged axes is
     used, or every FULL_MS (hover data); optional ones FULL_SPACING_MS apart.
   - one requestAnimationFrame scheduler for all charts: about FRAME_BUDGET_MS of drawing per frame (a full
     redraw or a 3D scene gets a frame of its own), each curve at most every LINE_MS, heatmaps and histograms
     every SLOW_MS, 3D scenes every GL_MIN_MS-GL_MAX_MS by their measured cost (software WebGL without a GPU:
     the compositor reads the canvas back, 50-300 ms); drawing keeps to about DUTY of the main thread;
     off-screen charts wait until scrolled into view.
   Telemetry for the benchmark: window.__noetherDraws.
*/
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory(require("./live-1-envelope.js"), require("./live-2-store.js"));
  else { const ns = root.noetherLive = root.noetherLive || {}; ns.render = factory(ns.envelope, ns.store); }
})(typeof self !== "undefined" ? self : this, function (envelope, st) {
  "use strict";
  const win = typeof window !== "undefined" ? window : {};
  const RAW_MAX = 2000, BUCKETS = envelope.BUCKETS, TRAIL = 1000, HEAT_ROWS = 300;
  const FRAME_BUDGET_MS = 12, LINE_MS = 50, FULL_MS = 5000, FULL_SPACING_MS = 250, SLOW_MS = 500, SEEK_MS = 150, DUTY = 0.6;
  const GL_SHARE = 0.1, GL_MIN_MS = 1000, GL_MAX_MS = 5000;  // 3D scenes: at most this share of the main thread
  const HEADROOM = 0.15, AHEAD_S = 5;  // while streaming, autoranged axes reach this far beyond the data
  const MIN_REL_SPAN = 1e-6;  // a linear axis spans at least this fraction of its values' size
  const CONFIG = {displaylogo: false, responsive: true, toImageButtonOptions: {format: "png", scale: 2}};
  // 3D scenes render at the screen's pixel ratio, not Plotly's default 2: without a GPU every pixel is
  // software-rendered and read back for the compositor (4x the pixels cost about 2x the time per frame)
  const CONFIG_3D = Object.assign({}, CONFIG, {plotGlPixelRatio: Math.max(1, Math.min(2, win.devicePixelRatio || 1))});
  const NOTE = "downsampled";  // name of the annotation that says a chart is an envelope

  let S = null;  // the store of the run being shown (use)
  let hooks = {wantDetail: () => {}, drew: () => {}};  // the bridge's: fetch a zoomed range's records; a new step drawn
  win.__noetherDraws = [];  // [{first, last, t, ms}]: steps first..last on every visible 2D chart at t

  function now() { return performance.timeOrigin + performance.now(); }
  function use(store, h) { S = store; if (h) hooks = h; }

  // ------------------------------------------------------------------ charts
  /* Python lays out <div class="live-plot" data-figure="{...}">; this loop plots and owns them. Each
     chart: its figure (traces with meta.live say what to draw from the store), its kind ("line": 2D
     curves, "gl": a 3D scene, "slow": heatmaps and histograms of the current frame, "static"), what
     it has drawn (rows, frame) and what a draw costs it (moving average). */
  const charts = new Map();  // div -> chart

  const visible = new WeakMap();
  const io = "IntersectionObserver" in win ? new IntersectionObserver((entries) => {
    for (const e of entries) visible.set(e.target, e.isIntersecting);
    wake(0);  // scrolled into view: catch up now
  }, {rootMargin: "0px"}) : null;
  function onScreen(div) { return !io || visible.get(div) === true; }

  function kindOf(fig) {
    if (fig.layout && fig.layout.scene) return "gl";
    const lives = (fig.data || []).map((t) => t.meta && t.meta.live).filter(Boolean);
    if (lives.indexOf("line") >= 0) return "line";
    return lives.length ? "slow" : "static";
  }

  /* Find the page's live plots (called when Dash lays them out): new or changed ones are drawn afresh. */
  let scanTimer = 0;
  function scan() {
    if (!win.Plotly) {  // plotly.js is still loading (the run page's hidden dcc.Graph brings it): once it is there
      if (!scanTimer) scanTimer = setTimeout(() => { scanTimer = 0; scan(); }, 50);
      return;
    }
    const divs = document.querySelectorAll(".live-plot");
    const seen = new Set();
    for (const div of divs) {
      seen.add(div);
      const spec = div.getAttribute("data-figure");
      let ch = charts.get(div);
      if (ch && ch.spec === spec) continue;
      let fig;
      try { fig = JSON.parse(spec || "{}"); } catch (e) { continue; }
      fig.data = fig.data || []; fig.layout = fig.layout || {};
      ch = {div, spec, fig, kind: kindOf(fig), mounted: !!(ch && ch.mounted), store: null, rows: 0, frame: -1,
            frames: -1, last: 0, lastFull: 0, draws3d: 0, extent: {}, soft: false, note: null, keepers: 0, cost: fig.layout.scene ? 150 : 30, dirty: true, xrange: null, logY: null,
            id: (div.parentElement && div.parentElement.id) || "chart"};
      charts.set(div, ch);
      if (io) io.observe(div);
    }
    for (const div of Array.from(charts.keys())) {
      if (!seen.has(div)) { if (io) io.unobserve(div); charts.delete(div); }
    }
    wake(0);
  }

  function currentFrame() { return st.currentFrame(S); }

  /* What a line chart has drawn of the store: its rows, or -1 while the whole history is the API's envelope. */
  function rowsKey() { return st.usesBase(S) ? -1 : S.n; }

  /* Milliseconds before this chart may draw again (0: now), or Infinity when it has nothing new. */
  function due(ch, t) {
    if (!ch.mounted) return 0;
    if (ch.kind === "static") return Infinity;
    const fresh = !S || ch.store !== S.id;
    let changed = ch.dirty || fresh;
    if (!changed && S) {
      if (ch.kind === "line") changed = rowsKey() !== ch.rows;
      else changed = currentFrame() !== ch.frame || S.frameSteps.length !== ch.frames;
    }
    if (!changed) return Infinity;
    if (fresh || ch.dirty) return 0;
    const seeking = S && S.seek !== null && ch.kind !== "line";
    if (S && S.done && !seeking) return 0;
    const gap = seeking ? Math.max(SEEK_MS, 2 * ch.cost)
      : ch.kind === "line" ? LINE_MS : ch.kind === "gl" ? glGap(ch) : SLOW_MS;
    const wait = Math.max(0, ch.last + gap - t);
    // a 3D scene (100+ ms without a GPU) does not follow another chart's full redraw straight away
    return ch.kind === "gl" && !seeking ? Math.max(wait, lastFullAt + FULL_SPACING_MS - t) : wait;
  }

  /* Time between two redraws of a 3D scene while the run streams: what one redraw blocks the page
     (measured up to the next frame, so with the compositor's read-back of a software-rendered canvas:
     about 50 ms on an idle machine without a GPU, 250 ms on a busy one, a few with a GPU) over GL_SHARE. */
  function glGap(ch) {
    if (win.NOETHER_3D_MS) return win.NOETHER_3D_MS;
    return Math.max(GL_MIN_MS, Math.min(GL_MAX_MS, ch.cost / GL_SHARE));
  }

  /* Which of the due charts draws first: charts not drawn yet (visible 2D, then 2D below the fold, then 3D
     scenes), then redraws (2D, then 3D: a software WebGL scene costs 100+ ms a redraw). A 3D scene is
     mounted after every 2D chart: its first draw compiles its shaders (0.5-2 s without a GPU), which would
     hold up every chart after it (issue 12 item 4: "defer the 3D view"). Mounts come before redraws, so
     that a streaming run's redraws (which keep the page at its drawing duty) cannot keep one waiting. */
  function rank(ch, vis) {
    if (!ch.mounted) return ch.kind === "gl" ? 2 : (vis ? 0 : 1);
    return ch.kind === "gl" ? 4 : 3;  // off-screen charts, once drawn, wait until they are scrolled into view
  }

  /* Drawing time over the last second (a chart's draw, not Plotly's later WebGL frames). */
  const spentLog = [];
  function recentSpent(t) {
    while (spentLog.length && spentLog[0][0] < t - 1000) spentLog.shift();
    let ms = 0;
    for (const e of spentLog) ms += e[1];
    return ms;
  }

  // ------------------------------------------------------------------ drawing
  let rafId = 0, timerId = 0, timerAt = 0;
  function wake(delay) {
    if (delay <= 0) {
      if (!rafId) rafId = requestAnimationFrame(frame);
      return;
    }
    const at = performance.now() + delay;
    if (timerId && timerAt <= at) return;
    if (timerId) clearTimeout(timerId);
    timerAt = at;
    timerId = setTimeout(() => { timerId = 0; wake(0); }, delay);
  }

  let stamp = null;  // rows on every visible 2D chart, to be stamped painted at the next frame
  let lastFullAt = -Infinity;  // when a chart was last drawn in full (Plotly.react), whichever
  let glDrawn = null;  // a 3D scene drawn last frame: [chart, start], its cost measured at this frame
  function frame() {
    rafId = 0;
    if (stamp) { recordDraw(stamp); stamp = null; }
    if (glDrawn) {
      const [ch, t] = glDrawn, ms = performance.now() - t;
      glDrawn = null;
      if (ch.mounted && ch.draws3d++ > 0) ch.cost = 0.5 * ch.cost + 0.5 * ms;  // not the mount (shader compiles)
      ch.blockMax = Math.max(ch.blockMax || 0, ms);
    }
    const t0 = performance.now();
    let next = Infinity, spent = 0;
    const list = Array.from(charts.values());
    for (;;) {
      let best = null, bestWait = Infinity, bestRank = 9;
      const t = performance.now();
      for (const ch of list) {
        if (ch.busy) continue;
        const vis = onScreen(ch.div);
        if (!vis && ch.mounted) continue;  // off-screen charts catch up when scrolled into view
        const wait = due(ch, t), r = rank(ch, vis);
        if (wait === Infinity) continue;
        if (wait < bestWait || (wait === bestWait && (r < bestRank || (r === bestRank && ch.last < best.last)))) {
          best = ch; bestWait = wait; bestRank = r;
        }
      }
      if (!best) break;
      if (bestWait > 0) { next = Math.min(next, bestWait); break; }
      // keep drawing to about DUTY of the main thread (mounts and forced redraws go first anyway)
      const busy = recentSpent(t) - DUTY * 1000;
      if (busy > 0 && best.mounted && !best.dirty && !(S && S.done)) { next = Math.min(next, Math.max(16, busy)); break; }
      // a 3D scene, or a chart below the fold drawn for the first time, gets a frame of its own
      if (spent > 0 && (best.kind === "gl" || (!best.mounted && !onScreen(best.div)))) { next = 0; break; }
      const d0 = performance.now();
      draw(best);
      const ms = performance.now() - d0;
      if (best.kind === "gl") { glDrawn = [best, d0]; next = 0; spent += ms; spentLog.push([d0, ms]); break; }
      spent += ms; spentLog.push([d0, ms]);
      if (performance.now() - t0 >= FRAME_BUDGET_MS) { next = 0; break; }
    }
    if (spent > 0) checkStamp(spent);
    if (stamp) next = 0;
    if (waiters.length && charts.size && list.every((ch) => ch.mounted || !onScreen(ch.div))) {
      for (const resolve of waiters.splice(0)) resolve();
    }
    if (next < Infinity) wake(next);
  }

  /* A promise resolved once every chart on screen has been drawn. */
  const waiters = [];
  function drawn() { return new Promise((resolve) => { waiters.push(resolve); wake(0); }); }

  function checkStamp(ms) {
    if (!S) return;
    let rows = Infinity, all = true;
    for (const ch of charts.values()) {
      if (ch.kind !== "line" || !onScreen(ch.div)) continue;
      const current = ch.mounted && ch.store === S.id;
      all = all && current;
      rows = Math.min(rows, current ? ch.rows : 0);
    }
    if (rows === Infinity) return;
    // the step drawn on every visible chart (-1 rows: the API's envelope, which ends at the series' last record)
    const drawnStep = !all ? S.drawnStep : rows > 0 ? S.cols.step[rows - 1] : rows < 0 && S.base.last ? S.base.last.step : S.drawnStep;
    if (drawnStep !== S.drawnStep) { S.drawnStep = drawnStep; hooks.drew(); }
    if (rows <= S.stamped) return;
    const steps = S.cols.step;
    stamp = {first: steps[S.stamped], last: steps[rows - 1], ms, store: S.id};
    S.stamped = rows;
  }

  function recordDraw(s) {
    if (!S || s.store !== S.id) return;
    const draws = win.__noetherDraws;
    draws.push({first: s.first, last: s.last, t: now(), ms: s.ms});
    if (draws.length > 20000) draws.splice(0, draws.length - 10000);
  }

  function draw(ch) {
    const t0 = performance.now();
    ch.last = t0;
    const forced = ch.dirty || !S || ch.store !== S.id;
    ch.dirty = false;
    let data = ch.fig.data, note = null;
    if (S) {
      const f = currentFrame();
      if (ch.kind === "line") {
        const info = {w: 0, range: null, base: 0};
        data = data.map((tr) => (tr.meta && LINE[tr.meta.live] ? LINE[tr.meta.live](ch, tr, info) : tr));
        note = noteText(ch, info);
        ch.rows = rowsKey();
        // optional full redraws (hover data, annotation, headroom half used) keep FULL_SPACING_MS apart
        const spaced = t0 - lastFullAt >= FULL_SPACING_MS;
        const why = !ch.mounted ? "mount" : forced ? "forced" : S.done ? "done"
          : spaced && t0 - ch.lastFull >= FULL_MS ? "refresh" : spaced && note !== ch.note ? "note"
          : spaced && ch.soft ? "headroom" : fastDraw(ch, data) ? null : "range";
        if (!why) { account(ch, performance.now() - t0, "fast"); return; }
        ch.why = ch.why || {};
        ch.why[why] = (ch.why[why] || 0) + 1;
        data = data.concat(keepers(ch, data));
      } else if (ch.kind === "gl" || ch.kind === "slow") {
        data = data.map((tr) => frameTrace(tr, f));
        ch.frame = f; ch.frames = S.frameSteps.length;
      }
      ch.store = S.id;
    }
    // presentation mode and typeset maths (assets/present.js)
    const styled = win.NoetherStyle ? win.NoetherStyle.apply(data, chartLayout(ch, note), ch.kind) : {data, layout: chartLayout(ch, note)};
    data = styled.data;
    const layout = styled.layout;
    const first = !ch.mounted;
    ch.mounted = true; ch.busy = true; ch.note = note; ch.lastFull = t0; ch.soft = false; lastFullAt = t0;
    let p;
    try { p = Plotly.react(ch.div, data, layout, ch.kind === "gl" ? CONFIG_3D : CONFIG); } catch (e) { p = Promise.reject(e); }
    account(ch, performance.now() - t0, first ? "mount" : "full");
    if (first) ch.mountedAt = performance.now();
    Promise.resolve(p).then(() => {
      ch.busy = false;
      if (first) listen(ch);
    }, (e) => { ch.busy = false; if (S) S.error = String(e); });
  }

  function account(ch, ms, how) {
    if (how !== "mount" && ch.kind !== "gl") ch.cost = 0.7 * ch.cost + 0.3 * ms;
    const st = ch.stats = ch.stats || {fast: [0, 0, 0], full: [0, 0, 0], mount: [0, 0, 0]};
    const s = st[how];
    s[0] += 1; s[1] += ms; s[2] = Math.max(s[2], ms);
  }

  /* Streaming points onto a chart whose axes already hold them: the lines' SVG paths are rewritten in
     place (a millisecond or two) instead of Plotly redrawing the whole chart (axes, ticks, legend:
     tens of milliseconds, 60+ on a busy machine). Plotly's own data (gd.data) is kept current, so
     whatever Plotly redraws by itself (a resize, a legend click) shows the same points; hover labels
     and autoranges catch up at the next full draw (at least every FULL_MS). Returns false (and draws
     nothing) when the new points leave an autoranged axis or a path is not where Plotly keeps it. */
  function fastDraw(ch, data) {
    const gd = ch.div, fl = gd._fullLayout;
    if (!fl || !gd.data || gd.data.length !== data.length + (ch.keepers || 0)) return false;
    const paths = {};
    for (const g of gd.querySelectorAll(".scatterlayer .trace")) {
      const cd = g.__data__, tr = cd && cd[0] && cd[0].trace;
      if (tr && typeof tr.index === "number") paths[tr.index] = g.querySelector("path.js-line");
    }
    const jobs = [];
    let soft = false;
    for (let i = 0; i < data.length; i++) {
      const tr = data[i];
      if (!tr.meta || tr.meta.live !== "line" || tr === ch.fig.data[i]) continue;
      if (gd.data[i].visible === "legendonly" || gd.data[i].visible === false) continue;
      const xa = fl[axisName(tr.xaxis || "x")], ya = fl[axisName(tr.yaxis || "y")];
      const path = paths[i];
      if (!xa || !ya || !xa.c2p || !ya.c2p || !path) return false;
      const fit = Math.min(inside(xa, tr.x, ch.extent.x), inside(ya, tr.y, ch.extent[tr.yaxis || "y"]));
      if (fit === 0) return false;
      if (fit === 1) soft = true;
      jobs.push([i, path, tr, xa, ya]);
    }
    for (const [i, path, tr, xa, ya] of jobs) {
      path.setAttribute("d", linePath(tr.x, tr.y, xa, ya));
      gd.data[i].x = tr.x; gd.data[i].y = tr.y;
    }
    if (soft) ch.soft = true;
    return true;
  }

  function axisName(id) { return id.charAt(0) + "axis" + id.slice(1); }

  /* Do these values fit the axis as drawn? 0: no (some leave its range), 1: yes, but past half the
     headroom the last full draw left beyond the data's extent `ext` [min, max, min > 0], 2: yes.
     (Always 2 on an axis the user zoomed: what falls outside is clipped.) */
  function inside(ax, vs, ext) {
    if (!ax.autorange) return 2;
    const r = ax.range;
    if (!r || r.length !== 2) return 0;
    const lo = Math.min(r[0], r[1]), hi = Math.max(r[0], r[1]), log = ax.type === "log";
    let slo = lo, shi = hi;
    if (ext) {
      const elo = log ? Math.log10(ext[2]) : ext[0], ehi = log ? Math.log10(ext[1]) : ext[1];
      if (isFinite(elo) && elo >= lo) slo = (lo + elo) / 2;
      if (isFinite(ehi) && ehi <= hi) shi = (hi + ehi) / 2;
    }
    let fit = 2;
    for (let i = 0; i < vs.length; i++) {
      let v = vs[i];
      if (v === null) continue;
      if (log) { if (!(v > 0)) continue; v = Math.log10(v); }
      if (v < lo || v > hi) return 0;
      if (v < slo || v > shi) fit = 1;
    }
    return fit;
  }

  function linePath(xs, ys, xa, ya) {
    const parts = [];
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      const y = ys[i];
      if (y === null) { pen = false; continue; }
      const px = xa.c2p(xs[i]), py = ya.c2p(y);
      if (!isFinite(px) || !isFinite(py)) { pen = false; continue; }
      parts.push((pen ? "L" : "M") + Math.round(px * 100) / 100 + "," + Math.round(py * 100) / 100);
      pen = true;
    }
    return parts.join("") || "M0,0";
  }

  /* Invisible traces that widen the autorange of each axis: by HEADROOM while the run streams, so that
     new points land inside the drawn axes (and fastDraw can place them) for a while; and, live or not,
     to at least MIN_REL_SPAN of a linear axis's values, so a conserved quantity is not zoomed into its
     rounding noise. */
  function keepers(ch, data) {
    ch.keepers = 0;
    const byAxis = ch.extent = {};
    let x0 = Infinity, x1 = -Infinity;
    for (const tr of data) {
      if (!tr.meta || tr.meta.live !== "line" || !tr.x || !tr.x.length) continue;
      x0 = Math.min(x0, tr.x[0]); x1 = Math.max(x1, tr.x[tr.x.length - 1]);
      const id = tr.yaxis || "y", b = byAxis[id] = byAxis[id] || [Infinity, -Infinity, Infinity];
      for (const v of tr.y) {
        if (v === null) continue;
        if (v < b[0]) b[0] = v;
        if (v > b[1]) b[1] = v;
        if (v > 0 && v < b[2]) b[2] = v;
      }
    }
    if (!(x1 > x0)) return [];
    byAxis.x = [x0, x1, x0];
    const live = st.streaming(S);
    let xr = [x0, x1];
    if (live) {
      // room for about AHEAD_S seconds of the live stream (at least HEADROOM, at most half the span)
      const m = S.marks, rate = m.length > 1 ? (m[m.length - 1][1] - m[0][1]) * 1000 / (m[m.length - 1][0] - m[0][0]) : 0;
      const ahead = S.n > 1 ? (x1 - x0) / (S.n - 1) * rate * AHEAD_S : 0;
      xr = [x0, x1 + Math.min(0.5 * (x1 - x0), Math.max(HEADROOM * (x1 - x0), ahead))];
    }
    const out = [];
    const match = ((ch.fig.layout.meta || {}).match_span) || {};
    ch.zoomFactor = null;
    for (const id in byAxis) {
      if (id === "x") continue;
      let [lo, hi, pos] = byAxis[id];
      if (!(hi >= lo)) continue;
      const ref = match[id] && byAxis[match[id]];
      if (ref && ref[1] >= ref[0]) {
        // Fig. 1: this axis spans at least what its reference axis's values span (centred on its own values),
        // so a constant reads flat beside the moving norms; "zoom into the difference" autoranges it instead
        const span = ref[1] - ref[0], own = hi - lo;
        ch.zoomFactor = own > 0 ? span / own : Infinity;
        if (!ch.zoomed && span > own) {
          const mid = (lo + hi) / 2, pad = live ? span * HEADROOM : 0;
          out.push({type: "scatter", mode: "lines", x: xr, y: [mid - span / 2 - pad, mid + span / 2 + pad], yaxis: id,
            line: {width: 0}, opacity: 0, hoverinfo: "skip", showlegend: false, meta: {live: "keeper"}});
          continue;
        }
      }
      const type = id === "y" && ch.logY !== null ? (ch.logY ? "log" : "linear") : (ch.fig.layout[axisName(id)] || {}).type;
      let ys;
      if (type === "log") {
        if (!live || !(pos < Infinity)) continue;
        const a = Math.log10(pos), c = Math.log10(Math.max(hi, pos)), pad = Math.max(c - a, 1) * HEADROOM;
        ys = [Math.pow(10, a - pad), Math.pow(10, c + pad)];
      } else {
        // a quantity conserved to rounding (|J| of the toy in float64 moves by 1e-14): the axis spans at least
        // MIN_REL_SPAN of its value, so its ticks read 2.121320 and the line flat, not 16 digits of noise
        const mid = (lo + hi) / 2, floor = MIN_REL_SPAN * Math.abs(mid), narrow = hi - lo < floor;
        if (narrow) { lo = mid - floor / 2; hi = mid + floor / 2; }
        if (!live && !narrow) continue;
        const pad = live ? (hi - lo || Math.abs(hi) || 1) * HEADROOM : 0;
        ys = [lo - pad, hi + pad];
      }
      out.push({type: "scatter", mode: "lines", x: xr, y: ys, yaxis: id,
        line: {width: 0}, opacity: 0, hoverinfo: "skip", showlegend: false, meta: {live: "keeper"}});
    }
    ch.keepers = out.length;
    return out;
  }

  function listen(ch) {
    if (!ch.div.on) return;
    // the law chart's buttons (figures.span_buttons, method "skip"): the difference on the norms' scale, or zoomed
    ch.div.on("plotly_buttonclicked", (ev) => {
      const label = String(((ev || {}).button || {}).label || "");
      if (ch.kind === "gl") {  // figures.camera_buttons: face-on / edge-on / free
        if (((ch.fig.layout.meta || {}).cameras || {})[label]) {
          ch.view = label; ch.viewCount = (ch.viewCount || 0) + 1; ch.dirty = true; wake(0);
        }
        return;
      }
      const zoomed = label.indexOf("zoom") === 0;
      if (zoomed !== !!ch.zoomed) { ch.zoomed = zoomed; ch.dirty = true; wake(0); }
    });
    ch.div.on("plotly_relayout", (ev) => {
      if (!ev || ch.kind !== "line") return;
      if (ev["xaxis.autorange"] || ev["xaxis.range"] === undefined && ev["xaxis.range[0]"] === undefined) {
        if (ev["xaxis.autorange"] && ch.xrange) { ch.xrange = null; ch.dirty = true; wake(0); }
        return;
      }
      const r = ev["xaxis.range"] || [ev["xaxis.range[0]"], ev["xaxis.range[1]"]];
      ch.xrange = [Number(r[0]), Number(r[1])]; ch.dirty = true; wake(0);
    });
  }

  function noteText(ch, info) {
    const floor = info.floor ? "0 drawn at the smallest positive value shown" : null;  // figures.LOG_FLOOR_NOTE
    const and = (text) => text + (floor ? "; " + floor : "");
    if (ch.xrange && info.range) return and("zoomed in: " + info.range);
    if (info.base) return and("whole run: " + info.base.toLocaleString("en-US") + " records drawn as a min/max envelope (spikes kept)");
    if (info.w > 0) return and("long series: history drawn as min/max envelope (spikes kept), newest points raw");
    return floor;
  }

  /* A log axis cannot draw 0 (a loss that reaches exactly 0 would end the curve there): meta.log_floor traces
     draw it at the smallest positive value shown, and the chart says so (figures.log_floor does the same). */
  function floorZeros(ch, ys, info) {
    const log = ch.logY !== null ? ch.logY : (ch.fig.layout.yaxis || {}).type === "log";
    if (!log) return;
    let lo = Infinity;
    for (const v of ys) if (v > 0 && v < lo) lo = v;
    if (!(lo < Infinity)) return;
    for (let i = 0; i < ys.length; i++) if (ys[i] === 0) { ys[i] = lo; info.floor = true; }
  }

  function chartLayout(ch, note) {
    const layout = Object.assign({}, ch.fig.layout);
    if (ch.logY !== null) layout.yaxis = Object.assign({}, layout.yaxis || {}, {type: ch.logY ? "log" : "linear"});
    if (ch.kind === "gl" && ch.view && layout.scene) {
      // a camera button was clicked: its view, under a new uirevision so that it replaces a dragged camera
      const cams = (layout.meta || {}).cameras || {};
      layout.scene = Object.assign({}, layout.scene, {camera: cams[ch.view] || layout.scene.camera,
        uirevision: "view-" + ch.viewCount});
      layout.updatemenus = (layout.updatemenus || []).map((m) => (m.name === "camera"
        ? Object.assign({}, m, {active: ["face-on", "edge-on", "free"].indexOf(ch.view)}) : m));
    }
    if (ch.kind !== "line") return layout;
    // tick labels stay inside the margins anyway; Plotly's overflow check measures every label (a fifth of a redraw)
    for (const k in layout) {
      if (/^[xy]axis\d*$/.test(k)) layout[k] = Object.assign({ticklabeloverflow: "allow"}, layout[k]);
    }
    if (!layout.yaxis) layout.yaxis = {ticklabeloverflow: "allow"};
    if (!layout.xaxis) layout.xaxis = {ticklabeloverflow: "allow"};
    if (layout.updatemenus && (layout.meta || {}).match_span) spanButtons(ch, layout);
    const pl = (layout.meta || {}).power_law;
    if (pl && typeof ch.slope === "number" && layout.title) {
      const text = String(layout.title.text || "").replace(/, fitted .*$/, "") + ", fitted " + ch.slope.toFixed(3);
      layout.title = Object.assign({}, layout.title, {text});
    }
    const anns = (layout.annotations || []).filter((a) => a.name !== NOTE);
    if (note) anns.push({text: note, name: NOTE, xref: "paper", yref: "paper", x: 1, y: 1, showarrow: false,
      xanchor: "right", yanchor: "bottom", font: {size: 10, color: "#666"}});
    layout.annotations = anns;
    return layout;
  }

  /* The span buttons say how far "zoom" zooms (the norms' span over the difference's), and the zoomed right
     axis says it in its title. */
  function spanButtons(ch, layout) {
    const f = ch.zoomFactor;
    const factor = f === Infinity ? "flat" : f > 0 ? "x " + Number(f.toPrecision(2)).toLocaleString("en-US") : null;
    layout.updatemenus = layout.updatemenus.map((m) => {
      if (!m.buttons || m.buttons.length !== 2) return m;
      const buttons = m.buttons.map((b, i) => (i === 1 ? Object.assign({}, b, {
        label: "zoom into the difference" + (factor ? " (" + factor + ")" : "")}) : b));
      return Object.assign({}, m, {buttons, active: ch.zoomed ? 1 : 0});
    });
    const y2 = layout.yaxis2;
    if (y2) {
      const title = typeof y2.title === "object" && y2.title ? y2.title.text : y2.title;
      const t = (title || "") + (ch.zoomed ? (factor ? " (zoomed " + factor + ")" : " (zoomed)") : "");
      layout.yaxis2 = Object.assign({}, y2, {title: Object.assign({}, typeof y2.title === "object" ? y2.title : {}, {text: t}),
        autorange: true, range: undefined});
    }
  }

  /* A power law's least-squares line through the measured points on log-log axes (figures.power_law_figure):
     the slope goes into the legend and the chart's title. */
  function fitTrace(ch, tr) {
    const meta = tr.meta, base = st.usesBase(S) ? S.base : null;
    const bx = base && base.columns[meta.x], by = base && base.columns[meta.y];
    const x = bx ? bx.mean : S.cols[meta.x], y = by ? by.mean : S.cols[meta.y], n = bx ? bx.mean.length : S.n;
    if (!x || !y) return tr;
    let k = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, x0 = Infinity, x1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const a = x[i], b = y[i];
      if (!(a > 0 && b > 0 && isFinite(a) && isFinite(b))) continue;
      const la = Math.log(a), lb = Math.log(b);
      k += 1; sx += la; sy += lb; sxx += la * la; sxy += la * lb;
      if (a < x0) x0 = a;
      if (a > x1) x1 = a;
    }
    const den = k * sxx - sx * sx;
    if (k < 2 || !(den > 0)) { ch.slope = null; return Object.assign({}, tr, {x: [], y: []}); }
    const slope = (k * sxy - sx * sy) / den, icpt = (sy - slope * sx) / k;
    ch.slope = slope;
    return Object.assign({}, tr, {x: [x0, x1], y: [Math.exp(icpt + slope * Math.log(x0)), Math.exp(icpt + slope * Math.log(x1))],
      name: "fit: slope " + slope.toFixed(3)});
  }

  /* A "line" trace: column meta.y against meta.x from the store, as it is or as a min/max envelope; while a run
     that was long when opened loads, from the API's envelope of the whole run; zoomed in, from the records of
     the range (the store's, or fetched on their own). */
  function lineTrace(ch, tr, info) {
    const meta = tr.meta;
    const base = st.usesBase(S) ? S.base : null;
    if (!S.cols[meta.y] && !(base && base.columns[meta.y])) return tr;
    const xName = meta.x || "step";
    const off = meta.transform === "drift" ? st.firstFinite(S, meta.y) : 0;
    const xs = [], ys = [];
    if (ch.xrange) {
      const D = zoomSource(xName, ch.xrange);
      if (D) {
        const x = D.cols[xName] || D.cols.step, y = D.cols[meta.y], n = D.n;
        if (y) {
          const a = Math.max(0, envelope.lowerBound(x, n, ch.xrange[0]) - 1), b = Math.min(n, envelope.lowerBound(x, n, ch.xrange[1]) + 1);
          envelope.emitRange(x, y, a, b, 2 * BUCKETS, off, xs, ys);
          info.range = b - a > 4 * BUCKETS ? "min/max envelope of " + (b - a).toLocaleString("en-US") + " records" : "every record";
        }
      } else {
        envelope.emitBuckets(base, xName, meta.y, off, xs, ys);
        info.range = "min/max envelope of the whole run; zoom in further to draw each record";
        hooks.wantDetail(xName, ch.xrange[0], ch.xrange[1]);
      }
    } else if (base) {
      envelope.emitBuckets(base, xName, meta.y, off, xs, ys);
      info.base = base.total;
    } else {
      const x = S.cols[xName] || S.cols.step, y = S.cols[meta.y], n = S.n;
      if (n <= RAW_MAX) {
        envelope.emitRaw(x, y, 0, n, off, xs, ys);
      } else {
        const env = st.envelopeOf(S, meta.y);
        envelope.emitEnvelope(x, y, env, n, off, xs, ys);
        info.w = Math.max(info.w, env.w);
      }
    }
    if (meta.log_floor) floorZeros(ch, ys, info);
    return Object.assign({}, tr, {x: xs, y: ys});
  }

  /* Where a zoomed range's records are: the store (once it holds them), the fetched detail, or nowhere yet. */
  function zoomSource(xName, r) {
    if (!st.usesBase(S)) return S;
    const last = (D) => (D.cols[xName] || D.cols.step)[D.n - 1];
    if (S.n && last(S) >= r[1]) return S;
    const D = S.detail;
    if (D && D.n && (D.range[0] === 0 || (D.cols[xName] || D.cols.step)[0] <= r[0])
        && (D.range[1] >= S.base.total || last(D) >= r[1])) return D;
    return null;
  }

  function stride(n, limit) {
    if (n <= limit) return Array.from({length: n}, (_, i) => i);
    const out = [];
    let prev = -1;
    for (let i = 0; i < limit; i++) {
      const k = Math.round(i * (n - 1) / (limit - 1));
      if (k !== prev) out.push(k);
      prev = k;
    }
    return out;
  }

  function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
  function norm(v) { return Math.sqrt(v.reduce((s, c) => s + c * c, 0)); }

  function jAt(f) {
    const vec = S.views["angular_momentum:vector"];
    if (vec && vec[f] && vec[f].length === 3) return vec[f];
    const p = (S.views.position || [])[f], v = (S.views.velocity || [])[f];
    if (p && v && p.length === 3 && v.length === 3) return cross(v, p);  // J = w' x w, the paper's sign (eq. 48)
    return null;
  }

  /* A trace of the current frame f (3D views, per-neuron heatmaps and histograms, matrices). */
  /* A trace of the current frame f (3D views, per-neuron heatmaps and histograms, matrices). */
  function frameTrace(tr, f) {
    const draw = tr.meta && FRAME[tr.meta.live];
    if (!draw || f < 0) return tr;
    const upd = draw(tr.meta, f);
    return upd ? Object.assign({}, tr, upd) : tr;
  }

  /* The drawers of the meta.live kinds (declared with their meaning in live-kinds.json, which
     dashboard/figures.py reads): 2D curves grown from the store's columns ... */
  const LINE = {line: lineTrace, fit: (ch, tr) => fitTrace(ch, tr)};

  /* ... and the current frame's views (f: the frame index). */
  const FRAME = {
    path3d(meta, f) {
      const pos = S.views[meta.col] || [];
      const idx = stride(f + 1, TRAIL).filter((k) => pos[k]);
      return {x: idx.map((k) => pos[k][0]), y: idx.map((k) => pos[k][1]), z: idx.map((k) => pos[k][2])};
    },
    head3d(meta, f) {
      const p = (S.views[meta.col] || [])[f];
      return p ? {x: [p[0]], y: [p[1]], z: [p[2]]} : null;
    },
    particles(meta, f) {
      const ps = (S.views[meta.col] || [])[f];
      return ps ? {x: ps.map((p) => p[0]), y: ps.map((p) => p[1]), z: ps.map((p) => p[2])} : null;
    },
    jvec(meta, f) {
      const n = jUnit(f), s = meta.scale || 1;
      return n ? {x: [0, n[0] * s], y: [0, n[1] * s], z: [0, n[2] * s]} : {x: [], y: [], z: []};
    },
    plane(meta, f) {
      const n = jUnit(f), s = meta.scale || 1;
      if (!n) return {x: [], y: [], z: []};
      const helper = Math.abs(n[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
      let u = cross(n, helper); u = u.map((c) => c / norm(u));
      const v = cross(n, u), corners = [[-s, -s], [-s, s], [s, s], [s, -s], [-s, -s]];
      const P = (k) => corners.map(([a, b]) => a * u[k] + b * v[k]);
      return {x: P(0), y: P(1), z: P(2)};
    },
    heatmap(meta, f) {
      const rows = S.views[meta.col] || [];
      const idx = stride(f + 1, HEAT_ROWS).filter((k) => rows[k]);
      const first = rows.find((r) => r);
      const z = idx.map((k) => (meta.transform === "drift" && first ? rows[k].map((v, j) => v - first[j]) : rows[k]));
      return {z, y: idx.map((k) => S.frameSteps[k])};
    },
    hist(meta, f) {
      const vals = (S.views[meta.col] || [])[f];
      return vals ? {x: vals} : null;
    },
    matrix(meta, f) {
      const m = (S.views[meta.col] || [])[f];
      return m ? {z: m} : null;
    },
  };

  /* J / |J| at frame f (None when J = 0 or unknown). */
  function jUnit(f) {
    const j = jAt(f);
    if (!j || !(norm(j) > 0)) return null;
    return j.map((c) => c / norm(j));
  }

  /* Per chart: draws by kind (fast: paths rewritten in place; full: Plotly.react; mount), mean and max ms. */
  function stats() {
    const out = {};
    for (const ch of charts.values()) {
      const cs = ch.stats || {}, row = {kind: ch.kind, draws: 0, total_ms: 0, max_ms: 0,
        points: ch.div.data ? ch.div.data.reduce((s, t) => s + (t.x ? t.x.length : 0), 0) : 0,
        why: ch.why || {}, cost_ms: ch.cost, block_max_ms: ch.blockMax || null, mounted_at_ms: ch.mountedAt === undefined ? null : ch.mountedAt};  // since the page's navigation
      for (const how in cs) {
        const [n, total, max] = cs[how];
        row[how] = {n, mean_ms: n ? total / n : 0, max_ms: max};
        if (how !== "mount") { row.draws += n; row.total_ms += total; row.max_ms = Math.max(row.max_ms, max); }
      }
      row.mean_ms = row.draws ? row.total_ms / row.draws : 0;
      out[ch.id] = row;
    }
    return out;
  }

  function setLog(on) {
    for (const ch of charts.values()) {
      if (ch.id === "run-graph-loss") { ch.logY = !!on; ch.dirty = true; }
    }
    wake(0);
  }

  function redrawAll() { for (const ch of charts.values()) ch.dirty = true; wake(0); }

  /* A zoomed range's records arrived: the zoomed charts draw them. */
  function redrawZoomed() { for (const ch of charts.values()) if (ch.xrange) ch.dirty = true; wake(0); }

  return {use, scan, wake, drawn, charts, stats, setLog, redrawAll, redrawZoomed, LINE, FRAME, RAW_MAX};
});
