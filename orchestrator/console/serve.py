"""``orchestrator console``: bind, print the one line, serve until interrupted.

The socket is bound before anything is printed, so ``console on http://HOST:PORT`` (the only
line on stdout) names a port that is really listening — also with ``--port 0`` (any free
port). Bound anywhere but loopback, a loud warning goes to stderr on every start. The token's
*source* is named on stderr, never the token.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Mapping
from typing import TextIO

import uvicorn

from ..errors import OrchestratorError
from ..store import sqlite_path
from .app import create_app
from .auth import load_token
from .settings import ConsoleSettings

WARNING = """\
!!! WARNING: the console listens on {host}:{port}, not only on this machine's loopback.
!!! Anyone who can reach that address can try the token, and the traffic is not encrypted.
!!! Prefer the default 127.0.0.1 and reach it through an SSH tunnel or a VPN.
"""


class BindError(OrchestratorError):
    exit_code = 1


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says TCP, and without it every small response waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BindError(f"console: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(settings: ConsoleSettings) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def run(settings: ConsoleSettings, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    token, source = load_token(sqlite_path(settings.store_url), env)
    sock = bind(settings.host, settings.port)
    settings = dataclasses.replace(settings, port=int(sock.getsockname()[1]))
    app = create_app(settings, token=token, token_source=source)
    if not settings.loopback:
        err.write(WARNING.format(host=settings.host, port=settings.port))
    err.write(f"console: token from {source}; controls {'on' if settings.controls else 'off'}; "
              f"store {sqlite_path(settings.store_url)}\n")
    err.flush()
    out.write(f"console on {url_of(settings)}\n")
    out.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
