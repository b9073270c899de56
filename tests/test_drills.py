"""The fault drills (``careloop drill``) as tests: the platform as real processes (every service, the
gateway, nats-server, SQLite files, the SMPP stand-in SMSC), a load of complaints and SMS through the
gateway, one fault at a time, and a count that must end with nothing lost, nothing doubled, no 500.

The quick drills share one platform (starting it is most of their time); the 30-second NATS outage
and killing every service in turn are ``slow`` (``-m slow``). docs/reliability.md has the figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from careloop_common.drills.cli import run_drills
from careloop_common.drills.faults import Outcome
from careloop_common.launcher.cli import app as cli

QUICK = ("poison-event", "smsc-throttle", "db-readonly", "nats-outage", "kill-complaints")
KILL_EVERY_SERVICE = (
    "kill-complaints",
    "kill-coverage-map",
    "kill-contact-gateway",
    "kill-campaigns",
    "kill-web",
    "kill-gateway",
)


def verdicts(outcomes: list[Outcome]) -> dict[str, list[str]]:
    """Return each drill's failures (empty when it passed), with what went missing or twice."""
    return {
        o.name: [
            *o.failures,
            *(f"lost: {line}" for line in o.tally.missing[:5]),
            *(f"doubled: {line}" for line in o.tally.doubled[:5]),
        ]
        for o in outcomes
    }


def check(outcomes: list[Outcome], names: tuple[str, ...]) -> None:
    """Every drill ran, had load accepted and events flowing, and lost and doubled nothing."""
    assert [o.name for o in outcomes] == list(names)
    assert verdicts(outcomes) == {name: [] for name in names}
    for outcome in outcomes:
        tally = outcome.tally
        assert (tally.lost, tally.duplicated, outcome.server_errors) == (0, 0, 0), outcome.name
        assert min(tally.accepted, tally.published, tally.applied, tally.sent) > 0, outcome.name


async def test_quick_drills_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    outcomes = await run_drills(QUICK, tmp_path / "platform", seconds=3.0, complaints=10, sends=10)
    check(outcomes, QUICK)
    found = {o.name: o.findings for o in outcomes}
    # Each fault really happened while the load was running.
    assert found["poison-event"]["poison dead-lettered"] == found["poison-event"]["poison published"] == 3
    assert found["smsc-throttle"]["throttled submits"] >= 30
    assert "503" in found["db-readonly"]["statuses while unwritable"]
    assert found["db-readonly"]["integrity_check"] == "ok"
    assert found["nats-outage"]["broker stopped after accepted"] < 20
    assert found["kill-complaints"]["killed after accepted"] < 20


@pytest.mark.slow
async def test_a_30_second_nats_outage_and_an_smsc_outage_lose_nothing(tmp_path: Path) -> None:
    names = ("nats-outage", "smsc-outage")
    outcomes = await run_drills(names, tmp_path / "platform", seconds=30.0, complaints=30, sends=30)
    check(outcomes, names)
    assert outcomes[0].findings["accepted while the broker was down"] > 0


@pytest.mark.slow
async def test_killing_every_service_in_turn_loses_nothing(tmp_path: Path) -> None:
    outcomes = await run_drills(
        KILL_EVERY_SERVICE, tmp_path / "platform", seconds=3.0, complaints=30, sends=30
    )
    check(outcomes, KILL_EVERY_SERVICE)


def test_an_unknown_drill_is_refused_with_the_list() -> None:
    result = CliRunner().invoke(cli, ["drill", "kill-everything"])
    assert result.exit_code == 2
    assert "nats-outage" in result.output
