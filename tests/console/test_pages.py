"""The pages in-process: what the overview, plan, list and report pages show, and escaping."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import quote

from markupsafe import escape

from .conftest import Factory
from .stores import EVIL_BLOCK, EVIL_ID, EVIL_REASON, EVIL_SYMBOL, Built, build_store, write

RAW_MARKUP = ("<script>alert", "<img src=x", "<b>EV</b>", "onerror=alert(1)>")


def _text(page: str) -> str:
    """The page's visible text, roughly (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_overview_shows_daemon_connection_market_data_risk_plans_and_notifications(make_client: Factory) -> None:
    page = make_client().get("/").text
    text = " ".join(_text(page).split())
    assert "running since 2026-11-27 13:36:00 UTC" in text
    assert "connected" in text and "IB 127.0.0.1:4002 · account DU123456" in text
    assert "2,000.00 / 10,000.00 USD" in text and "20.0 % of the cap" in text
    assert re.search(r"AAPL\s+live\s+MSFT\s+delayed", text)
    assert "SPY blocked: " + EVIL_BLOCK in text and "TSLA new entries paused" in text
    assert re.search(r"trailing \(1\).*MSFT-LIVE MSFT long trailing 200 200 400.00 390.00 → 407.00 420.00 412.00 "
                     r"2,400.00", text)
    assert re.search(r"pending \(1\).*TSLA-WAIT", text)
    assert "AAPL-TRAIL" in text and "closed 1" in text and "cancelled 1" in text and "rejected 1" in text
    assert re.search(r"\d+ pending .*0 dead-lettered", text)


def test_daemon_stopped_or_silent_or_unknown(make_client: Factory, built: Built, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    clock.advance(30)  # heartbeat now 32 s old
    assert "no heartbeat for 32 s" in _text(c.get("/").text)
    bare = build_store(tmp_path / "bare")
    page = _text(make_client(url=bare.url).get("/").text)
    assert "the daemon has not published its status in this store" in page
    assert page.count("unknown") >= 5  # daemon, connection, IB, account, risk, market data, symbols


def test_user_controlled_strings_are_escaped_on_every_page(make_client: Factory) -> None:
    c = make_client(controls=True)
    pages = {p: c.get(p).text for p in ("/", "/plans", "/plans?state=cancelled", f"/plan?id={quote(EVIL_ID)}",
                                        f"/fragments/plan?id={quote(EVIL_ID)}", "/fragments/overview", "/report",
                                        f"/controls/confirm?command=cancel&plan_id={quote(EVIL_ID)}",
                                        f"/plan?id={quote('<i>nope</i>')}")}
    for path, page in pages.items():
        for raw in RAW_MARKUP:
            assert raw not in page, (path, raw)
    plan = pages[f"/plan?id={quote(EVIL_ID)}"]
    assert str(escape(EVIL_ID)) in plan
    assert str(escape(EVIL_REASON)) in plan
    assert "&lt;b&gt;EV&lt;/b&gt;" in plan
    data = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', plan, re.S)
    assert data and json.loads(data.group(1))["plan_id"] == EVIL_ID  # the JSON block cannot close its tag early
    assert "&lt;script&gt;alert(&#39;blocked&#39;)&lt;/script&gt;" in pages["/"]
    assert str(escape(EVIL_SYMBOL)) in pages["/"]
    assert "&lt;i&gt;nope&lt;/i&gt;" in pages[f"/plan?id={quote('<i>nope</i>')}"]


def test_plan_page_draws_path_orders_journal_and_chart_data(make_client: Factory) -> None:
    page = make_client().get("/plan?id=AAPL-TRAIL").text
    assert re.search(r'<g class="state visited current" data-state="closed">', page)
    taken = set(re.findall(r'class="edge taken" data-from="(\w+)" data-to="(\w+)"', page))
    assert taken == {("pending", "sized"), ("sized", "submitted"), ("submitted", "filled"), ("filled", "protected"),
                     ("protected", "trailing"), ("trailing", "closed")}
    chart = json.loads(re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert chart["source"] == "journal"
    assert [p["value"] for p in chart["stop"]] == [176.0, 184.0, 184.0]  # the staircase: initial, moved, held
    assert [m["text"] for m in chart["markers"]] == ["buy 200 @ 180.00 (entry)", "buy 300 @ 180.10 (entry)",
                                                     "sell 500 @ 184.00 (stop)"]
    assert {line["title"]: line["price"] for line in chart["lines"]} == {"entry": 180.06, "SL": 176.0, "TP": 188.0}
    text = " ".join(_text(page).split())
    assert "ExitFilled · trailing → closed" in text
    assert "StopModified" in text  # folded into the run of internal events
    assert 'class="mismatch"' not in page  # an ended plan: its recorded orders are history


def test_live_plan_orders_are_compared_with_what_the_plan_expects(make_client: Factory) -> None:
    page = make_client().get("/plan?id=MSFT-LIVE").text
    rows = re.findall(r'<tr class="(mismatch|)"><td>(\w+)</td>', page)
    assert ("mismatch", "stop") in rows and ("", "target") in rows and ("", "entry") in rows
    assert "aux_price 390.00 but the plan expects 407.00" in page


def test_plans_list_paginates_and_filters(make_client: Factory) -> None:
    c = make_client()
    everything = _text(c.get("/plans").text)
    assert "Plans (5)" in " ".join(everything.split()) and "page 1 of 1" in everything
    only = _text(c.get("/plans?state=pending").text)
    assert "TSLA-WAIT" in only and "AAPL-TRAIL" not in only
    assert c.get("/plans?state=%3Cx%3E").status_code == 404


def test_unknown_plan_and_store_problems_are_pages_not_crashes(make_client: Factory, tmp_path: Path) -> None:
    assert make_client().get("/plan?id=NOPE").status_code == 404
    missing = tmp_path / "later" / "state.db"
    c = make_client(url=f"sqlite:///{missing}")
    r = c.get("/")
    assert r.status_code == 200 and "Nothing has run yet" in r.text and "no state database yet" in r.text
    assert c.get("/api/plans").json() == []
    assert c.get("/report").status_code == 200
    build_store(missing.parent)  # the daemon starts and writes its store: the same console now shows it
    assert "AAPL-TRAIL" in c.get("/").text
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    bad = make_client(url=f"sqlite:///{junk}")
    r = bad.get("/")
    assert r.status_code == 503 and "cannot be read" in r.text
    assert bad.get("/api/status").status_code == 503


def test_report_page_lists_closed_trades_with_totals(make_client: Factory) -> None:
    text = " ".join(_text(make_client().get("/report").text).split())
    assert re.search(r"AAPL-TRAIL AAPL long 500 180.06 184.00 1,970.00 0.97 5s trailing_stop", text)
    assert "1 trades · 1 won · 0 lost" in text


def test_command_page_follows_the_daemon(make_client: Factory, built: Built) -> None:
    write(built.path, "INSERT INTO commands(plan_id, command, created_at) VALUES ('TSLA-WAIT', 'cancel', "
                      "'2026-11-27T14:36:00.000000+00:00')")
    c = make_client()
    assert "waiting for the daemon" in c.get("/commands/1").text
    write(built.path, "UPDATE commands SET processed_at='2026-11-27T14:36:01.000000+00:00', result='applied'")
    assert "carried out 2026-11-27 14:36:01 UTC: applied" in _text(c.get("/fragments/commands/1").text)
    assert c.get("/commands/99").status_code == 404
