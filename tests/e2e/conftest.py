"""Fixtures for the end-to-end tests: a whole sandbox per test, started and stopped here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.servers import Sandbox


@pytest.fixture
def box() -> Iterator[Sandbox]:
    """Every server on a random port, the organization and the stack; all gone afterwards."""
    with Sandbox() as sandbox:
        yield sandbox
