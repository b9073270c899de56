"""Gateway use cases: API keys, staff users, login, feed ingest."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import nats
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.auth import Principal, scopes_for_roles
from careloop_common.bus import Bus
from careloop_common.db import utcnow
from careloop_common.errors import Conflict, NotFound, ProblemError
from careloop_common.events import CloudEvent, MalformedEvent, contract_for, decode_payload
from gateway import credentials, repository
from gateway.models import ApiKey, StaffUser
from gateway.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    FeedEvent,
    FeedIngestResult,
    TokenResponse,
    UserCreate,
    UserUpdate,
)
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


async def create_api_key(session: AsyncSession, body: ApiKeyCreate, creator: Principal) -> ApiKeyIssued:
    """Issue a key; its token is returned now and only its hash is kept."""
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise ProblemError(422, "rule-violated", "expires_at is in the past")
    made = credentials.new_api_key()
    key = ApiKey(
        id=made.key_id,
        name=body.name,
        partner_id=body.partner_id,
        scopes=body.scopes,
        secret_hash=made.secret_hash,
        rate_limit_per_minute=body.rate_limit_per_minute,
        created_by=creator.subject,
        created_at=utcnow(),
        expires_at=body.expires_at,
    )
    await repository.add(session, key)
    log.info("api key %s created for partner %s by %s", key.id, key.partner_id, creator.subject)
    return ApiKeyIssued(**ApiKeyPublic.model_validate(key).model_dump(), token=made.token)


async def rotate_api_key(session: AsyncSession, key_id: str, grace_seconds: int) -> ApiKeyIssued:
    """Give a key a new secret; the old secret works for ``grace_seconds`` more."""
    key = await _live_key(session, key_id)
    made = credentials.new_secret_for(key.id)
    now = utcnow()
    key.previous_secret_hash = key.secret_hash if grace_seconds else None
    key.previous_valid_until = now + timedelta(seconds=grace_seconds) if grace_seconds else None
    key.secret_hash = made.secret_hash
    key.rotated_at = now
    await session.flush()
    log.info("api key %s rotated (grace %ss)", key.id, grace_seconds)
    return ApiKeyIssued(**ApiKeyPublic.model_validate(key).model_dump(), token=made.token)


async def revoke_api_key(session: AsyncSession, key_id: str) -> ApiKey:
    """Revoke a key for good (revoking twice is harmless)."""
    key = await repository.get_api_key(session, key_id)
    if key is None:
        raise NotFound("api key", key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.previous_secret_hash = None
        key.previous_valid_until = None
        await session.flush()
        log.info("api key %s revoked", key.id)
    return key


async def _live_key(session: AsyncSession, key_id: str) -> ApiKey:
    key = await repository.get_api_key(session, key_id)
    if key is None:
        raise NotFound("api key", key_id)
    if key.revoked_at is not None:
        raise Conflict(f"api key {key_id} is revoked")
    return key


async def create_user(session: AsyncSession, body: UserCreate) -> StaffUser:
    """Create a local staff account."""
    if await repository.get_user(session, body.username) is not None:
        raise Conflict(f"user {body.username} already exists")
    now = utcnow()
    user = StaffUser(
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        password_hash=await credentials.hash_password(body.password),
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, user)
    return user


async def update_user(session: AsyncSession, username: str, body: UserUpdate) -> StaffUser:
    """Change a staff account's name, roles, password or enabled state."""
    user = await repository.get_user(session, username)
    if user is None:
        raise NotFound("user", username)
    if body.display_name is not None:
        user.display_name = body.display_name
    if body.roles is not None:
        user.roles = body.roles
    if body.password is not None:
        user.password_hash = await credentials.hash_password(body.password)
    if body.disabled is not None:
        user.disabled = body.disabled
    user.updated_at = utcnow()
    await session.flush()
    return user


async def login(
    session: AsyncSession, username: str, password: str, settings: GatewaySettings
) -> TokenResponse:
    """Check a staff password and mint a token; the same 401 whatever was wrong."""
    user = await repository.get_user(session, username)
    ok = await credentials.verify_password(password, user.password_hash if user else None)
    if user is None or not ok or user.disabled:
        raise ProblemError(401, "unauthorized", "wrong user name or password, or the account is disabled")
    user.last_login_at = utcnow()
    token = credentials.mint_staff_token(
        user.username, list(user.roles), settings.token_secret, settings.staff_token_ttl_s
    )
    return TokenResponse(
        access_token=token,
        expires_in=settings.staff_token_ttl_s,
        username=user.username,
        roles=list(user.roles),
        scopes=scopes_for_roles(user.roles),
    )


def validate_feed_batch(events: list[FeedEvent], max_batch: int) -> list[CloudEvent]:
    """Check a whole batch before any of it is published: all or nothing."""
    if not events:
        raise ProblemError(422, "validation-error", "the batch is empty")
    if len(events) > max_batch:
        raise ProblemError(422, "rule-violated", f"at most {max_batch} events per batch")
    errors: list[dict[str, str]] = []
    envelopes: list[CloudEvent] = []
    for index, event in enumerate(events):
        envelope = CloudEvent.model_validate(
            {**event.model_dump(exclude_none=True), "time": event.time or utcnow()}
        )
        if contract_for(envelope.type) is not None:
            try:
                decode_payload(envelope)
            except MalformedEvent as exc:
                errors.append({"field": f"[{index}].data", "message": str(exc), "type": "feed_contract"})
        envelopes.append(envelope)
    if errors:
        # A problem type of its own: what ``data`` must hold depends on ``type`` (the contracts in
        # careloop_common.events, docs/events.md), which the batch's schema does not spell out.
        raise ProblemError(
            422, "invalid-feed-data", f"{len(errors)} event(s) do not match their contract", errors=errors
        )
    return envelopes


async def ingest_feed(bus: Bus, envelopes: list[CloudEvent]) -> FeedIngestResult:
    """Publish a validated batch onto FEEDS, each acked by JetStream; a resend is stored once."""
    accepted = duplicates = 0
    for envelope in envelopes:
        # CloudEvents ids are unique per source, so the dedup id is both.
        msg_id = hashlib.sha256(f"{envelope.source}\n{envelope.id}".encode()).hexdigest()
        try:
            ack = await bus.publish_acked(envelope, msg_id=msg_id)
        except (ConnectionError, TimeoutError, OSError, nats.errors.Error) as exc:
            raise ProblemError(
                503,
                "service-unavailable",
                f"the event store is not available ({accepted + duplicates} of {len(envelopes)} "
                "stored); send the whole batch again: stored events are not stored twice",
                headers={"Retry-After": "5"},
            ) from exc
        if ack.duplicate:
            duplicates += 1
        else:
            accepted += 1
    return FeedIngestResult(accepted=accepted, duplicates=duplicates)
