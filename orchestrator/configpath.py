"""Where config.toml is, and where it puts state.db, on the standard library alone.

:func:`locate` is the one statement of the rules that pick the config file (``--config``, then
``$ORCHESTRATOR_CONFIG``, then ``./config.toml``) and :func:`resolve_sqlite_url` the one
resolution of the store's file against the config's folder; ``config.load_config`` uses both.
:func:`quick_store_url` reads only what decides which store is meant: the file's section names
and its ``[store]`` table. ``status --json`` uses it to answer without importing pydantic and
the config model (bench/restart.py, P3); when anything there is not as the model would accept
it, it answers None and the command takes the full path, which reports the problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .store.url import MEMORY, SQLITE_PREFIX, split_sqlite_url
from .tomlfile import TomlReadError, read_toml

ENV_CONFIG = "ORCHESTRATOR_CONFIG"
DEFAULT_CONFIG = "config.toml"
DEFAULT_STORE_URL = "sqlite:///state.db"
# config.toml's sections and the [store] table's keys (tests/test_config.py holds them to the model)
SECTIONS = frozenset({"broker", "sim", "store", "plans", "risk", "trailing", "market_data", "maintenance",
                      "sessions", "clock", "discord", "console"})
STORE_KEYS = frozenset({"url", "price_retention_days"})
RETENTION_DAYS = (1, 3650)   # [store] price_retention_days: the range StoreConfig accepts


def locate(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> tuple[Path, str, bool]:
    """``(file, label, must_exist)``: the config file, its name for messages, and whether its
    absence is an error (named explicitly) rather than "run on defaults"."""
    if path is not None and str(path) != "":
        return Path(path), str(path), True
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]), env[ENV_CONFIG], True
    return Path(DEFAULT_CONFIG), DEFAULT_CONFIG, False


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """``url`` with a relative FILE resolved against ``base_dir`` (``~`` expanded); a
    ``:memory:`` URL as it is.

    Raises:
        ValueError: not a ``sqlite:///FILE`` URL, or a ``~`` whose home is unknown; the message
            says what is wrong.
    """
    file, query = split_sqlite_url(url)
    if file == MEMORY:
        return url
    try:
        path = Path(file).expanduser()
    except RuntimeError:  # ~user that does not exist, or no home directory
        raise ValueError("starts with ~ but that home directory is unknown") from None
    path = path if path.is_absolute() else base_dir / path
    return f"{SQLITE_PREFIX}{path}{'?' if query else ''}{query}"


def quick_store_url(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> str | None:
    """The store URL, resolved as ``load_config`` resolves it, or None when the file cannot be
    read, names a section the model does not know, or its ``[store]`` table is not one the model
    accepts. The other sections' values are not looked at."""
    file, _label, must_exist = locate(path, env)
    raw: dict[str, object] = {}
    base_dir: Path | None = None
    try:
        if must_exist or file.exists():
            raw = read_toml(file)
            base_dir = file.resolve().parent
        store = raw.get("store", {})
        if not set(raw) <= SECTIONS or not isinstance(store, dict) or not set(store) <= STORE_KEYS:
            return None
        url, days = store.get("url", DEFAULT_STORE_URL), store.get("price_retention_days", RETENTION_DAYS[0])
        if not isinstance(url, str) or type(days) is not int or not RETENTION_DAYS[0] <= days <= RETENTION_DAYS[1]:
            return None
        return resolve_sqlite_url(url, base_dir or Path.cwd())
    except (TomlReadError, OSError, ValueError):
        return None
