"""Fixtures of the campaigns tests; what they share lives in ``campaign_data`` and ``audience``
(imported by name)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The tests are not a package: make `import campaign_data` and `import audience` work under
# --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from audience import Audience, migrated
from campaign_data import Campaigns

from campaigns.main import create_app
from campaigns.settings import CampaignsSettings
from careloop_common.db import create_engine, create_session_factory
from careloop_common.testing import running_app, service_settings


@pytest.fixture
async def campaigns(database_url: str, nats_url: str) -> AsyncIterator[Campaigns]:
    """Run the campaigns service on a fresh, migrated database; no background work."""
    app = create_app(service_settings(CampaignsSettings, database_url, nats_url, run_background=False))
    async with running_app(app) as client:
        yield Campaigns(client=client, sessions=app.state.platform.sessions, app=app)


@pytest.fixture
async def audience(database_url: str) -> AsyncIterator[Audience]:
    """A migrated campaigns database to fill with subscribers and select from both ways."""
    await migrated(database_url)
    engine = create_engine(database_url)
    try:
        yield Audience(create_session_factory(engine))
    finally:
        await engine.dispose()
