"""WebSocket fan-out: one Redis reader per followed run, shared by every stream of that run in this process.

A stream (``WS /api/runs/{id}/stream?after=``) first replays the records after its cursor from Redis,
in chunks of ``REPLAY_CHUNK`` (at most ``REPLAY_SLOTS`` reads at once), then takes the run's new
batches from the run's ``Feed``: one task per followed run reads the job system's ``follow`` (one
XREAD BLOCK reader of the run's stream, workers.client), encodes each batch as JSON once, and puts it in every
subscriber's queue without waiting for anyone. So 200 browsers on one run cost one Redis reader and
one encoding per batch, and the Redis connections in use are at most one per followed run plus the
replays (``pool_size``), whatever the number of browsers.

Bounds, with a clear refusal for each (the socket is accepted, then closed with a code and a reason):
- ``max_streams`` streams per process, ``max_followed_runs`` followed runs: close code 1013 (try again later);
- a subscriber's queue holds at most ``QUEUE_BYTES`` of messages it has not sent: beyond, its queued
  batches are dropped and it reads the gap from Redis when it is ready (a slow browser skips forward
  to its cursor; nothing is buffered for it in Redis, nothing grows in this process);
- a browser that takes no message for ``SEND_TIMEOUT`` seconds is dropped: close code 1008.

Messages: ``{records, cursor}``, then ``{done, status, summary}``; ``{reset, attempt, cursor: 0}``
when the run restarts on another worker and the browser holds records of the lost attempt (never
when a queued run first starts: there is nothing to drop); ``{error}`` before the socket closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket
from fastapi.concurrency import run_in_threadpool

from noether.io import finite
from workers import client as jobs

log = logging.getLogger("backend")

REPLAY_CHUNK = 2000  # records per message while replaying history
REPLAY_SLOTS = 8  # replay reads from Redis at once, per process
QUEUE_BYTES = 1 << 20  # unsent messages a subscriber may hold before it is skipped forward
SEND_TIMEOUT = 30.0  # seconds a browser may take to accept one message before it is dropped
BLOCK_MS = 1000  # a feed's blocking read (it also looks at the run's record between reads)
FEED_COUNT = 64  # stream entries per read

CLOSE_TRY_AGAIN = 1013
CLOSE_TOO_SLOW = 1008


RETRIES = 5  # tries again after 0.5, 1, 2, 4, 5 s before a stream or feed gives up with an error


async def retrying(work: Any, what: str) -> Any:
    """Run ``work()`` again after a transient Redis failure (it resumes from its own state), RETRIES times."""
    for k in range(RETRIES + 1):
        try:
            return await work()
        except jobs.TRANSIENT as exc:
            if k == RETRIES:
                raise
            log.warning("%s: %r; trying again", what, exc)
            await asyncio.sleep(min(0.5 * 2**k, 5.0))


def pool_size(settings: Any) -> int:
    """Redis connections the async client may open: one per followed run, the replays, and a margin."""
    return settings.max_followed_runs + REPLAY_SLOTS + 16


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


class Refused(Exception):
    """A stream this process will not serve now: closed with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


class TooSlow(Exception):
    pass


@dataclass(eq=False)
class Batch:
    """Records ``first..end`` of the run, with their message encoded once for every subscriber."""

    first: int
    end: int
    text: str
    attempt: int = 0  # the attempt whose records these are

    def body(self, cursor: int | None = None) -> str:
        """The JSON of its records from ``cursor`` on, without the brackets (to join batches into one message)."""
        if cursor is None or cursor <= self.first:
            return self.text[len('{"records":['):self.text.rindex('],"cursor":')]
        return dumps(json.loads(self.text)["records"][cursor - self.first:])[1:-1]  # rare: decoded again


@dataclass(eq=False)
class Signal:
    kind: str  # "reset" (a new attempt), "done" (the end marker at ``end``), "error", "gone" (stream expired)
    attempt: int = 0
    end: int = 0
    text: str = ""


