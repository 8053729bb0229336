"""The JSON API: the same objects as ``status --json``, one plan with its journal, the report,
the daemon status, and the controls' POST with the token and CSRF rules."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from urllib.parse import quote

from orchestrator.cli import main

from .conftest import Factory
from .stores import EVIL_ID, TOKEN, Built, add_contract_command_columns, write

BEARER = {"authorization": f"Bearer {TOKEN}"}


def test_api_plans_are_the_status_json_rows(make_client: Factory, built: Built, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[store]\nurl = "{built.url}"\n')
    out = io.StringIO()
    assert main(["status", "--json", "--config", str(cfg)], out=out) == 0
    assert make_client(signed_in=False).get("/api/plans", headers=BEARER).json() == json.loads(out.getvalue())


def test_api_plan_has_its_journal_orders_and_commands(make_client: Factory) -> None:
    c = make_client(signed_in=False)
    plan = c.get("/api/plans/AAPL-TRAIL", headers=BEARER).json()
    assert plan["state"] == "closed" and plan["exit_reason"] == "trailing_stop"
    assert [j["event"] for j in plan["journal"]][:3] == ["PlanLoaded", "Activate", "EntryAccepted"]
    assert plan["journal"][-1]["to"] == "closed"
    assert {o["leg"] for o in plan["orders"]} == {"entry", "stop", "target"}
    assert plan["commands"] == []
    evil = c.get(f"/api/plans/{quote(EVIL_ID, safe='')}", headers=BEARER)
    assert evil.status_code == 200 and evil.json()["id"] == EVIL_ID
    assert evil.headers["content-type"].startswith("application/json")
    assert c.get("/api/plans/NOPE", headers=BEARER).status_code == 404


def test_api_report_and_status(make_client: Factory) -> None:
    c = make_client(signed_in=False)
    report = c.get("/api/report", headers=BEARER).json()
    assert report["totals"]["trades"] == 1 and report["trades"][0]["plan_id"] == "AAPL-TRAIL"
    assert c.get("/api/report?since=2026-11-28", headers=BEARER).json()["totals"]["trades"] == 0
    assert c.get("/api/report?since=later", headers=BEARER).status_code == 400
    status = c.get("/api/status", headers=BEARER).json()
    assert status["daemon"]["running"] is True and status["daemon"]["account"] == "DU123456"
    assert status["plans"] == {"cancelled": 1, "closed": 1, "pending": 1, "rejected": 1, "trailing": 1}


def test_api_control_with_bearer_writes_one_command_row_and_reports_its_outcome(make_client: Factory,
                                                                                built: Built) -> None:
    add_contract_command_columns(built.path)
    c = make_client(controls=True, signed_in=False)
    r = c.post("/api/controls", json={"command": "pause", "args": {"symbol": "aapl"}}, headers=BEARER)
    assert r.status_code == 202, r.text
    cid = r.json()["id"]
    row = sqlite3.connect(built.path).execute("SELECT plan_id, command, args, origin, processed_at FROM commands "
                                              "WHERE id=?", (cid,)).fetchone()
    assert row == ("", "pause", '{"symbol": "AAPL"}', "console 127.0.0.1 via api", None)
    assert c.get(f"/api/commands/{cid}", headers=BEARER).json()["processed_at"] is None
    write(built.path, "UPDATE commands SET processed_at='2026-11-27T14:37:00+00:00', result='paused AAPL' WHERE id=?",
          (cid,))
    assert c.get(f"/api/commands/{cid}", headers=BEARER).json()["result"] == "paused AAPL"
    for bad in ({"command": "explode"}, {"command": "cancel"}, {"command": "cancel", "plan_id": "NOPE"},
                {"command": "pause", "plan_id": "AAPL-TRAIL"}, {"command": "pause", "args": {"symbol": "<b>"}}):
        assert c.post("/api/controls", json=bad, headers=BEARER).status_code == 400, bad
    assert c.post("/api/controls", content=b"[1]", headers=BEARER).status_code == 400
    ok = c.post("/api/controls", json={"command": "cancel", "plan_id": "TSLA-WAIT"}, headers=BEARER)
    assert ok.status_code == 202


def test_api_control_from_a_browser_session_needs_the_csrf_header(make_client: Factory) -> None:
    import re
    c = make_client(controls=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text).group(1)  # type: ignore[union-attr]
    assert c.post("/api/controls", json={"command": "resume"}).status_code == 403
    r = c.post("/api/controls", json={"command": "resume"}, headers={"x-csrf-token": csrf})
    assert r.status_code == 202
