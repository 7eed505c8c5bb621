/* Noether Lab live drawing, part 5 of 5: the bridge between Dash and the live loop.

   Streaming starts from a clientside callback on the run page's run-id store (dash_clientside.noether.follow_run)
   and stops when the page's path leaves /runs/ (noether.route); the charts are found when Dash lays them out
   (a MutationObserver on the page's live plots, not a timer). What the page shows about the stream (columns,
   views, counts, done) goes back to Dash's run-live store (report). Every clientside function of the run page
   is in the one namespace window.dash_clientside.noether.
   window.NoetherLive: the page's handle for tests, the benchmark and assets/present.js.
*/
(function (root) {
  "use strict";
  if (typeof window === "undefined") return;  // the browser's part only
  const ns = root.noetherLive, envelope = ns.envelope, st = ns.store, transport = ns.transport, render = ns.render;
  const REPORT_MS = 1000, DRAWN_WAIT_MS = 5000;

  // a run page opened directly (a link, a reload): its first requests go out now, not after Dash's layout
  const direct = /^\/runs\/([^/?#]+)/.exec(location.pathname);
  if (direct) transport.prefetch(decodeURIComponent(direct[1]));

  let S = null;  // the store of the run being shown
  window.__noetherArrivals = [];  // [{first, last, t}]: steps first..last received at t (epoch ms)
  function now() { return performance.timeOrigin + performance.now(); }

  const hooks = {
    current: () => S,
    ingest(store, records) {
      if (store !== S) return 0;
      const n0 = store.n, added = st.ingest(store, records, performance.now());
      if (added) {
        const arrivals = window.__noetherArrivals;
        arrivals.push({first: store.cols.step[n0], last: store.lastStep, t: now()});
        if (arrivals.length > 20000) arrivals.splice(0, arrivals.length - 10000);
        render.wake(0);
        report(false);
      }
      return added;
    },
    changed(force) { render.wake(0); report(force); },
    restart: (runId) => start(runId),
    // the charts drawn once (or DRAWN_WAIT_MS: a page whose charts never come does not wait for ever)
    drawn: () => Promise.race([render.drawn(), new Promise((resolve) => setTimeout(resolve, DRAWN_WAIT_MS))]),
  };
  const renderHooks = {
    wantDetail: (xName, x0, x1) => { if (S) transport.fetchDetail(S, xName, x0, x1, detailHooks); },
    drew: () => report(false),  // the lag badge follows what is drawn
  };
  const detailHooks = Object.assign({}, hooks, {changed: () => render.redrawZoomed()});

  function start(runId) {
    stop();
    const store = S = st.newStore(runId);
    render.use(store, renderHooks);
    render.scan();
    transport.open(store, hooks);
  }

  function stop() {
    if (!S) return;
    transport.close(S);
    S = null;
    render.use(null);
    clearTimeout(reportTimer);
  }

  /* The stream's state to Dash's run-live store: at most once a second, or at once when the set of columns or
     views or the state changes (a trailing report sends the last count). */
  let reportTimer = 0;
  function report(force) {
    if (!S || !window.dash_clientside || !window.dash_clientside.set_props) return;
    const info = st.summary(S);
    const key = [info.key, info.done, info.status, info.mode, info.loading].join("|");
    const t = now();
    if (!force && key === S.reported && (info.n === S.reportedN && info.drawn_step === S.reportedDrawn)) return;
    if (!force && key === S.reported && t - S.lastReport < REPORT_MS) {
      if (!reportTimer) reportTimer = setTimeout(() => { reportTimer = 0; report(false); }, REPORT_MS - (t - S.lastReport));
      return;
    }
    S.reported = key; S.lastReport = t; S.reportedN = info.n; S.reportedDrawn = info.drawn_step;
    if (!document.getElementById("run-page")) { stop(); return; }  // the page was left
    try { window.dash_clientside.set_props("run-live", {data: info}); } catch (e) { /* page left */ }
  }

  // The run page's live plots appear (and change) when Dash lays them out: scan then, not on a timer.
  function touchesPlots(m) {
    if (m.type === "attributes") return true;
    if (m.target.closest && m.target.closest(".live-plot")) return false;  // Plotly drawing inside a chart
    for (const list of [m.addedNodes, m.removedNodes]) {
      for (const n of list) {
        if (n.nodeType === 1 && (n.classList.contains("live-plot") || n.querySelector(".live-plot"))) return true;
      }
    }
    return false;
  }
  new MutationObserver((muts) => { if (muts.some(touchesPlots)) render.scan(); })
    .observe(document.documentElement, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-figure"]});

  window.NoetherLive = {
    state: () => (S ? st.summary(S) : null),
    store: () => S,
    stats: render.stats,
    // replay: the 3D views, heatmaps and histograms show frame `frame` (redrawn at most every
    // max(SEEK_MS, twice their cost), so that dragging the slider or playing cannot pile up redraws)
    seek: (frame) => { if (S) { S.seek = frame === null || frame === undefined ? null : frame; render.wake(0); } },
    follow: () => { if (S) { S.seek = null; render.wake(0); } },
    frameLabel: (frame) => st.frameLabel(S, frame),
    setLog: render.setLog,
    redrawAll: render.redrawAll,  // assets/present.js
    ingest: (records) => hooks.ingest(S, records),  // records into the store as if streamed (deduplicated by step)
    // pure helpers, for tests
    Envelope: envelope.Envelope, emitEnvelope: envelope.emitEnvelope, emitRange: envelope.emitRange,
  };

  const no = () => window.dash_clientside.no_update;

  /* Every clientside function of the run page (dashboard/pages/run.py names them with ClientsideFunction). */
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.noether = {
    // run-id store -> stream that run (a new page, or another run in the same page); the stream reports into
    // run-live itself (report)
    follow_run(runId) {
      if (!runId) stop();
      else if (!S || S.runId !== runId) start(runId);
      return no();
    },
    // the page's path -> stop streaming once it is not a run page
    route(pathname) {
      if (S && !/^\/runs\/[^/]+/.test(pathname || "")) stop();
    },
    // run-live, run-info -> the key of the charts' layout: it changes only with the set of columns, views or laws
    graph_key(live, info, preset, previous) {
      if (!live || live.run === null || live.run === undefined) return no();
      const laws = (((info || {}).summary || {}).laws || []).map((l) => l.id || "").sort();
      const key = live.run + "|" + (live.key || "") + "|" + laws.join(",") + "|" + ((preset || {}).name || "");
      return key === previous ? no() : key;
    },
    // run-live -> the replay slider's last frame and the toolbar's line about the stream
    live_text(live) {
      if (!live) return [no(), ""];
      return [Math.max(1, live.frames || 0) - 1, st.liveText(live)];
    },
    // run-live, run-info -> how far the drawing is behind the worker (a visible badge while the run goes on)
    lag(live, info) {
      const [text, level] = st.lagText(live, info);
      return [text, "lag" + (level ? " lag-" + level : "")];
    },
    seek(value, frames) {
      const info = frames || {};
      if (value === null || value === undefined || (info.frames && value >= info.frames - 1 && !info.done)) {
        window.NoetherLive.follow();
      } else { window.NoetherLive.seek(value); }
      return window.NoetherLive.frameLabel(value);
    },
    log(value) { window.NoetherLive.setLog((value || []).indexOf("log") >= 0); },
    play_toggle(n, disabled) {
      const playing = !disabled;
      return [playing, playing ? "Play" : "Pause"];
    },
    play_step(n, value, max) {
      const step = Math.max(1, Math.round((max || 1) / 200));
      const v = (value === null || value === undefined || value >= max) ? 0 : value + step;
      return Math.min(v, max);
    },
  };
})(typeof self !== "undefined" ? self : this);