@dataclass(eq=False)
class Subscriber:
    """One stream's queue of messages from its feed; bounded in bytes (see ``offer``)."""

    queue: deque = field(default_factory=deque)
    queued_bytes: int = 0
    skipped: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, item: Batch | Signal) -> None:
        """Queue ``item`` without waiting; if unsent batches would exceed QUEUE_BYTES, drop them (the
        stream then reads the gap from Redis; signals are kept)."""
        if isinstance(item, Batch):
            size = len(item.text)
            if self.queued_bytes and self.queued_bytes + size > QUEUE_BYTES:
                self.queue = deque(x for x in self.queue if not isinstance(x, Batch))
                self.queued_bytes = 0
                self.skipped += 1
            self.queued_bytes += size
        self.queue.append(item)
        self.event.set()

    async def next(self) -> Batch | Signal:
        while not self.queue:
            self.event.clear()
            await self.event.wait()
        item = self.queue.popleft()
        if isinstance(item, Batch):
            self.queued_bytes -= len(item.text)
        return item

    def following(self, end: int) -> list[Batch]:
        """The queued batches that continue a batch ending at ``end``, taken off the queue."""
        out: list[Batch] = []
        while self.queue and isinstance(self.queue[0], Batch) and self.queue[0].first == end:
            batch = self.queue.popleft()
            self.queued_bytes -= len(batch.text)
            out.append(batch)
            end = batch.end
        return out


