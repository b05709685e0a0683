"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
import trio.testing


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
