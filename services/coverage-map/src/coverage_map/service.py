"""Domain rules of the coverage-map service: areas and levels, investigations and their priority."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.auth import Principal
from careloop_common.db import utcnow
from careloop_common.errors import Conflict, NotFound, ProblemError
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.events.coverage import (
    AreaAssessedV1,
    InvestigationOpenedV1,
    LevelReading,
    PlanCompletedV1,
    PlanScheduledV1,
    WordingPublishedV1,
)
from careloop_common.outbox import publish_later
from coverage_map import repository, wording
from coverage_map.models import (
    Area,
    AreaLevel,
    AreaWording,
    Assessment,
    District,
    ImprovementPlan,
    Investigation,
    InvestigationComplaint,
)
from coverage_map.schemas import (
    AreaDetail,
    AssessmentCreate,
    InvestigationBrief,
    InvestigationPublic,
    LevelIn,
    LevelOut,
    LookupAnswer,
    PlanCreate,
    PlanPublic,
    PlanUpdate,
    PublicLevel,
    PublicLookup,
    PublicPlan,
    QueueItem,
    WordingPublic,
    readings,
)

HIGH_VALUE_CLASSES = frozenset({"vip", "gold", "key_account"})
TECHNOLOGIES = ("2G", "3G", "4G", "5G")
SERVICES = ("voice", "data")
LEVELS = ("none", "weak", "normal", "good")
# A level from a survey or a finished plan outranks one predicted from imports: an import never
# overwrites what an engineer measured.
SOURCE_RANK = {"survey": 2, "plan": 2, "prediction": 1, "derived": 1}


@dataclass(frozen=True)
class Grid:
    """The H3 resolutions of areas and districts."""

    area_resolution: int
    district_resolution: int

    def area_of(self, lat: float, lng: float) -> str:
        """Return the area (H3 cell) containing a point; a 422 problem for impossible coordinates."""
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ProblemError(422, "validation-error", f"no such place: lat {lat}, lng {lng}")
        return str(h3.latlng_to_cell(lat, lng, self.area_resolution))

    def district_of(self, area_id: str) -> str:
        """Return the district (coarser parent cell) of an area."""
        return str(h3.cell_to_parent(area_id, self.district_resolution))

    def check_area(self, area_id: str) -> str:
        """Return a valid area id at this grid's resolution, or raise a 404 problem: no such area."""
        if not h3.is_valid_cell(area_id) or h3.get_resolution(area_id) != self.area_resolution:
            raise ProblemError(
                404,
                "not-found",
                f"no area {area_id!r}: an area id is an H3 cell at resolution {self.area_resolution}",
            )
        return area_id

    def check_district(self, district_id: str) -> str:
        """Return a valid district id, or raise a 404 problem: no such district."""
        if not h3.is_valid_cell(district_id) or h3.get_resolution(district_id) != self.district_resolution:
            raise ProblemError(
                404,
                "not-found",
                f"no district {district_id!r}: a district id is an H3 cell "
                f"at resolution {self.district_resolution}",
            )
        return district_id


def area_of(lat: float, lng: float, resolution: int) -> str:
    """Return the H3 cell (the area id) containing a point."""
    return str(h3.latlng_to_cell(lat, lng, resolution))


async def ensure_area(session: AsyncSession, grid: Grid, area_id: str) -> Area:
    """Return the area row, creating it (with its centre and district) on first use."""
    area = await repository.get_area(session, area_id)
    if area is None:
        lat, lng = h3.cell_to_latlng(area_id)
        area = Area(id=area_id, district_id=grid.district_of(area_id), lat=lat, lng=lng, created_at=utcnow())
        await repository.add(session, area)
    return area


