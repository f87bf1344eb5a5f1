"""The fuzz harness itself: a runaway case is stopped and reported, and the next case runs."""

from __future__ import annotations

import pytest
from fuzz_harness import Guard, Runaway


@pytest.fixture
def guard():
    g = Guard(seconds=3, megabytes=512)
    yield g
    g.close()


def test_the_guard_stops_runaway_memory_time_and_allocation(guard):
    with pytest.raises(Runaway, match=r"old-renderer.*MB resident"):
        guard.run("fuzz_cases", "runaway_case", what="old-renderer")
    with pytest.raises(Runaway, match=r"busy.*ran away: \d+\.\d s"):
        guard.run("fuzz_cases", "runaway_case", what="busy")
    # one huge allocation fails inside the worker (address-space limit), not on the machine
    out = guard.run("fuzz_cases", "runaway_case", what="alloc")
    assert (out.status, out.error_type) == ("crash", "MemoryError")
    assert guard.run("fuzz_cases", "runaway_case", what="nothing").status == "result"
