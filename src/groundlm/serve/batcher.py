"""Micro-batching: concurrent requests are gathered into batches so that one model runs batched.

A request waits at most ``wait_s`` for company after the first request of a batch arrives; a batch holds at most
``max_batch`` requests that share a key (requests that must be answered with the same options). Batches run one at a
time on a single worker thread, which owns the model, so the event loop keeps accepting requests meanwhile. A request
whose key differs from the batch being gathered is held and starts the next batch, so no request waits behind more
than the batch in flight and the one being gathered.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

# ``run(key, items)`` answers a batch: one result per item, in order; an ``Exception`` in place of a result fails
# that item alone.
BatchRunner = Callable[[Hashable, Sequence[Any]], Sequence[Any]]


@dataclass
class BatchStats:
    """Counters for ``/health``: batches run, requests answered, the largest batch so far."""

    batches: int = 0
    requests: int = 0
    largest: int = 0


class MicroBatcher:
    """Gathers :meth:`submit` calls into batches for ``run``. Start it inside the event loop (:meth:`start`) and
    stop it on shutdown (:meth:`stop`)."""

    def __init__(self, run: BatchRunner, max_batch: int = 8, wait_s: float = 0.01) -> None:
        if max_batch < 1 or wait_s < 0:
            raise ValueError("a micro-batcher needs max_batch >= 1 and wait_s >= 0")
        self.run, self.max_batch, self.wait_s = run, max_batch, wait_s
        self.stats = BatchStats()
        self._queue: asyncio.Queue[tuple[Hashable, Any, asyncio.Future[Any]]] | None = None
        self._held: collections.deque[tuple[Hashable, Any, asyncio.Future[Any]]] = collections.deque()
        self._worker: asyncio.Task[None] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="groundlm-model")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def submit(self, key: Hashable, item: Any) -> Any:
        """The result for ``item``, answered in a batch of items with the same ``key``."""
        if self._queue is None:
            raise RuntimeError("the micro-batcher is not started")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((key, item, future))
        return await future

    async def _next(self, timeout: float | None) -> tuple[Hashable, Any, asyncio.Future[Any]] | None:
        assert self._queue is not None
        if timeout is None:
            return await self._queue.get()
        try:
            return await asyncio.wait_for(self._queue.get(), max(timeout, 0.0))
        except asyncio.TimeoutError:
            return None

    async def _gather(self) -> tuple[Hashable, list[tuple[Any, asyncio.Future[Any]]]]:
        """The next batch: held requests first, then arrivals within the wait window."""
        loop = asyncio.get_running_loop()
        first = self._held.popleft() if self._held else await self._next(None)
        assert first is not None
        key = first[0]
        batch = [(first[1], first[2])]
        for entry in [e for e in self._held if e[0] == key][: self.max_batch - 1]:
            self._held.remove(entry)
            batch.append((entry[1], entry[2]))
        deadline = loop.time() + self.wait_s
        while len(batch) < self.max_batch:
            entry = await self._next(deadline - loop.time())
            if entry is None:
                break
            if entry[0] == key:
                batch.append((entry[1], entry[2]))
            else:
                self._held.append(entry)
        return key, batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            key, batch = await self._gather()
            batch = [(item, f) for item, f in batch if not f.done()]  # a client that went away is not answered
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(self._executor, self.run, key, [item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"the batch runner answered {len(results)} of {len(batch)} requests")
            except Exception as err:  # the whole batch failed: every request hears why
                results = [err] * len(batch)
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))
            for (_, future), result in zip(batch, results):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