async def set_level(
    session: AsyncSession,
    area_id: str,
    technology: str,
    service: str,
    level: str,
    *,
    source: str,
    source_ref: str | None,
    by: str,
    at: datetime | None = None,
) -> bool:
    """Record an area's level unless a more authoritative one is already there; return whether it changed."""
    current = await repository.get_level(session, area_id, technology, service)
    if current is not None and SOURCE_RANK[source] < SOURCE_RANK.get(current.source, 0):
        return False
    if current is None:
        current = AreaLevel(
            area_id=area_id,
            technology=technology,
            service=service,
            level=level,
            source=source,
            source_ref=source_ref,
            observed_at=at or utcnow(),
            recorded_by=by,
        )
        await repository.add(session, current)
        return True
    changed = current.level != level
    current.level, current.source, current.source_ref = level, source, source_ref
    current.observed_at, current.recorded_by = at or utcnow(), by
    return changed


# --- investigations -------------------------------------------------------------------------------

# Priority score (documented in docs/coverage.md): complaints matter most, then the customers
# behind them, high-value customers count three times, a known weak or no-signal level adds
# weight, and the score halves for every week since the last complaint.
PRIORITY_WEIGHTS = {"complaint": 1.0, "customer": 1.0, "high_value": 3.0}
LEVEL_WEIGHT = {"none": 4.0, "weak": 2.0, "normal": 0.0, "good": 0.0, None: 1.0}
SURVEY_TARGETS = ((20.0, timedelta(days=1)), (8.0, timedelta(days=2)), (0.0, timedelta(days=3)))


def priority_score(investigation: Investigation, worst_level: str | None, now: datetime) -> float:
    """Return how urgently engineering should survey an investigation's area."""
    base = (
        PRIORITY_WEIGHTS["complaint"] * investigation.complaint_count
        + PRIORITY_WEIGHTS["customer"] * investigation.customer_count
        + PRIORITY_WEIGHTS["high_value"] * investigation.high_value_count
        + LEVEL_WEIGHT.get(worst_level, 1.0)
    )
    weeks_quiet = max(0.0, (now - investigation.last_complaint_at).total_seconds() / (7 * 86_400))
    return round(float(base * 0.5**weeks_quiet), 2)


def survey_target(score: float, opened_at: datetime) -> datetime:
    """Return when the survey should be done: sooner for higher scores (1, 2 or 3 days)."""
    for threshold, within in SURVEY_TARGETS:
        if score >= threshold:
            return opened_at + within
    return opened_at + SURVEY_TARGETS[-1][1]


async def record_follow_up(
    session: AsyncSession, request: FollowUpRequestedV1, *, grid: Grid, source: str
) -> Investigation:
    """Open the area's investigation or join the open one; a complaint counts once."""
    area_id = grid.area_of(request.lat, request.lng)
    area = await ensure_area(session, grid, area_id)
    await repository.lock_area(session, area_id)
    investigation = await repository.open_investigation_for_area(session, area_id)
    if investigation is None:
        investigation = Investigation(
            id=str(uuid.uuid4()),
            area_id=area_id,
            district_id=area.district_id,
            status=repository.OPEN,
            complaint_count=0,
            customer_count=0,
            high_value_count=0,
            symptom_counts={},
            first_complaint_at=request.requested_at,
            last_complaint_at=request.requested_at,
            opened_at=request.requested_at,
        )
        await repository.add(session, investigation)
        publish_later(
            session,
            InvestigationOpenedV1(
                investigation_id=investigation.id,
                area_id=area_id,
                complaint_id=request.complaint_id,
                opened_at=investigation.opened_at,
            ),
            source=source,
            subject=investigation.id,
        )
    if await repository.complaint_link(session, request.complaint_id) is not None:
        return investigation
    new_customer = request.customer_ref is None or not await repository.customer_in_investigation(
        session, investigation.id, request.customer_ref
    )
    investigation.complaint_count += 1
    if new_customer:
        investigation.customer_count += 1
        if request.customer_class in HIGH_VALUE_CLASSES:
            investigation.high_value_count += 1
    counts = dict(investigation.symptom_counts)
    for symptom in request.symptoms:
        counts[symptom] = counts.get(symptom, 0) + 1
    investigation.symptom_counts = counts
    investigation.first_complaint_at = min(investigation.first_complaint_at, request.requested_at)
    investigation.last_complaint_at = max(investigation.last_complaint_at, request.requested_at)
    worst = await repository.worst_level(session, area_id)
    investigation.survey_due_at = survey_target(
        priority_score(investigation, worst, investigation.last_complaint_at), investigation.opened_at
    )
    await repository.add(
        session,
        investigation,
        InvestigationComplaint(
            complaint_id=request.complaint_id,
            investigation_id=investigation.id,
            reference=request.reference,
            requested_at=request.requested_at,
            area_id=area_id,
            district_id=area.district_id,
            customer_ref=request.customer_ref,
            customer_class=request.customer_class,
            symptoms=list(request.symptoms),
            network=request.network,
        ),
    )
    return investigation


