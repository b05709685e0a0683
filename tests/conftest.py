"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio.testing

from engine.store import SqliteStore


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps to the next deadline as soon as every task is blocked (trio's own idiom)."""
    return trio.testing.MockClock(autojump_threshold=0)


def _register_hypothesis_profiles() -> None:
    """CI replays the same examples on every run (``derandomize``) so a landing never depends on luck;
    ``HYPOTHESIS_PROFILE=explore`` searches afresh with many more examples, for local bug hunting."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    settings.register_profile("explore", max_examples=2000, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()


class ManualClock:
    """A wall clock the test sets by hand (``clock.now = ...``), for records stamped with times."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[SqliteStore]:
    """A fresh SQLite store in ``tmp_path`` on the manual ``clock``."""
    s = SqliteStore(tmp_path / "store.db", clock=clock)
    yield s
    s.close()