class Feed:
    """The one reader of a followed run's stream in this process."""

    def __init__(self, hub: Hub, run_id: str):
        self.hub, self.run_id = hub, run_id
        self.subscribers: set[Subscriber] = set()
        self.task: asyncio.Task | None = None

    def broadcast(self, item: Batch | Signal) -> None:
        for sub in list(self.subscribers):
            sub.offer(item)

    async def run(self) -> None:
        try:
            await retrying(self._loop, f"feed of run {self.run_id}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down for good: every stream of the run says so and ends
            log.warning("feed of run %s failed: %r", self.run_id, exc)
            self.broadcast(Signal("error", text=dumps({"error": f"stream failed: {type(exc).__name__}"})))
        finally:
            self.hub.ended(self)

    async def _loop(self) -> None:
        ar = self.hub.state.aredis()
        async for event in jobs.follow(ar, self.run_id, block_ms=BLOCK_MS, count=FEED_COUNT):
            match event:
                case jobs.Published(first=first, records=batch, attempt=attempt):
                    end = first + len(batch)
                    self.broadcast(Batch(first, end, dumps({"records": batch, "cursor": end}), attempt))
                case jobs.Restarted(attempt=attempt):
                    self.broadcast(Signal("reset", attempt=attempt))
                case jobs.Ended(end=end):
                    self.broadcast(Signal("done", end=end, text=await done_text(ar, self.run_id, None)))
                case jobs.Deleted():
                    self.broadcast(Signal("error", text=dumps({"error": "the run was deleted"})))
                case jobs.Expired():
                    self.broadcast(Signal("gone"))  # archived and expired from Redis: read from the store


async def done_text(ar: Any, run_id: str, status: str | None) -> str:
    rec = await jobs.aget(ar, run_id)
    return dumps({"done": True, "status": (rec.status if rec else None) or status,
                  "summary": finite(rec.summary if rec else None)})


class Hub:
    """This process's streams and feeds, with their limits."""

    def __init__(self, state: Any):
        self.state = state
        self.settings = state.settings
        self.feeds: dict[str, Feed] = {}
        self.streams = 0
        self._replays: asyncio.Semaphore | None = None

    @property
    def replays(self) -> asyncio.Semaphore:
        if self._replays is None:
            self._replays = asyncio.Semaphore(REPLAY_SLOTS)
        return self._replays

    def open(self) -> None:
        if self.streams >= self.settings.max_streams:
            raise Refused(CLOSE_TRY_AGAIN, f"busy: this server has {self.streams} streams open, its limit "
                          "(NOETHER_MAX_STREAMS); try again later")
        self.streams += 1

    def close(self) -> None:
        self.streams -= 1

    def subscribe(self, run_id: str) -> tuple[Feed, Subscriber]:
        feed = self.feeds.get(run_id)
        if feed is None:
            if len(self.feeds) >= self.settings.max_followed_runs:
                raise Refused(CLOSE_TRY_AGAIN, f"busy: this server follows {len(self.feeds)} live runs, its limit "
                              "(NOETHER_MAX_FOLLOWED_RUNS); try again later")
            feed = self.feeds[run_id] = Feed(self, run_id)
            feed.task = asyncio.create_task(feed.run())
        sub = Subscriber()
        feed.subscribers.add(sub)
        return feed, sub

    def unsubscribe(self, feed: Feed, sub: Subscriber) -> None:
        feed.subscribers.discard(sub)
        if not feed.subscribers and feed.task is not None:
            feed.task.cancel()
            self.ended(feed)

    def ended(self, feed: Feed) -> None:
        if self.feeds.get(feed.run_id) is feed:
            del self.feeds[feed.run_id]


# --- one stream --------------------------------------------------------------------------------


class Stream:
    """What one WebSocket receives: history after its cursor, then its feed's batches, then done."""

    def __init__(self, websocket: WebSocket, state: Any, run_id: str, cursor: int):
        self.ws, self.state, self.run_id, self.cursor = websocket, state, run_id, cursor
        self.hub: Hub = state.hub()
        self.attempt = 0
        self.started = False

    async def send(self, text: str) -> None:
        try:
            async with asyncio.timeout(SEND_TIMEOUT):  # (no task per message, unlike wait_for)
                await self.ws.send_text(text)
        except TimeoutError:
            raise TooSlow from None

    async def run(self) -> None:
        if not jobs.valid_run_id(self.run_id):
            await self.send(dumps({"error": f"invalid run id '{self.run_id}'"}))
            return
        ar = self.state.aredis()
        status, attempt = await jobs.state(ar, self.run_id)
        if status is None:
            rec = await run_in_threadpool(jobs.get, self.state.redis, self.state.settings, self.run_id)
            if rec is None:
                await self.send(dumps({"error": f"no run with id '{self.run_id}'"}))
                return
            await self.from_store(rec)
            return
        if self.started:  # resumed after a transient Redis failure: the run may have restarted meanwhile
            await self.reset(attempt)
        else:
            self.attempt, self.started = attempt, True
        feed, sub = self.hub.subscribe(self.run_id)
        try:
            if await self.catch_up():
                return
            while True:
                item = await sub.next()
                if isinstance(item, Batch):
                    if item.attempt < self.attempt:
                        continue  # queued before the feed saw the new attempt: records of the lost one
                    if item.attempt > self.attempt:
                        # a stream that read the run's attempt before a (re)start but subscribed after the
                        # feed's reset: it learns the attempt here (a reset goes out only if it holds records)
                        await self.reset(item.attempt)
                    if item.first > self.cursor and await self.catch_up():
                        return
                    if item.end <= self.cursor or item.first > self.cursor:
                        continue  # already sent (or a gap Redis no longer holds: never skip records)
                    more = sub.following(item.end)  # a backlog goes out as one message, not one per batch
                    if item.first == self.cursor and not more:
                        await self.send(item.text)  # the common case: the message encoded once for all
                    else:
                        bodies = [item.body(self.cursor), *(b.body() for b in more)]
                        end = (more[-1] if more else item).end
                        await self.send('{"records":[' + ",".join(bodies) + f'],"cursor":{end}}}')
                    self.cursor = (more[-1] if more else item).end
                elif item.kind == "reset":
                    await self.reset(item.attempt)
                elif item.kind == "done":
                    if self.cursor < item.end and await self.catch_up():
                        return
                    await self.send(item.text)
                    return
                elif item.kind == "gone":
                    rec = await run_in_threadpool(jobs.get, self.state.redis, self.state.settings, self.run_id)
                    await self.from_store(rec)
                    return
                else:
                    await self.send(item.text)
                    return
        finally:
            self.hub.unsubscribe(feed, sub)

    async def reset(self, attempt: int) -> None:
        """A new attempt: a browser holding records of the old one is told to drop them (once per attempt)."""
        if attempt == self.attempt:
            return
        self.attempt = attempt
        if self.cursor > 0:
            self.cursor = 0
            await self.send(dumps({"reset": True, "attempt": attempt, "cursor": 0}))

    async def catch_up(self) -> bool:
        """Send the records after the cursor that Redis holds; True once the stream has ended (done sent)."""
        ar = self.state.aredis()
        while True:
            async with self.hub.replays:
                chunk = await jobs.read_after(ar, self.run_id, self.cursor, REPLAY_CHUNK)
                status, attempt = await jobs.state(ar, self.run_id)
                text = dumps({"records": chunk.records, "cursor": chunk.cursor}) if chunk and chunk.records else None
            if status is None:
                await self.send(dumps({"error": "the run was deleted"}))
                return True
            if attempt != self.attempt and status not in jobs.TERMINAL:
                await self.reset(attempt)
                continue
            if chunk is None:
                if status in jobs.TERMINAL:
                    rec = await run_in_threadpool(jobs.get, self.state.redis, self.state.settings, self.run_id)
                    await self.from_store(rec)
                    return True
                return False
            if text is not None:
                self.cursor = chunk.cursor
                await self.send(text)
            if chunk.ended:
                await self.send(await done_text(ar, self.run_id, chunk.end_status))
                return True
            if len(chunk.records) < REPLAY_CHUNK:
                return False

    async def from_store(self, rec: jobs.Job | None) -> None:
        """A finished run whose stream has expired: its archived records after the cursor, then done."""
        pages = await run_in_threadpool(
            lambda: list(jobs.stored_pages(self.state.settings, self.run_id, self.cursor, REPLAY_CHUNK)))
        for page in pages:
            self.cursor += len(page)
            await self.send(dumps({"records": page, "cursor": self.cursor}))
        await self.send(dumps({"done": True, "status": rec.status if rec else None,
                               "summary": finite(rec.summary if rec else None)}))


async def serve(websocket: WebSocket, state: Any, run_id: str, after: int) -> None:
    """The whole life of one stream: limits, then history and live batches, then close."""
    await websocket.accept()
    hub: Hub = state.hub()
    try:
        hub.open()
    except Refused as refused:
        await websocket.close(code=refused.code, reason=refused.reason)
        return
    try:
        stream = Stream(websocket, state, run_id, max(0, after))
        follower = asyncio.create_task(retrying(stream.run, f"stream of run {run_id}"))  # resumes at its cursor
        listener = asyncio.create_task(_until_disconnect(websocket))
        try:
            done, _ = await asyncio.wait({follower, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (follower, listener):
                task.cancel()
            await asyncio.gather(follower, listener, return_exceptions=True)  # (their exceptions are read below)
        code, reason = 1000, ""
        if follower in done and not follower.cancelled() and follower.exception() is not None:
            exc = follower.exception()
            if isinstance(exc, Refused):
                code, reason = exc.code, exc.reason
            elif isinstance(exc, TooSlow):
                code, reason = CLOSE_TOO_SLOW, f"too slow: a message waited over {SEND_TIMEOUT:.0f} s to be sent"
            elif not isinstance(exc, OSError | RuntimeError) and not type(exc).__name__.startswith("WebSocketDisconnect"):
                log.error("stream of run %s failed: %r", run_id, exc)
                try:
                    await asyncio.wait_for(websocket.send_text(dumps({"error": f"stream failed: {type(exc).__name__}"})), 1)
                except Exception:
                    pass
        try:
            await asyncio.wait_for(websocket.close(code=code, reason=reason), 1)
        except Exception:
            pass
    finally:
        hub.close()


async def _until_disconnect(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