# --- assessments, plans, wording ----------------------------------------------------------------

PLAN_MOVES = {
    "planned": {"in_progress", "done", "cancelled"},
    "in_progress": {"done", "cancelled"},
    "done": set(),
    "cancelled": set(),
}


def _readings(levels: list[LevelIn] | list[dict[str, str]]) -> list[LevelReading]:
    return [LevelReading.model_validate(lv if isinstance(lv, dict) else lv.model_dump()) for lv in levels]


async def district_name(session: AsyncSession, district_id: str, language: str) -> str | None:
    """Return a district's name in a language (or English), None when it has none."""
    district = await repository.get_district(session, district_id)
    if district is None:
        return None
    return district.names.get(language) or district.names.get("en")


async def assess_area(
    session: AsyncSession, grid: Grid, area_id: str, body: AssessmentCreate, by: Principal, source: str
) -> tuple[Assessment, ImprovementPlan | None, list[AreaWording]]:
    """Record a survey: the levels found, the investigation assessed, an optional plan, new drafts."""
    area = await ensure_area(session, grid, grid.check_area(area_id))
    investigation = await _investigation_to_assess(session, area_id, body.investigation_id)
    now = utcnow()
    assessment = Assessment(
        id=str(uuid.uuid4()),
        area_id=area_id,
        investigation_id=investigation.id if investigation else None,
        levels=[lv.model_dump() for lv in readings(body.levels)],
        findings=body.findings,
        assessed_by=by.subject,
        assessed_at=now,
    )
    await repository.add(session, assessment)
    for lv in readings(body.levels):
        await set_level(
            session,
            area_id,
            lv.technology,
            lv.service,
            lv.level,
            source="survey",
            source_ref=assessment.id,
            by=by.subject,
            at=now,
        )
    if investigation is not None:
        investigation.status, investigation.assessed_at = "assessed", now
    publish_later(
        session,
        AreaAssessedV1(
            assessment_id=assessment.id,
            area_id=area_id,
            district_id=area.district_id,
            investigation_id=assessment.investigation_id,
            levels=_readings(readings(body.levels)),
            assessed_at=now,
        ),
        source=source,
        subject=area_id,
    )
    plan = None
    if body.plan is not None:
        plan = await _schedule_plan(session, area, body.plan, assessment.id, by, source)
    wording = await redraft_wording(session, area, by)
    return assessment, plan, wording


async def _investigation_to_assess(
    session: AsyncSession, area_id: str, investigation_id: str | None
) -> Investigation | None:
    if investigation_id is None:
        return await repository.current_investigation(session, area_id)
    investigation = await repository.get(session, investigation_id)
    if investigation is None or investigation.area_id != area_id:
        raise NotFound("investigation in this area", investigation_id)
    if investigation.status == "closed":
        raise Conflict(f"investigation {investigation_id} is closed")
    return investigation


async def create_plan(
    session: AsyncSession, grid: Grid, area_id: str, body: PlanCreate, by: Principal, source: str
) -> ImprovementPlan:
    """Schedule an improvement plan for an area and redraft its wording."""
    area = await ensure_area(session, grid, grid.check_area(area_id))
    plan = await _schedule_plan(session, area, body, None, by, source)
    await redraft_wording(session, area, by)
    return plan


