"""ContactGateway tables (SQLModel). Domain tables arrive with the contact-gateway issue."""

from careloop_common.db import metadata

__all__ = ["metadata"]
