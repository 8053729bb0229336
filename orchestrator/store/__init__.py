"""state.db: the writer's Store (engine side) and the read-only access of the CLI.

The names are loaded on first use: the read side (``store.read``, plain sqlite3) must not pay
for importing SQLAlchemy, which the writer's modules need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the eager names, for readers and type checkers
    from .commands import submit_command
    from .db import open_engine
    from .effectlog import PendingEffect
    from .outbox import OutboxItem
    from .plans import StaleWrite
    from .repo import Store
    from .schema import SCHEMA_VERSION
    from .url import sqlite_path

_WHERE = {"SCHEMA_VERSION": "schema", "open_engine": "db", "PendingEffect": "effectlog", "OutboxItem": "outbox",
          "StaleWrite": "plans", "Store": "repo", "sqlite_path": "url", "submit_command": "commands"}

__all__ = ["SCHEMA_VERSION", "OutboxItem", "PendingEffect", "StaleWrite", "Store", "open_engine", "sqlite_path",
           "submit_command"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