async def _schedule_plan(
    session: AsyncSession, area: Area, body: PlanCreate, assessment_id: str | None, by: Principal, source: str
) -> ImprovementPlan:
    if body.target_date < utcnow().date():
        raise ProblemError(422, "rule-violated", "target_date is in the past")
    now = utcnow()
    plan = ImprovementPlan(
        id=str(uuid.uuid4()),
        area_id=area.id,
        assessment_id=assessment_id,
        action=body.action,
        description=body.description,
        target_date=body.target_date,
        status="planned",
        expected_levels=[lv.model_dump() for lv in readings(body.expected_levels)],
        created_by=by.subject,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, plan)
    _announce_schedule(session, plan, area, source)
    return plan


def _announce_schedule(session: AsyncSession, plan: ImprovementPlan, area: Area, source: str) -> None:
    publish_later(
        session,
        PlanScheduledV1(
            plan_id=plan.id,
            area_id=area.id,
            district_id=area.district_id,
            action=plan.action,
            target_date=plan.target_date,
            expected_levels=_readings(plan.expected_levels),
        ),
        source=source,
        subject=area.id,
    )


async def update_plan(
    session: AsyncSession, grid: Grid, plan_id: str, body: PlanUpdate, by: Principal, source: str
) -> ImprovementPlan:
    """Move a plan on (done applies its levels and closes the investigation), or reschedule it."""
    plan = await repository.get_plan(session, plan_id)
    if plan is None:
        raise NotFound("plan", plan_id)
    if plan.status in ("done", "cancelled"):
        raise Conflict(f"plan {plan_id} is {plan.status}; it cannot change any more")
    if body.status is not None and body.status != plan.status and body.status not in PLAN_MOVES[plan.status]:
        raise Conflict(
            f"a {plan.status} plan cannot become {body.status}", allowed=sorted(PLAN_MOVES[plan.status])
        )
    area = await ensure_area(session, grid, plan.area_id)
    now = utcnow()
    if body.description is not None:
        plan.description = body.description
    if body.target_date is not None and body.target_date != plan.target_date:
        if body.target_date < now.date():
            raise ProblemError(422, "rule-violated", "target_date is in the past")
        plan.target_date = body.target_date
        _announce_schedule(session, plan, area, source)
    if body.status is not None and body.status != plan.status:
        plan.status = body.status
        if body.status == "done":
            await _complete_plan(session, plan, area, by, source, now)
    plan.updated_at = now
    await session.flush()
    await redraft_wording(session, area, by)
    return plan


async def _complete_plan(
    session: AsyncSession, plan: ImprovementPlan, area: Area, by: Principal, source: str, now: datetime
) -> None:
    plan.completed_at = now
    for lv in plan.expected_levels:
        await set_level(
            session,
            area.id,
            lv["technology"],
            lv["service"],
            lv["level"],
            source="plan",
            source_ref=plan.id,
            by=by.subject,
            at=now,
        )
    investigation = await repository.current_investigation(session, area.id)
    if investigation is not None:
        investigation.status, investigation.closed_at = "closed", now
    publish_later(
        session,
        PlanCompletedV1(
            plan_id=plan.id,
            area_id=area.id,
            district_id=area.district_id,
            levels=_readings(plan.expected_levels),
            completed_at=now,
        ),
        source=source,
        subject=area.id,
    )


async def redraft_wording(session: AsyncSession, area: Area, by: Principal) -> list[AreaWording]:
    """Draft an area's wording from the templates in every language (what is published stays)."""
    await session.flush()
    worst = await repository.worst_level(session, area.id)
    plan = await repository.relevant_plan(session, area.id)
    now = utcnow()
    out = []
    for language in wording.LANGUAGES:
        text = wording.draft(
            language,
            district=await district_name(session, area.district_id, language),
            worst_level=worst,
            plan_status=plan.status if plan else None,
            plan_action=plan.action if plan else None,
            planned=plan.target_date if plan else None,
            completed=plan.completed_at.date() if plan and plan.completed_at else None,
        )
        row = await repository.get_wording(session, area.id, language)
        if row is None:
            row = AreaWording(
                area_id=area.id, language=language, draft_text=text, updated_by=by.subject, updated_at=now
            )
            await repository.add(session, row)
        else:
            row.draft_text, row.updated_by, row.updated_at = text, by.subject, now
        out.append(row)
    await session.flush()
    return out


