/* Noether Lab live drawing, part 3 of 5: transport, from the API into the store.

   Opening a run: its API envelope (GET /api/runs/{id}/series?points=ENVELOPE_POINTS, a few hundred blocks
   read whatever the run's length) and its first page of records, together; then the rest of the records
   (pages of PAGE after the cursor), then, while the run goes on, the WebSocket /api/runs/{id}/stream?after=cursor
   (reconnects and resumes from the last cursor); after repeated WebSocket failures it polls the series
   endpoint every POLL_MS instead. A zoomed range whose records have not loaded yet is fetched on its own.

   `hooks`: current() the store being shown; ingest(store, records); changed(force) the state changed;
   restart(runId) start over (the run restarted after its worker was lost); drawn() a promise, resolved once
   the charts have been drawn (a long run's records load after its envelope is on screen).
*/
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory(require("./live-1-envelope.js"), require("./live-2-store.js"));
  else { const ns = root.noetherLive = root.noetherLive || {}; ns.transport = factory(ns.envelope, ns.store); }
})(typeof self !== "undefined" ? self : this, function (envelope, st) {
  "use strict";
  const POLL_MS = 150, PAGE = 2000, ENVELOPE_POINTS = 500, DETAIL_MAX = 20000;

  async function fetchJSON(url) {
    const r = await fetch(url, {cache: "no-store"});
    if (!r.ok) { const t = await r.text(); throw new Error(r.status + " " + t.slice(0, 200)); }
    return r.json();
  }

  function seriesUrl(store, after, limit, points) {
    const q = new URLSearchParams();
    if (after !== null && after !== undefined) q.set("after", after);
    if (limit) q.set("limit", limit);
    if (points) q.set("points", points);
    return "/api/runs/" + encodeURIComponent(store.runId) + "/series?" + q.toString();
  }

  function live(store, hooks) { return store === hooks.current() && !store.stopped; }

  /* One page of records into the store; true when there may be more to read now. */
  function take(store, page, hooks) {
    hooks.ingest(store, page.records || []);
    if (page.cursor !== undefined && page.cursor !== null) store.cursor = page.cursor;
    store.status = page.status || store.status;
    if (page.done) { store.done = true; return false; }
    return !!page.records && page.records.length >= PAGE;
  }

  /* The envelope and the first page of a run, requested as soon as the page's scripts run on /runs/<id> (before
     Dash has laid the page out and called follow_run): open() takes them over once. */
  let early = null;
  function prefetch(runId) {
    const store = {runId};
    early = {runId, view: fetchJSON(seriesUrl(store, null, null, ENVELOPE_POINTS)).catch(() => null),
             page: fetchJSON(seriesUrl(store, null, PAGE))};
    early.page.catch(() => {});  // handled when open() takes it
  }

  function firstRequests(store) {
    if (early && early.runId === store.runId && store.cursor === null) {
      const got = early;
      early = null;
      return [got.view, got.page];
    }
    return [fetchJSON(seriesUrl(store, null, null, ENVELOPE_POINTS)).catch(() => null),
            fetchJSON(seriesUrl(store, store.cursor, PAGE))];
  }

  /* Open a run: the envelope and the first page together (the charts are drawn from them at once), then the
     remaining records, then follow. */
  async function open(store, hooks) {
    try {
      const [view, page] = await Promise.all(firstRequests(store));
      if (!live(store, hooks)) return;
      let more = take(store, page, hooks);
      if (more && view && view.downsampled && view.total > store.n) {  // long: its last record ends the envelope
        if (!view.last) {  // the API sends it with the envelope; asked for alone where an older server did not
          const tail = await fetchJSON(seriesUrl(store, view.total - 1, 1)).catch(() => null);
          if (!live(store, hooks)) return;
          view.last = tail && tail.records && tail.records[0];
        }
        st.setBase(store, view);
        hooks.changed(true);
        await hooks.drawn();  // the charts first: the rest of the records (for zoom, replay, 3D) meanwhile loads
      }
      hooks.changed(true);
      while (more && live(store, hooks)) more = take(store, await fetchJSON(seriesUrl(store, store.cursor, PAGE)), hooks);
    } catch (e) {
      store.error = String(e);
      if (/^404\b/.test(e.message || "")) { store.done = true; store.status = "not found"; }  // nothing to follow
    }
    if (!live(store, hooks)) return;
    hooks.changed(true);
    if (!store.done) follow(store, hooks);
  }

  function follow(store, hooks) {
    if (!live(store, hooks) || store.done) return;
    if (store.mode === "poll" || !self.WebSocket) { store.mode = "poll"; hooks.changed(true); poll(store, hooks); return; }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = store.cursor !== null ? "?after=" + encodeURIComponent(store.cursor) : "";
    let ws;
    try { ws = new WebSocket(proto + "//" + location.host + "/api/runs/" + encodeURIComponent(store.runId) + "/stream" + q); }
    catch (e) { store.wsFailures += 1; return retry(store, hooks); }
    store.ws = ws; store.mode = "ws"; hooks.changed(true);
    let got = false;
    ws.onmessage = (ev) => {
      if (store !== hooks.current()) { ws.close(); return; }
      got = true; store.wsFailures = 0;
      let msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.reset) { hooks.restart(store.runId); return; }  // the run restarted after its worker was lost
      if (msg.error) { store.error = msg.error; }
      if (msg.records) hooks.ingest(store, msg.records);
      if (msg.cursor !== undefined && msg.cursor !== null) store.cursor = msg.cursor;
      if (msg.done) { store.done = true; store.status = msg.status || store.status; hooks.changed(true); ws.close(); }
    };
    ws.onclose = () => {
      store.ws = null;
      if (!live(store, hooks) || store.done) return;
      if (!got) store.wsFailures += 1;
      retry(store, hooks);
    };
    ws.onerror = () => {};
  }

  function retry(store, hooks) {
    if (store.wsFailures >= 3) store.mode = "poll";
    const wait = Math.min(5000, 250 * Math.pow(2, store.wsFailures));
    setTimeout(() => follow(store, hooks), store.mode === "poll" ? 0 : wait);
  }

  async function poll(store, hooks) {
    while (live(store, hooks) && !store.done) {
      try {
        const page = await fetchJSON(seriesUrl(store, store.cursor, PAGE));
        if (!live(store, hooks)) return;
        if (take(store, page, hooks)) continue;
        if (store.done) { hooks.changed(true); return; }
      } catch (e) { store.error = String(e); }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  function close(store) {
    if (!store) return;
    store.stopped = true;
    if (store.ws) { try { store.ws.close(); } catch (e) { /* closed */ } }
  }

  /* The records of x in [x0, x1] (by the API envelope's buckets) into store.detail, unless they are more than
     DETAIL_MAX: a zoomed range drawn record by record before the whole series has loaded. */
  async function fetchDetail(store, xName, x0, x1, hooks) {
    if (!store.base) return;
    const [first, end] = envelope.recordRange(store.base, xName, x0, x1);
    if (end - first > DETAIL_MAX || end <= first) return;
    const key = first + ":" + end;
    if (store.detailKey === key) return;
    store.detailKey = key;
    try {
      const page = await fetchJSON(seriesUrl(store, first, end - first));
      if (!live(store, hooks) || store.detailKey !== key) return;
      const detail = st.newStore(store.runId);
      st.ingest(detail, page.records || []);
      detail.range = [first, end];
      store.detail = detail;
      hooks.changed(false);
    } catch (e) { store.error = String(e); store.detailKey = null; }
  }

  return {POLL_MS, PAGE, ENVELOPE_POINTS, DETAIL_MAX, fetchJSON, seriesUrl, prefetch, open, follow, poll, close,
          fetchDetail};
});
