"""Imports through the API: an uploaded file is imported as a background job whose progress is stored.

The upload (multipart, the part named ``file``) is spooled to a temporary file with a byte limit
counted as it arrives (the gateway streams bodies without a length), its kind and columns are
checked, and only then is a job committed and ``202`` answered. The job runs as a task the app
owns, writing its counts after every chunk; a job a stopped process left running is marked failed
at the next start (imports are idempotent: import the file again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

from campaigns import imports, repository
from campaigns.models import ImportJob
from campaigns.settings import CampaignsSettings
from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.errors import ProblemError

log = logging.getLogger(__name__)

EXTRA = "audience-imports"
RUNNING, DONE, FAILED = "running", "done", "failed"
MULTIPART = "multipart/form-data"
FILE_PART = "file"
INTERRUPTED = (
    "interrupted: the service stopped during the import; import the file again (imports are idempotent)"
)
STOP_GRACE_S = 5.0
COPY_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """An uploaded file spooled to disk."""

    path: Path
    filename: str | None
    size: int


def _limited(receive: Receive, limit: int) -> Receive:
    """Wrap an ASGI receive so a body longer than ``limit`` bytes is refused (413) as it arrives."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ProblemError(
                    413, "payload-too-large", f"the upload is larger than {limit} bytes", limit=limit
                )
        return message

    return limited


async def spool_upload(request: Request, limit: int) -> Upload:
    """Save the multipart part named ``file`` to a temporary file; 413 past ``limit`` bytes."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MULTIPART:
        raise ProblemError(
            415, "unsupported-media-type", f"send the file as {MULTIPART}, in a part named '{FILE_PART}'"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, "payload-too-large", f"the upload is larger than {limit} bytes", limit=limit)
    bounded = Request(request.scope, _limited(request.receive, limit))
    try:
        form = await bounded.form(max_files=1, max_fields=10)
    except ClientDisconnect:
        raise ProblemError(
            400, "upload-interrupted", "the upload ended before the whole file arrived"
        ) from None
    try:
        upload = form.get(FILE_PART)
        if not isinstance(upload, UploadFile):
            raise ProblemError(
                422, "missing-file", f"no file: send it as the {MULTIPART} part named '{FILE_PART}'"
            )
        handle, name = tempfile.mkstemp(prefix="careloop-audience-")
        path = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                await asyncio.to_thread(shutil.copyfileobj, upload.file, out, COPY_BUFFER)
                size = out.tell()
        except BaseException:
            discard(path)
            raise
        return Upload(path, (upload.filename or "")[:300] or None, size)
    finally:
        await form.close()


def discard(path: Path) -> None:
    """Delete a spooled file if it is still there."""
    path.unlink(missing_ok=True)


class ImportJobs:
    """Accepts uploads, runs each import as a task of the app, and records its progress."""

    def __init__(self, sessions: SessionFactory, settings: CampaignsSettings) -> None:
        self.sessions = sessions
        self.settings = settings
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    async def accept(self, request: Request, *, by: str) -> ImportJob:
        """Spool and check an uploaded file, commit its job, and start importing it."""
        if self._stopping:
            raise ProblemError(
                503, "service-unavailable", "the service is shutting down", headers={"Retry-After": "5"}
            )
        upload = await spool_upload(request, self.settings.import_max_bytes)
        try:
            source = await asyncio.to_thread(imports.open_subscriber_file, upload.path)
        except BaseException:
            discard(upload.path)
            raise
        try:
            job = await self._create(upload, source, by)
        except BaseException:
            source.close()
            discard(upload.path)
            raise
        self._launch(job.id, self._run(job.id, source), upload.path)
        return job

    async def _create(self, upload: Upload, source: imports.SubscriberFile, by: str) -> ImportJob:
        """Commit a running job, so it can be followed before its task starts."""
        job = ImportJob(
            id=str(uuid.uuid4()),
            filename=upload.filename,
            format=source.format,
            status=RUNNING,
            bytes_total=upload.size,
            rows_total=source.size if source.format == imports.PARQUET else None,
            errors=[],
            created_by=by[:128],
            started_at=utcnow(),
        )
        async with transaction(self.sessions) as session:
            await repository.add(session, job)
        return job

    def _launch(self, job_id: str, work: Awaitable[None], spooled: Path) -> None:
        """Run an import as a task the app owns; its spooled file goes when it ends."""
        task = asyncio.create_task(self._guard(job_id, work), name=f"audience-import-{job_id}")
        self._tasks[job_id] = task

        def forget(_: asyncio.Task[None]) -> None:
            # Here, not in the task: a task cancelled before it starts runs none of its code.
            self._tasks.pop(job_id, None)
            discard(spooled)

        task.add_done_callback(forget)

    async def _guard(self, job_id: str, work: Awaitable[None]) -> None:
        """Run an import; a failure fails the job (logged) instead of leaving it running."""
        try:
            await work
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._fail(job_id, INTERRUPTED))
            raise
        except Exception as exc:
            log.exception("audience import %s failed", job_id)
            with contextlib.suppress(Exception):
                await self._fail(job_id, f"failed: {type(exc).__name__}: {str(exc)[:300]}")

    async def _run(self, job_id: str, source: imports.SubscriberFile) -> None:
        """Import the file, saving progress after every chunk, then mark the job done."""
        try:
            report = await imports.import_subscribers(
                self.sessions,
                source,
                customer_key=self.settings.customer_ref_secret,
                on_chunk=lambda report: self._save(job_id, **_progress(report)),
            )
        finally:
            source.close()
        await self._save(
            job_id, status=DONE, finished_at=utcnow(), models_scored=report.models_scored, **_progress(report)
        )

    async def _save(self, job_id: str, **values: Any) -> None:
        async with transaction(self.sessions) as session:
            await repository.update_import_job(session, job_id, values)

    async def _fail(self, job_id: str, reason: str) -> None:
        await self._save(job_id, status=FAILED, failure=reason[:1000], finished_at=utcnow())

    async def fail_interrupted(self) -> int:
        """Fail jobs a stopped process left running (their files are gone); return how many."""
        async with transaction(self.sessions) as session:
            jobs = await repository.import_jobs_with_status(session, RUNNING)
            for job in jobs:
                job.status, job.failure, job.finished_at = FAILED, INTERRUPTED, utcnow()
        return len(jobs)

    async def stop(self) -> None:
        """Refuse new imports; give running ones a moment, then cancel them (they are marked failed)."""
        self._stopping = True
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait(self) -> None:
        """Wait for every running import to end (tests)."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


def _progress(report: imports.ImportReport) -> dict[str, Any]:
    """Return the job columns a report sets."""
    return {
        "progress": round(min(1.0, report.position / report.size), 4) if report.size else 1.0,
        "rows_read": report.rows_read,
        "rows_imported": report.rows_imported,
        "rows_rejected": report.rows_rejected,
        "errors": [error.as_dict() for error in report.errors],
    }


def jobs_of(request: Request) -> ImportJobs:
    """Return the app's import jobs (dependency)."""
    value: ImportJobs = request.app.state.platform.extras[EXTRA]
    return value
