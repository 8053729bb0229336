"""The console's settings: the store URL and the ``[console]`` table of config.toml.

``[console]`` (every key optional; ``orchestrator.config.ConsoleConfig``)::

    [console]
    controls = false            # true: pause/resume, cancel and flatten buttons and POST routes
    host = "127.0.0.1"          # default for --host
    port = 8765                 # default for --port
    allowed_hosts = []          # extra Host header values to accept (e.g. "trader-box:8765")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import load_config

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


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None, *,
                  host: str | None = None, port: int | None = None) -> ConsoleSettings:
    """Settings from the config file's ``[console]`` and ``[store]``; ``host``/``port`` (the CLI's) win.

    Raises ConfigError (one line per problem, exit code 2).
    """
    cfg = load_config(path, os.environ if env is None else env)
    c = cfg.console
    return ConsoleSettings(store_url=cfg.store.url, host=host if host is not None else c.host,
                           port=port if port is not None else c.port, controls=c.controls,
                           allowed_hosts=tuple(c.allowed_hosts))
