"""The decode-ahead thread: order kept, errors raised in the consumer, early exit stops it."""

import threading

import pytest

from dunkwatch.pipeline.scoring.decode import prefetched


def test_items_arrive_in_order():
    assert list(prefetched(range(100), depth=3)) == list(range(100))


def test_an_error_in_the_producer_is_raised_in_the_consumer():
    def items():
        yield 1
        raise ValueError("truncated or damaged")

    got = []
    with pytest.raises(ValueError, match="truncated"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1]


def test_stopping_early_ends_the_producer_thread():
    produced = []

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    stream = prefetched(items(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "decode"]
    assert len(produced) < 10
