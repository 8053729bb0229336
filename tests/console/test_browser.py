"""The console in a real browser: Debian's chromium driven by Playwright, never a downloaded one.

One demo run (the real ``orchestrator demo``), one console process and one browser serve the
whole module. The chart is checked through its own data (``series.data()``, the markers
plugin, the price lines), not through pixels; screenshots go to ``docs/`` for the README.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .procs import REPO, ConsoleProc, run_demo
from .stores import TOKEN

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS_ENV = "ORCHESTRATOR_SCREENSHOTS"  # set to 1 to (re)write docs/console-overview.png and docs/console-plan.png
WAIT_MS = 10_000

if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian package `chromium`; .ci/run installs it)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402  (only once chromium exists)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a real demo run, with a console config (controls on) beside its config."""
    config = run_demo(tmp_path_factory.mktemp("demo"))
    (config.parent / "console.toml").write_text('[store]\nurl = "sqlite:///state.db"\n[console]\ncontrols = true\n')
    return config.parent


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/ when asked for, else a temporary folder (the tests still take them)."""
    return REPO / "docs" if os.environ.get(SHOTS_ENV) == "1" else tmp_path_factory.mktemp("shots")


@pytest.fixture(scope="module")
def console(demo: Path) -> Iterator[str]:
    proc = ConsoleProc("--config", str(demo / "console.toml"), "--port", "0",
                       env={"ORCHESTRATOR_CONSOLE_TOKEN": TOKEN})
    assert proc.url, proc.first
    yield proc.url
    proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        # launch() gives every browser a fresh, temporary user-data dir of its own; waits below use
    # selectors, not wait_for_function: the console's CSP forbids the eval that one needs
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    problems: list[str] = []
    refused = "the server responded with a status of 401"  # the wrong-token test's own answer
    p.on("console", lambda m: problems.append(m.text) if m.type == "error" and refused not in m.text else None)
    p.on("pageerror", lambda e: problems.append(str(e)))
    yield p
    context.close()
    assert not problems, problems  # no script error and no CSP violation on any page


def _login(page: Page, url: str, token: str = TOKEN) -> None:
    page.goto(f"{url}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_a_wrong_token_is_refused(page: Page, console: str) -> None:
    _login(page, console, "not-the-token-at-all")
    assert page.inner_text("#login-error") == "wrong token"
    assert page.url == f"{console}/login"
    page.goto(f"{console}/")
    assert page.url == f"{console}/login"  # still no session


def test_overview_then_a_live_update_while_the_store_changes(page: Page, console: str, demo: Path,
                                                             shots: Path) -> None:
    _login(page, console)
    page.wait_for_url(f"{console}/")
    assert "DEMO-NVDA-TRAIL" in page.inner_text("#recent")
    assert page.inner_text("#daemon h3 + div") == "not running"   # the demo's daemon wrote its status, then stopped
    now = datetime.now(UTC).isoformat()
    doc = {"pid": 1, "started_at": now, "heartbeat_at": now, "stopped_at": None, "connected": True,
           "ib_host": "127.0.0.1", "ib_port": 4002, "account": "DU999001", "base_currency": "USD",
           "market_data": {"AAPL": "live", "NVDA": "delayed"}, "entries_paused": False, "paused_symbols": [],
           "blocked_symbols": {}, "open_risk": "0.00", "open_risk_cap": "4000.00"}
    _write(demo, "INSERT OR REPLACE INTO meta(key, value) VALUES ('daemon', ?)", (json.dumps(doc),))
    page.wait_for_selector("#daemon .ok", timeout=WAIT_MS)  # pushed over SSE, re-fetched by htmx: no reload
    assert page.inner_text("#daemon .ok") == "running"
    assert "account DU999001" in page.inner_text("#connection")
    assert "delayed" in page.inner_text("#market-data")
    page.screenshot(path=str(shots / "console-overview.png"), full_page=True)
    assert (shots / "console-overview.png").stat().st_size > 10_000


def test_trailing_plan_chart_draws_the_staircase_and_the_fills(page: Page, console: str, shots: Path) -> None:
    _login(page, console)
    page.wait_for_url(f"{console}/")
    page.click("text=DEMO-NVDA-TRAIL")
    page.wait_for_selector("body[data-chart=drawn]", state="attached", timeout=WAIT_MS)
    chart: dict[str, Any] = page.evaluate("""() => {
        const c = window.consoleChart;
        return {price: c.price.data().length, stop: c.stop.data().map(p => p.value),
                lineType: c.stop.options().lineType, markers: c.markers.markers(),
                lines: c.price.priceLines().map(l => l.options().title)};
    }""")
    stops = chart["stop"]
    assert chart["lineType"] == 1  # LineType.WithSteps: a staircase
    assert stops[0] == 123.5 and stops[-1] == 139.0 and len(set(stops)) >= 5  # trailed up in steps …
    assert stops == sorted(stops)  # … and a long's stop only ever rises
    assert [m["shape"] for m in chart["markers"]] == ["arrowUp", "arrowDown"]  # the entry fill, the stop fill
    assert chart["markers"][1]["text"].startswith("sell 153 @ 138.93")
    assert chart["lines"] == ["entry", "SL", "TP"] and chart["price"] > 20
    assert page.locator('svg.machine g.current[data-state="closed"]').count() == 1
    assert page.locator("svg.machine path.taken").count() == 6
    page.screenshot(path=str(shots / "console-plan.png"), full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390


def test_a_control_asks_for_confirmation_writes_the_command_and_the_daemon_answers(
        page: Page, console: str, demo: Path) -> None:
    _login(page, console)
    page.wait_for_url(f"{console}/")
    page.click("text=pause all new entries")
    assert "Confirm: pause" in page.inner_text("#confirm")
    assert _commands(demo) == []  # showing the confirmation wrote nothing
    page.click("#confirm-button")
    page.wait_for_selector("#command[data-processed=no]", timeout=WAIT_MS)
    (row,) = _commands(demo)
    assert row[1:3] == ("", "pause")
    daemon = _daemon(demo)
    try:
        page.wait_for_selector("#command[data-processed=yes]", timeout=30_000)  # live, over SSE
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
    result = page.inner_text("#command-result")
    assert result.startswith("carried out") and _commands(demo)[0][-1] in result


def _daemon(demo: Path) -> subprocess.Popen[str]:
    """The real orchestrator on the demo's store (its embedded simulated gateway)."""
    return subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "--config", str(demo / "config.toml")],
                            cwd=REPO, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _write(demo: Path, sql: str, args: tuple[Any, ...]) -> None:
    conn = sqlite3.connect(demo / "state.db", isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(sql, args)
    finally:
        conn.close()


def _commands(demo: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(demo / "state.db")
    try:
        return conn.execute("SELECT id, plan_id, command, created_at, processed_at, result FROM commands "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()

