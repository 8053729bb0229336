"""The console's settings: the store URL from config.toml and the file's ``[console]`` table.

``[console]`` (every key optional)::

    [console]
    controls = false            # true: pause/resume, cancel and flatten buttons and POST routes
    host = "127.0.0.1"          # default for --host
    port = 8765                 # default for --port
    allowed_hosts = []          # extra Host header values to accept (e.g. "trader-box:8765")

The config model (``orchestrator.config``) does not know this table yet and refuses a file
that has it ("console: unknown section"); until it does, this module reads ``[console]`` itself
and takes the store URL from ``StoreConfig`` alone when that refusal is the only problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..config import DEFAULT_CONFIG, ENV_CONFIG, StoreConfig, load_config
from ..errors import ConfigError
from ..tomlread import TomlReadError, read_toml

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    store_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    controls: bool = False
    allowed_hosts: tuple[str, ...] = ()

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK or self.host.startswith("127.")

    def host_headers(self) -> frozenset[str]:
        """The ``Host`` header values a request may carry (DNS-rebinding guard)."""
        names = {self.host} | ({"127.0.0.1", "localhost"} if self.loopback else set())
        values = {f"[{n}]:{self.port}" if ":" in n else f"{n}:{self.port}" for n in names}
        return frozenset(values | set(self.allowed_hosts))


def _config_file(path: str | None, env: Mapping[str, str]) -> tuple[Path, str, bool]:
    """The file load_config reads, its label, and whether it must exist (same precedence)."""
    if path:
        return Path(path), path, True
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]), env[ENV_CONFIG], True
    return Path(DEFAULT_CONFIG), DEFAULT_CONFIG, False


def _console_table(raw: dict[str, Any], label: str) -> dict[str, Any]:
    table = raw.get("console", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: console: must be a table")
    problems = []
    checks: dict[str, tuple[type, str]] = {
        "controls": (bool, "true or false"), "host": (str, "a host name or address"),
        "port": (int, "a port number"), "allowed_hosts": (list, "a list of host:port strings")}
    value: Any
    for key, value in table.items():
        if key not in checks:
            problems.append(f"{label}: console.{key}: unknown key (allowed: {', '.join(checks)})")
            continue
        wrong_type = not isinstance(value, checks[key][0]) or (key == "port" and isinstance(value, bool))
        if wrong_type:
            problems.append(f"{label}: console.{key}: must be {checks[key][1]}")
        elif key == "port" and not 1 <= value <= 65535:
            problems.append(f"{label}: console.port: must be between 1 and 65535")
        elif key == "allowed_hosts" and not all(isinstance(h, str) and h for h in value):
            problems.append(f"{label}: console.allowed_hosts: must be a list of host:port strings")
    if problems:
        raise ConfigError(problems)
    return table


def _store_url(path: str | None, env: Mapping[str, str], raw: dict[str, Any], base_dir: Path) -> str:
    try:
        return load_config(path, env).store.url
    except ConfigError as exc:
        others = [line for line in exc.lines if ": console: unknown section" not in line]
        if others or "console" not in raw:
            raise ConfigError(others or exc.lines) from None
    try:
        return StoreConfig.model_validate(raw.get("store", {}), context={"base_dir": base_dir}).url
    except ValidationError:  # load_config would have named it; keep its one-line form
        raise ConfigError(f"{DEFAULT_CONFIG}: store: invalid") from None


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None, *,
                  host: str | None = None, port: int | None = None) -> ConsoleSettings:
    """Settings from the config file and ``[console]``; ``host``/``port`` (the CLI's) win.

    Raises ConfigError (one line per problem, exit code 2).
    """
    env = os.environ if env is None else env
    file, label, must_exist = _config_file(path, env)
    raw: dict[str, Any] = {}
    if must_exist or file.exists():
        try:
            raw = read_toml(file)
        except TomlReadError as exc:
            raise ConfigError(f"{label}: {exc.message}") from None
    base_dir = file.resolve().parent if file.exists() else Path.cwd()
    table = _console_table(raw, label)
    url = _store_url(path, env, raw, base_dir)
    return ConsoleSettings(
        store_url=url, host=host if host is not None else table.get("host", DEFAULT_HOST),
        port=port if port is not None else table.get("port", DEFAULT_PORT),
        controls=bool(table.get("controls", False)), allowed_hosts=tuple(table.get("allowed_hosts", ())))
