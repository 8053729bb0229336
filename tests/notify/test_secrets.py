"""The webhook token never shows: not in logs (httpx's included), errors, the outbox, the CLI, reprs."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest

from orchestrator import cli
from orchestrator.notify import Dead, Disabled, Retry
from orchestrator.notify.discord import DiscordDeliver
from orchestrator.store import Store

from .helpers import VirtualTime, fill_outbox, outbox, run_until, sender_for
from .standin import (
    HANG,
    TOKEN,
    WEBHOOK_ID,
    DiscordStandIn,
    invalid_form_body,
    ok,
    rate_limited,
    unavailable,
    unknown_webhook,
)


def chain(exc: BaseException | None) -> str:
    out = []
    while exc is not None:
        out += [str(exc), repr(exc), repr(exc.args)]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(out)


async def test_token_never_appears(store: Store, vt: VirtualTime, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                   log_guard: Any) -> None:
    log_guard.expect("Discord webhook disabled", "dead-lettered")
    caplog.set_level(logging.DEBUG)
    fill_outbox(store, ["A-1", "B-2"], events_per_plan=4)
    seen: list[str] = []
    async with DiscordStandIn(vt.clock) as hook:
        url = hook.url
        assert TOKEN in url
        # the deliverer on its own: every outcome, with the exception text and chain kept
        direct = DiscordDeliver(url, clock=vt.clock, timeout=0.2)
        payload = store.pending_outbox()[0].payload
        for reply in (rate_limited(0.5), unavailable(), HANG, invalid_form_body()):
            hook.queue(reply)
            vt.advance(60)
            with pytest.raises((Retry, Dead)) as info:
                await direct(payload)
            seen.append(chain(info.value))
        hook.queue(unknown_webhook())
        with pytest.raises(Disabled) as disabled:
            await direct(payload)
        seen += [chain(disabled.value), repr(direct), str(vars(direct))]
        await direct.aclose()

        # the whole path: a sender through 429, 503, 400, a hang, deliveries, then a 404
        hook.queue(rate_limited(1), unavailable(), invalid_form_body(), HANG)
        hook.responder = lambda req: unknown_webhook() if len(hook.requests) > 9 else ok()
        sender = sender_for(store, url, vt, timeout=0.2)
        await run_until(sender, lambda: sender.disabled is not None)
        seen += [repr(sender), str(sender.disabled)]
        await sender.aclose()
    # nothing listens any more: a connection error
    refused = DiscordDeliver(url, clock=vt.clock)
    with pytest.raises(Retry) as info:
        await refused(payload)
    seen.append(chain(info.value))
    await refused.aclose()

    rows = outbox(store)
    assert any(r["dead_at"] for r in rows) and any(r["sent_at"] for r in rows)
    assert any(r["last_error"] and "webhook" in r["last_error"] for r in rows)
    seen += [str(r) for r in rows]

    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store.url}"\n[discord]\nwebhook_url = "{url}"\n')
    for argv in (["outbox", "--json", "--all"], ["outbox", "--all"], ["status"], ["status", "--json"]):
        out = io.StringIO()
        assert cli.main([*argv, "--config", str(config)], out=out) == 0
        seen.append(out.getvalue())

    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: POST" in logged, "httpx did log the requests, scrubbed"
    assert f"/api/webhooks/{WEBHOOK_ID}/****" in logged
    everything = logged + "\n".join(seen)
    assert TOKEN not in everything
    assert TOKEN[:12] not in everything
