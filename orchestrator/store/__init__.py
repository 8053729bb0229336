"""state.db: tables, opening and migrations, and the Store used by the engine."""

from .db import SCHEMA_VERSION, open_engine, sqlite_path
from .repo import OutboxItem, PendingEffect, StaleWrite, Store

__all__ = ["SCHEMA_VERSION", "OutboxItem", "PendingEffect", "StaleWrite", "Store", "open_engine", "sqlite_path"]
