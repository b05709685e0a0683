"""Fixtures of the admin API tests."""

from __future__ import annotations

import pytest

from tests.admin_api.helpers import TestCrm


@pytest.fixture
def crm() -> TestCrm:
    return TestCrm()
