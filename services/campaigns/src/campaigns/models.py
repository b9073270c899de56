"""Campaigns tables (SQLModel). Domain tables arrive with the campaigns issue."""

from careloop_common.db import metadata

__all__ = ["metadata"]
