import asyncio
import threading

import pytest

from groundlm.serve.batcher import MicroBatcher


def run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_are_answered_in_batches_by_key():
    gate = threading.Event()
    calls = []

    def runner(key, items):
        gate.wait(5)  # the first batch blocks, so the others queue up behind it
        calls.append((key, list(items)))
        return [f"{key}:{i}" for i in items]

    async def main():
        batcher = MicroBatcher(runner, max_batch=4, wait_s=0.05)
        await batcher.start()
        first = asyncio.ensure_future(batcher.submit("a", 0))
        await asyncio.sleep(0.1)  # batch [0] is now running and blocked
        rest = [asyncio.ensure_future(batcher.submit("a" if i % 3 else "b", i)) for i in range(1, 10)]
        await asyncio.sleep(0.05)
        gate.set()
        answers = await asyncio.gather(first, *rest)
        await batcher.stop()
        return answers, batcher.stats

    answers, stats = run(main())
    key_of = {i: "a" if i == 0 or i % 3 else "b" for i in range(10)}
    assert answers == [f"{key_of[i]}:{i}" for i in range(10)]  # each request gets its own answer
    assert all(len(items) <= 4 for _, items in calls)
    assert all({key_of[i] for i in items} == {key} for key, items in calls)  # one key per batch
    assert calls[0] == ("a", [0]) and stats.largest == 4 and stats.requests == 10
    assert stats.batches == len(calls) < 10


def test_a_failing_item_or_batch_fails_only_its_requests():
    def runner(key, items):
        if key == "broken":
            raise RuntimeError("the model fell over")
        return [ValueError(f"bad {i}") if i == 2 else i * 10 for i in items]

    async def main():
        batcher = MicroBatcher(runner, max_batch=8, wait_s=0.02)
        await batcher.start()
        results = await asyncio.gather(
            *(batcher.submit("ok", i) for i in range(4)), batcher.submit("broken", 9), return_exceptions=True
        )
        await batcher.stop()
        return results

    results = run(main())
    assert results[:2] == [0, 10] and results[3] == 30
    assert isinstance(results[2], ValueError) and "bad 2" in str(results[2])
    assert isinstance(results[4], RuntimeError)


def test_bad_settings_and_unstarted_use_are_refused():
    with pytest.raises(ValueError):
        MicroBatcher(lambda k, x: x, max_batch=0)
    with pytest.raises(RuntimeError):
        run(MicroBatcher(lambda k, x: x).submit("k", 1))
