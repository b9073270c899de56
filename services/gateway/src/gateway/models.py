"""Gateway tables. API keys and local users arrive with the access-control issue."""

from careloop_common.db import metadata

__all__ = ["metadata"]
