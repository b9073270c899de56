"""Alembic environment of the complaints service."""

from careloop_common.db import metadata
from careloop_common.migrations import run_env
from complaints import models  # noqa: F401 - registers this service's tables

run_env(metadata())