async def edit_wording(
    session: AsyncSession, grid: Grid, area_id: str, language: str, text: str, by: Principal
) -> AreaWording:
    """Replace an area's draft in one language with staff's own words."""
    await ensure_area(session, grid, grid.check_area(area_id))
    row = await repository.get_wording(session, area_id, language)
    now = utcnow()
    if row is None:
        row = AreaWording(
            area_id=area_id, language=language, draft_text=text, updated_by=by.subject, updated_at=now
        )
        await repository.add(session, row)
    else:
        row.draft_text, row.updated_by, row.updated_at = text, by.subject, now
    await session.flush()
    return row


async def publish_wording(
    session: AsyncSession, grid: Grid, area_id: str, languages: list[str] | None, by: Principal, source: str
) -> list[AreaWording]:
    """Publish drafts: they become what the front line and the portal say about the area."""
    area = await ensure_area(session, grid, grid.check_area(area_id))
    rows = {row.language: row for row in await repository.wording_of(session, area_id)}
    wanted = languages or list(wording.LANGUAGES)
    missing = [lang for lang in wanted if lang not in rows]
    if missing:
        raise Conflict(f"no draft to publish in {', '.join(missing)}: assess the area or write one first")
    version = max((row.version for row in rows.values()), default=0) + 1
    now = utcnow()
    for lang in wanted:
        row = rows[lang]
        row.published_text, row.version, row.published_by, row.published_at = (
            row.draft_text,
            version,
            by.subject,
            now,
        )
    publish_later(
        session,
        WordingPublishedV1(
            area_id=area_id,
            district_id=area.district_id,
            version_number=version,
            texts={lang: rows[lang].draft_text for lang in wanted},
            published_at=now,
        ),
        source=source,
        subject=area_id,
    )
    await session.flush()
    return [rows[lang] for lang in sorted(rows)]


async def name_district(
    session: AsyncSession, grid: Grid, district_id: str, names: dict[str, str]
) -> District:
    """Give a district its names (merged with those it has)."""
    grid.check_district(district_id)
    district = await repository.get_district(session, district_id)
    if district is None:
        district = District(id=district_id, names=dict(names), updated_at=utcnow())
        await repository.add(session, district)
    else:
        district.names = {**district.names, **names}
        district.updated_at = utcnow()
    await session.flush()
    return district


# --- lookups, the public view, the queue --------------------------------------------------------


def _brief(investigation: Investigation | None) -> InvestigationBrief | None:
    if investigation is None:
        return None
    return InvestigationBrief(
        id=investigation.id,
        status=investigation.status,
        complaint_count=investigation.complaint_count,
        customer_count=investigation.customer_count,
        opened_at=investigation.opened_at,
        survey_due_at=investigation.survey_due_at,
    )


async def area_detail(session: AsyncSession, grid: Grid, area_id: str, language: str) -> AreaDetail:
    """Return everything engineering knows about an area (404 if nothing is known at all)."""
    area = await repository.get_area(session, grid.check_area(area_id))
    if area is None:
        raise NotFound("area", area_id)
    return AreaDetail(
        area_id=area.id,
        district_id=area.district_id,
        district_name=await district_name(session, area.district_id, language),
        lat=area.lat,
        lng=area.lng,
        levels=[LevelOut.model_validate(lv) for lv in await repository.levels_of(session, area.id)],
        investigation=_brief(await repository.current_investigation(session, area.id)),
        plans=[PlanPublic.model_validate(p) for p in await repository.plans_of(session, area.id)],
        wording=[WordingPublic.model_validate(w) for w in await repository.wording_of(session, area.id)],
    )


