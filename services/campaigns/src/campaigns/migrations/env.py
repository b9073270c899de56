"""Alembic environment of the campaigns service."""

from campaigns import models  # noqa: F401 - registers this service's tables
from careloop_common.db import metadata
from careloop_common.migrations import run_env

run_env(metadata())
