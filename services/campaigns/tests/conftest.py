"""Fixtures of the campaigns tests; the helpers they use live in ``audience`` (imported by name)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The tests are not a package: make `import audience` work under --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from audience import Audience, migrated

from careloop_common.db import create_engine, create_session_factory


@pytest.fixture
async def audience(database_url: str) -> AsyncIterator[Audience]:
    """A migrated campaigns database to fill with subscribers and select from both ways."""
    await migrated(database_url)
    engine = create_engine(database_url)
    try:
        yield Audience(create_session_factory(engine))
    finally:
        await engine.dispose()
