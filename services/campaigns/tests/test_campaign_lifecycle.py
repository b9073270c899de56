"""The campaign lifecycle's rules on their own: moves, four eyes, the edit lock, control groups."""

from __future__ import annotations

import pytest

from campaigns.lifecycle import (
    STATUSES,
    TRANSITIONS,
    check_approver,
    check_editable,
    check_transition,
    in_control_group,
)
from careloop_common.errors import ProblemError

# The closed loop, written out by hand: every move the issue names, and nothing else.
ALLOWED = {
    ("draft", "submitted"),
    ("draft", "cancelled"),
    ("submitted", "approved"),
    ("submitted", "rejected"),
    ("submitted", "draft"),
    ("rejected", "draft"),
    ("rejected", "cancelled"),
    ("approved", "scheduled"),
    ("approved", "running"),
    ("approved", "draft"),
    ("approved", "cancelled"),
    ("scheduled", "running"),
    ("scheduled", "paused"),
    ("scheduled", "cancelled"),
    ("running", "paused"),
    ("running", "completed"),
    ("paused", "running"),
    ("paused", "completed"),
    ("paused", "cancelled"),
    ("completed", "evaluated"),
}


@pytest.mark.parametrize("origin", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_only_the_closed_loops_moves_are_allowed(origin: str, target: str) -> None:
    if (origin, target) in ALLOWED:
        check_transition(origin, target)
    else:
        with pytest.raises(ProblemError) as refused:
            check_transition(origin, target)
        assert refused.value.status == 409
        assert refused.value.extra["allowed"] == sorted(TRANSITIONS[origin])


def test_an_unknown_status_is_a_422_naming_the_known_ones() -> None:
    with pytest.raises(ProblemError) as refused:
        check_transition("draft", "launched")
    assert (refused.value.status, refused.value.slug) == (422, "unknown-status")


def test_the_author_cannot_approve_their_own_campaign() -> None:
    check_approver("mei", "ken")
    with pytest.raises(ProblemError) as refused:
        check_approver("mei", "mei")
    assert (refused.value.status, refused.value.slug) == (403, "approver-is-author")


@pytest.mark.parametrize("status", STATUSES)
def test_only_drafts_and_rejected_campaigns_can_be_edited(status: str) -> None:
    if status in ("draft", "rejected"):
        check_editable(status)
    else:
        with pytest.raises(ProblemError) as refused:
            check_editable(status)
        assert (refused.value.status, refused.value.slug) == (409, "campaign-locked")


def test_control_groups_are_deterministic_and_sized_by_the_share() -> None:
    numbers = [f"+8529{n:07d}" for n in range(20_000)]
    held = [n for n in numbers if in_control_group("c1", n, 0.1)]
    assert held == [n for n in numbers if in_control_group("c1", n, 0.1)]  # the same every time
    assert 0.09 < len(held) / len(numbers) < 0.11  # three standard deviations around 10 %
    # A larger share keeps everyone a smaller share held out: groups only grow.
    assert set(held) <= {n for n in numbers if in_control_group("c1", n, 0.2)}
    # Another campaign holds out other customers, so nobody is left out of every campaign.
    other = {n for n in numbers if in_control_group("c2", n, 0.1)}
    assert len(other & set(held)) < len(held) * 0.2


@pytest.mark.parametrize("share", [0.0, -1.0])
def test_no_share_holds_nobody_out(share: float) -> None:
    assert not any(in_control_group("c1", f"+8529{n:07d}", share) for n in range(1000))
