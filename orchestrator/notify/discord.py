"""Delivery to a Discord webhook (libs.md §4), as a deliverer for :class:`OutboxSender`.

``POST {webhook}?wait=true`` with one embed per message. What each reply means:

=====================  ==================================================================
2xx                    delivered
429                    wait ``retry_after`` (JSON body, else ``Retry-After``), then retry;
                       not an attempt. All sending pauses (one webhook = one bucket;
                       ``global`` says the whole IP is limited: same effect here)
5xx, 408, timeout,     retry on the backoff schedule (``RetryPolicy``), all sending paused;
network error          dead-lettered after ``max_attempts``
400 and other 4xx      dead-lettered at once with Discord's reason (never retried)
401, 403, 404          the webhook is disabled: ONE error log line, nothing is sent any
                       more, every message stays pending (fix the URL and restart)
=====================  ==================================================================

After any reply with ``X-RateLimit-Remaining: 0`` no request is sent before
``X-RateLimit-Reset-After`` has passed (``not_before``).

The webhook URL carries its token: it is kept in a ``SecretStr``, only :func:`redact_url`'s
form appears in reprs, logs and errors, and httpx's own request log line is scrubbed.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from ..clock import Clock, SystemClock
from ..config import redact_url
from .embed import build_payload
from .sender import Dead, Disabled, Retry

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 5.0  # a 429 that names no wait (e.g. a Cloudflare page)
_WEBHOOK_PATH = re.compile(r"(/webhooks/[^/\s?#\"']+/)[^/\s?#\"']+")


class _Hidden(dict):  # type: ignore[type-arg]
    """Secret substrings → what to show instead; never shown by repr."""

    def __repr__(self) -> str:
        return f"<{len(self)} hidden>"

    __str__ = __repr__


class _Scrubber(logging.Filter):
    """Rewrites records that would show a webhook token (httpx logs every request URL at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = _Hidden()

    def scrub(self, text: str) -> str:
        for secret, shown in sorted(self.secrets.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(secret, shown)
        return _WEBHOOK_PATH.sub(r"\1****", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_SCRUBBER = _Scrubber()
_SCRUBBED_LOGGERS = ("httpx", "httpcore")


def _install_scrubber() -> None:
    for name in _SCRUBBED_LOGGERS:
        lg = logging.getLogger(name)
        if _SCRUBBER not in lg.filters:
            lg.addFilter(_SCRUBBER)


def _secret_parts(url: str) -> _Hidden:
    """Substrings of ``url`` that must never be shown, each with what to show instead."""
    shown = redact_url(url)
    parts = {url: shown}
    base = url.split("?", 1)[0].split("#", 1)[0]
    parts[base] = shown
    try:
        path = httpx.URL(url).path
    except Exception:  # noqa: BLE001 - an unparseable URL fails at the first request
        path = ""
    segments = [s for s in path.split("/") if s]
    if "webhooks" in segments:
        i = segments.index("webhooks")
        for token in segments[i + 2:]:
            if len(token) >= 8:
                parts[token] = "****"
    elif len(path) > 1:
        parts[path] = "/****"
    return _Hidden({k: v for k, v in parts.items() if k})


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f >= 0 else None


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(resp.content or b"null")
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _flatten_errors(errors: Any, path: str = "") -> list[str]:
    """Discord's nested ``errors`` object → ``embeds.0.fields.1.value: Must be 1024 or fewer in length.``"""
    out: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == "_errors" and isinstance(value, list):
                for e in value:
                    msg = e.get("message") if isinstance(e, dict) else e
                    out.append(f"{path or 'body'}: {msg}")
            else:
                out.extend(_flatten_errors(value, f"{path}.{key}" if path else str(key)))
    return out


class DiscordDeliver:
    """Posts one message to a Discord webhook; raises ``Retry``/``Dead``/``Disabled`` otherwise.

    ``client`` (an ``httpx.AsyncClient``) or ``transport`` may be injected; otherwise a client
    with ``timeout`` seconds per request is made, and :meth:`aclose` closes it.
    """

    def __init__(self, url: str | SecretStr, *, clock: Clock | None = None, timeout: float = 10.0,
                 client: httpx.AsyncClient | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 build: Callable[[Any], dict[str, Any]] = build_payload) -> None:
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        if not raw:
            raise ValueError("DiscordDeliver needs a webhook URL")
        self._url = SecretStr(raw)
        self.redacted = redact_url(raw)
        self._secrets = _secret_parts(raw)
        self.clock = clock or SystemClock()
        self.build = build
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout), transport=transport,
                                                   follow_redirects=False)
        self.timeout = timeout
        self.not_before: datetime | None = None  # X-RateLimit-Remaining 0 / 429: nothing before this
        self.disabled: str | None = None
        _SCRUBBER.secrets.update(self._secrets)
        _install_scrubber()

    def __repr__(self) -> str:
        state = f", disabled={self.disabled!r}" if self.disabled else ""
        return f"DiscordDeliver({self.redacted!r}{state})"

    def scrub(self, text: str) -> str:
        """``text`` without the webhook URL or token."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, self._secrets[secret])
        return _SCRUBBER.scrub(text)

    def enable(self) -> None:
        """Use the webhook again after it was disabled (its configuration was fixed)."""
        self.disabled = None

    def clock_moved(self) -> None:
        """The clock stepped: a rate-limit wait taken on the old time is forgotten (Discord says
        again if it still holds)."""
        self.not_before = None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
        for secret in self._secrets:
            _SCRUBBER.secrets.pop(secret, None)

    # ------------------------------------------------------------------ one delivery
    async def __call__(self, payload: dict[str, Any]) -> None:
        if self.disabled is not None:
            raise Disabled(self.disabled)
        now = self.clock.now()
        if self.not_before is not None and now < self.not_before:
            wait = (self.not_before - now).total_seconds()
            raise Retry(f"waiting {wait:.1f} s for Discord's rate limit", wait, count_attempt=False, pause_all=True)
        body = json.dumps(self.build(payload), ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode("utf-8")
        failure: str | None = None
        resp: httpx.Response | None = None
        try:
            # ?wait=true: Discord answers 200 once the message is stored (204 may drop it silently);
            # merged so that a thread_id in the configured URL is kept
            target = httpx.URL(self._url.get_secret_value()).copy_merge_params({"wait": "true"})
            resp = await self._client.post(target, content=body, headers={"Content-Type": "application/json"})
        except httpx.TimeoutException as exc:
            failure = f"no reply from Discord ({type(exc).__name__}, timeout {self.timeout:g} s)"
        except Exception as exc:  # noqa: BLE001 - connection errors, bad URL: all retried, none shows the URL
            failure = f"cannot reach Discord: {type(exc).__name__}: {self.scrub(str(exc)) or 'no detail'}"
        if failure is not None or resp is None:  # raised outside the except: no chained httpx error (URL)
            raise Retry(failure or "no response", None, pause_all=True)
        self._read_bucket(resp)
        self._judge(resp)

    def _read_bucket(self, resp: httpx.Response) -> None:
        """Wait before being told: ``Remaining: 0`` means the bucket is empty until ``Reset-After``."""
        if resp.headers.get("X-RateLimit-Remaining", "").strip() != "0":
            return
        after = _number(resp.headers.get("X-RateLimit-Reset-After"))
        if after is None:
            return
        self._hold(after)

    def _hold(self, seconds: float) -> datetime:
        until = self.clock.now() + timedelta(seconds=seconds)
        if self.not_before is None or until > self.not_before:
            self.not_before = until
        return until

    def _judge(self, resp: httpx.Response) -> None:
        status = resp.status_code
        if 200 <= status < 300:
            return
        body = _json(resp)
        message = self.scrub(str(body.get("message") or resp.reason_phrase or "")).strip()
        code = body.get("code")
        said = f"Discord {status} {message}".strip() + (f" (code {code})" if code is not None else "")
        if status == 429:
            after = (_number(body.get("retry_after")) if "retry_after" in body else None)
            if after is None:
                after = _number(resp.headers.get("Retry-After"))
            if after is None:
                after = _number(resp.headers.get("X-RateLimit-Reset-After"))
            if after is None:
                after = DEFAULT_RETRY_AFTER
            is_global = body.get("global") is True or resp.headers.get("X-RateLimit-Global", "").lower() == "true"
            scope = "global" if is_global else resp.headers.get("X-RateLimit-Scope", "webhook")
            self._hold(after)
            log.warning("Discord rate limit (%s): no message is sent for %.2f s", scope, after)
            raise Retry(f"rate limited by Discord ({scope}): retry after {after:g} s", after,
                        count_attempt=False, pause_all=True)
        if status in (401, 403, 404):
            self.disabled = (f"{said}: webhook {self.redacted} disabled; messages stay pending until "
                             "discord.webhook_url is fixed and the orchestrator restarted")
            log.error("Discord webhook disabled: %s", self.disabled)
            raise Disabled(self.disabled)
        if status == 408 or status >= 500 or status < 200 or 300 <= status < 400:
            raise Retry(said, None, pause_all=True)
        details = "; ".join(_flatten_errors(body.get("errors")))
        reason = said + (f": {self.scrub(details)}" if details else "")
        raise Dead(reason[:1000])
