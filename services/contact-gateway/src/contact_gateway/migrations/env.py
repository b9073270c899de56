"""Alembic environment of the contact-gateway service."""

from careloop_common.db import metadata
from careloop_common.migrations import run_env
from contact_gateway import models  # noqa: F401 - registers this service's tables

run_env(metadata())