async def lookup(session: AsyncSession, grid: Grid, area_id: str, language: str) -> LookupAnswer:
    """Answer for a place at once: its level, open investigation, plan and published wording."""
    grid.check_area(area_id)
    levels = await repository.levels_of(session, area_id)
    investigation = await repository.current_investigation(session, area_id)
    plan = await repository.relevant_plan(session, area_id)
    text = await repository.get_wording(session, area_id, language)
    published = text.published_text if text else None
    answer = "published" if published else ("under_investigation" if investigation else "unknown")
    district_id = grid.district_of(area_id)
    worst = next((name for name in repository.LEVEL_ORDER if name in {lv.level for lv in levels}), None)
    return LookupAnswer(
        area_id=area_id,
        district_id=district_id,
        district_name=await district_name(session, district_id, language),
        language=language,
        levels=[LevelOut.model_validate(lv) for lv in levels],
        worst_level=worst,
        investigation=_brief(investigation),
        plan=PlanPublic.model_validate(plan) if plan else None,
        wording=published,
        wording_version=text.version if text and published else None,
        answer=answer,
    )


def public_plan(plan: ImprovementPlan, area: Area, district: str | None, language: str) -> PublicPlan:
    """Show a plan as the public may see it: where, what, which month; nothing about customers."""
    return PublicPlan(
        area_id=area.id,
        district_id=area.district_id,
        district_name=district,
        lat=area.lat,
        lng=area.lng,
        action=plan.action,
        status=plan.status,
        target_month=wording.month_text(plan.target_date, language),
        expected_levels=[PublicLevel(**lv) for lv in plan.expected_levels],
    )


async def public_lookup(session: AsyncSession, grid: Grid, area_id: str, language: str) -> PublicLookup:
    """The coverage checker's answer: levels, the published plan and wording; no customer data."""
    answer = await lookup(session, grid, area_id, language)
    area = await repository.get_area(session, area_id)
    plan = await repository.relevant_plan(session, area_id)
    shown = plan if plan is not None and plan.status != "cancelled" else None
    return PublicLookup(
        area_id=area_id,
        district_name=answer.district_name,
        levels=[
            PublicLevel(technology=lv.technology, service=lv.service, level=lv.level) for lv in answer.levels
        ],
        plan=public_plan(shown, area, answer.district_name, language) if shown and area else None,
        wording=answer.wording,
    )


async def public_plans(
    session: AsyncSession, district_id: str | None, language: str, limit: int, offset: int
) -> tuple[list[PublicPlan], int]:
    """Return published plans, soonest first."""
    rows, total = await repository.public_plans(session, district_id, limit, offset)
    names = await repository.districts(session, sorted({area.district_id for _, area in rows}))
    items = [
        public_plan(plan, area, _name(names.get(area.district_id), language), language) for plan, area in rows
    ]
    return items, total


def _name(district: District | None, language: str) -> str | None:
    if district is None:
        return None
    return district.names.get(language) or district.names.get("en")


QUEUE_LIMIT = 5000


async def queue(
    session: AsyncSession, now: datetime, language: str, limit: int
) -> tuple[list[QueueItem], int]:
    """Rank open investigations by priority score; say when each survey is due and which are late."""
    open_ones = await repository.open_investigations(session, QUEUE_LIMIT)
    worst = await repository.worst_levels(session, [i.area_id for i in open_ones])
    names = await repository.districts(session, sorted({i.district_id for i in open_ones if i.district_id}))
    items = []
    for investigation in open_ones:
        score = priority_score(investigation, worst.get(investigation.area_id), now)
        due = investigation.survey_due_at or survey_target(score, investigation.opened_at)
        items.append(
            QueueItem(
                investigation=InvestigationPublic.model_validate(investigation),
                district_name=_name(names.get(investigation.district_id or ""), language),
                worst_level=worst.get(investigation.area_id),
                priority=score,
                survey_due_at=due,
                overdue=due < now,
            )
        )
    items.sort(key=lambda item: (-item.priority, item.survey_due_at, item.investigation.id))
    return items[:limit], len(items)
