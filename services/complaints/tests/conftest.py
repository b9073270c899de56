"""Fixtures of the complaints tests; the helpers they use live in ``complaints_desk`` (imported by name)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The tests are not a package: make `import complaints_desk` work under --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from complaints_desk import Desk, desk_settings

from careloop_common.testing import running_app
from complaints.main import create_app


@pytest.fixture
async def desk(database_url: str, nats_url: str) -> AsyncIterator[Desk]:
    """Run the complaints service on a fresh database with coverage-map unreachable."""
    app = create_app(desk_settings(database_url, nats_url))
    async with running_app(app) as client:
        yield Desk(client, app)
