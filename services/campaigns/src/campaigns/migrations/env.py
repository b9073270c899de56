"""Alembic environment of the campaigns service."""

from careloop_common.db import metadata
from careloop_common.migrations import run_env
from campaigns import models  # noqa: F401 - registers this service's tables

run_env(metadata())
