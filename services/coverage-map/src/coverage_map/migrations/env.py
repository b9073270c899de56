"""Alembic environment of the coverage-map service."""

from careloop_common.db import metadata
from careloop_common.migrations import run_env
from coverage_map import models  # noqa: F401 - registers this service's tables

run_env(metadata())
