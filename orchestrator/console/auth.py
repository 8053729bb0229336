"""Access to the console: the token, login sessions, CSRF tokens and slowing down guessers.

- The token comes from env ``ORCHESTRATOR_CONSOLE_TOKEN``, else from ``console-token`` beside
  state.db, generated at first start with mode 0600 (``O_EXCL``: never overwritten).
- A correct token at the login page opens a session: a random id in an HttpOnly,
  SameSite=Strict cookie, valid for ``SESSION_SECONDS`` (sliding), with its own CSRF token.
- Tokens are compared as SHA-256 digests with ``hmac.compare_digest`` (no timing or length
  hint); every refusal says the same thing.
- Failed attempts per client: after ``FREE_FAILURES`` the client must wait 2, 4, 8 … (at most
  ``MAX_DELAY``) seconds after its last failure before the next attempt is even checked.
  The clock is injected, so tests move time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..clock import Clock
from ..errors import ConfigError

ENV_TOKEN = "ORCHESTRATOR_CONSOLE_TOKEN"
TOKEN_FILE = "console-token"
SESSION_SECONDS = 12 * 3600
FREE_FAILURES = 3
MAX_DELAY = 300.0
REFUSED = "wrong token"  # the one message for every refusal


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def load_token(db_path: Path, env: Mapping[str, str]) -> tuple[str, str]:
    """The token and where it came from (``env`` or the file's path). Creates the file once."""
    if env.get(ENV_TOKEN):
        if len(env[ENV_TOKEN]) < 16:
            raise ConfigError(f"{ENV_TOKEN}: must be at least 16 characters")
        return env[ENV_TOKEN], ENV_TOKEN
    path = db_path.parent / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text(encoding="utf-8").strip()
        if len(token) < 16:
            raise ConfigError(f"{path}: the console token file is empty or too short; delete it to make a new one")\
                from None
        if os.stat(path).st_mode & 0o077:
            raise ConfigError(f"{path}: the console token file is readable by others; chmod 600 it") from None
        return token, str(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the console token file: {exc.strerror or exc}") from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token, str(path)


@dataclass(slots=True)
class Session:
    csrf: str
    expires: float


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0


@dataclass
class Gate:
    """Checks tokens, keeps sessions and counts failures. One per app; in memory only."""

    token: str
    clock: Clock
    sessions: dict[str, Session] = field(default_factory=dict)
    failures: dict[str, _Failures] = field(default_factory=dict)

    def _t(self) -> float:
        return self.clock.now().timestamp()

    def wait_before(self, client: str) -> float:
        """Seconds ``client`` must still wait before another attempt is checked (0: go ahead)."""
        f = self.failures.get(client)
        if f is None or f.count < FREE_FAILURES:
            return 0.0
        delay = min(2.0 ** (f.count - FREE_FAILURES + 1), MAX_DELAY)
        return max(0.0, f.last + delay - self._t())

    def check(self, client: str, candidate: str) -> bool:
        """Whether ``candidate`` is the token; counts a failure for ``client`` when not.
        Call :meth:`wait_before` first: an attempt during the wait is not checked at all."""
        ok = hmac.compare_digest(_digest(candidate), _digest(self.token))
        if ok:
            self.failures.pop(client, None)
        else:
            f = self.failures.setdefault(client, _Failures())
            f.count += 1
            f.last = self._t()
        return ok

    def open_session(self) -> tuple[str, Session]:
        self._expire()
        sid = secrets.token_urlsafe(32)
        session = Session(csrf=secrets.token_urlsafe(32), expires=self._t() + SESSION_SECONDS)
        self.sessions[sid] = session
        return sid, session

    def session(self, sid: str | None) -> Session | None:
        """The live session of cookie value ``sid`` (its expiry slides), or None."""
        if not sid:
            return None
        s = self.sessions.get(sid)
        now = self._t()
        if s is None or s.expires <= now:
            self.sessions.pop(sid, None)
            return None
        s.expires = now + SESSION_SECONDS
        return s

    def close_session(self, sid: str | None) -> None:
        if sid:
            self.sessions.pop(sid, None)

    def _expire(self) -> None:
        now = self._t()
        for sid in [k for k, s in self.sessions.items() if s.expires <= now]:
            del self.sessions[sid]


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(_digest(given or ""), _digest(expected))
