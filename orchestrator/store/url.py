"""The one parser of ``sqlite:///FILE`` store URLs (config validation, the store and the read side)."""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError

SQLITE_PREFIX = "sqlite:///"
MEMORY = ":memory:"


def split_sqlite_url(url: str) -> tuple[str, str]:
    """``(file, query)`` of a SQLite URL (query without its ``?``).

    Raises:
        ValueError: not a ``sqlite:///FILE`` URL; the message says what is wrong.
    """
    if not url.startswith(SQLITE_PREFIX):
        raise ValueError("must be a SQLite URL such as sqlite:///state.db (only SQLite is supported)")
    file, _sep, query = url[len(SQLITE_PREFIX):].partition("?")
    if not file:
        raise ValueError("must name a database file, e.g. sqlite:///state.db")
    if "\x00" in file:
        raise ValueError("must not contain NUL characters")
    return file, query


def sqlite_path(url: str) -> Path:
    """The database file of a store URL.

    Raises:
        StoreError: the URL is not ``sqlite:///FILE``.
    """
    try:
        file, _query = split_sqlite_url(url)
    except ValueError as exc:
        raise StoreError(f"store.url {exc} (got {url!r})") from None
    return Path(file)
