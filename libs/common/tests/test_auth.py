"""Forwarded principals: signature and expiry are enforced, also for a token checked before."""

from __future__ import annotations

import time

import pytest

from careloop_common.auth import Principal, sign_principal, verify_principal
from careloop_common.errors import ProblemError

SECRET = "test-secret-with-enough-entropy-for-hs256-0001"


def agent() -> Principal:
    return Principal(subject="agent-1", kind="staff", roles=["agent"], scopes=["complaints:read"])


def test_a_signed_principal_reads_back_the_same_each_time() -> None:
    token = sign_principal(agent(), SECRET)
    first, again = verify_principal(token, SECRET), verify_principal(token, SECRET)
    assert first == again == agent()
    first.scopes.append("complaints:write")  # a caller changing its copy changes nobody else's
    assert verify_principal(token, SECRET).scopes == ["complaints:read"]


def test_a_wrong_secret_is_refused_even_after_the_token_was_accepted() -> None:
    token = sign_principal(agent(), SECRET)
    verify_principal(token, SECRET)
    with pytest.raises(ProblemError) as refused:
        verify_principal(token, SECRET.replace("0001", "0002"))
    assert refused.value.status == 401


def test_a_cached_token_is_refused_once_it_expires() -> None:
    token = sign_principal(agent(), SECRET, ttl_s=1)
    assert verify_principal(token, SECRET).subject == "agent-1"
    time.sleep(2.1)  # JWT expiry has one-second resolution; this waits it out, it times nothing
    with pytest.raises(ProblemError) as expired:
        verify_principal(token, SECRET)
    assert expired.value.status == 401
