"""Controls in the pages: confirmation first, one command row, attributed, then its outcome."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import quote

from .conftest import Factory, csrf_of
from .stores import Built, add_contract_command_columns, drop_contract_command_columns


def _rows(built: Built, extra: str = "") -> list[tuple[object, ...]]:
    conn = sqlite3.connect(built.path)
    try:
        return conn.execute(f"SELECT id, plan_id, command{extra} FROM commands ORDER BY id").fetchall()
    finally:
        conn.close()


def test_cancel_asks_for_the_plan_id_typed_then_writes_one_row(make_client: Factory, built: Built) -> None:
    drop_contract_command_columns(built.path)  # a store of schema 1: the row is written without an origin
    c = make_client(controls=True)
    plan = c.get("/plan?id=TSLA-WAIT").text
    assert "/controls/confirm?command=cancel&amp;plan_id=TSLA-WAIT" in plan
    assert "command=flatten" not in plan  # nothing filled: nothing to flatten
    confirm = c.get("/controls/confirm?command=cancel&plan_id=TSLA-WAIT")
    assert confirm.status_code == 200 and "Type the plan id" in confirm.text and "cancel plan TSLA-WAIT" in confirm.text
    assert _rows(built) == []  # a GET never writes
    form = {"csrf": csrf_of(c), "command": "cancel", "plan_id": "TSLA-WAIT", "symbol": ""}
    wrong = c.post("/controls", data={**form, "confirm": "TSLA"})
    assert wrong.status_code == 400 and "not confirmed" in wrong.text
    assert _rows(built) == []
    done = c.post("/controls", data={**form, "confirm": "TSLA-WAIT"})
    assert done.status_code == 303 and done.headers["location"] == "/commands/1"
    rows = _rows(built)
    assert len(rows) == 1 and rows[0][1:3] == ("TSLA-WAIT", "cancel")
    page = c.get("/commands/1").text
    assert "waiting for the daemon" in page and "no origin column" in page  # today's schema 1 has none


def test_flatten_is_offered_for_an_open_position_and_attributed(make_client: Factory, built: Built) -> None:
    add_contract_command_columns(built.path)
    c = make_client(controls=True)
    assert "/controls/confirm?command=flatten&amp;plan_id=MSFT-LIVE" in c.get("/plan?id=MSFT-LIVE").text
    assert "command=cancel" not in c.get("/plan?id=AAPL-TRAIL").text  # ended: no controls
    r = c.post("/controls", data={"csrf": csrf_of(c), "command": "flatten", "plan_id": "MSFT-LIVE",
                                  "confirm": "MSFT-LIVE"})
    assert r.status_code == 303
    assert _rows(built, ", args, origin") == [(1, "MSFT-LIVE", "flatten", "{}", "console 127.0.0.1 via browser")]
    assert "console 127.0.0.1 via browser" in c.get("/").text  # the overview lists it with its origin


def test_pause_per_symbol_needs_the_args_column(make_client: Factory, built: Built) -> None:
    drop_contract_command_columns(built.path)
    c = make_client(controls=True)
    confirm = c.get("/controls/confirm?command=pause&symbol=aapl").text
    assert "stop opening new entries on AAPL" in confirm and 'name="confirm" value="yes"' in confirm
    form = {"csrf": csrf_of(c), "command": "pause", "plan_id": "", "symbol": "AAPL", "confirm": "yes"}
    refused = c.post("/controls", data=form)
    assert refused.status_code == 409 and "needs a newer state database" in refused.text
    assert _rows(built) == []  # never widened to every symbol
    everything = c.post("/controls", data={**form, "symbol": ""})  # pause all fits schema 1
    assert everything.status_code == 303 and _rows(built)[0][1:3] == ("", "pause")
    add_contract_command_columns(built.path)
    assert c.post("/controls", data=form).status_code == 303
    assert _rows(built, ", args, origin")[-1][-2:] == ('{"symbol": "AAPL"}', "console 127.0.0.1 via browser")


def test_confirm_page_refuses_nonsense(make_client: Factory) -> None:
    c = make_client(controls=True)
    for query in ("command=explode", "command=cancel", "command=cancel&plan_id=NOPE", "command=pause&plan_id=X",
                  f"command=pause&symbol={quote('<script>')}"):
        r = c.get(f"/controls/confirm?{query}")
        assert r.status_code == 400, query
        assert "<script>" not in r.text
    assert re.search(r"pause all new entries", c.get("/").text)
