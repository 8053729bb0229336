"""Every security rule of the console, in-process (httpx against the ASGI app)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orchestrator.console.auth import ENV_TOKEN, FREE_FAILURES, TOKEN_FILE, load_token
from orchestrator.errors import ConfigError

from .conftest import Factory, csrf_of, login_nonce, sign_in
from .stores import TOKEN, Built


def test_pages_need_a_session_and_the_api_a_token(make_client: Factory) -> None:
    c = make_client(signed_in=False)
    for path in ("/", "/plan?id=AAPL-TRAIL", "/report", "/plans", "/commands/1"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    for path in ("/api/plans", "/api/plans/AAPL-TRAIL", "/api/report", "/api/status", "/events"):
        r = c.get(path)
        assert r.status_code == 401, path
        assert "AAPL" not in r.text
    assert c.get("/api/plans", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get("/static/console.css").status_code == 200  # assets are public


def test_a_wrong_token_is_refused_with_the_same_words_whatever_is_wrong(make_client: Factory) -> None:
    c = make_client(signed_in=False)
    answers = set()
    for wrong in ("", "x", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        c2 = make_client(signed_in=False, client=("10.0.0.9", 1))  # a fresh client: no throttle
        r = c2.post("/login", data={"login_nonce": login_nonce(c2), "token": wrong})
        assert r.status_code == 401
        assert "console_session" not in r.headers.get("set-cookie", "")
        answers.add(r.text.split('id="login-error">')[1].split("<")[0])
        api = c.get("/api/plans", headers={"authorization": f"Bearer {wrong}x"})
        assert api.status_code in (401, 429) and "AAPL" not in api.text
    assert answers == {"wrong token"}


def test_repeated_failures_are_slowed_down_by_the_injected_clock(make_client: Factory, clock) -> None:  # type: ignore[no-untyped-def]
    c = make_client(signed_in=False)
    for _ in range(FREE_FAILURES):
        assert c.post("/login", data={"login_nonce": login_nonce(c), "token": "nope"}).status_code == 401
    r = c.post("/login", data={"login_nonce": login_nonce(c), "token": TOKEN})  # even the right token waits
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert c.get("/api/plans", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 429
    clock.advance(2.5)  # the first wait after the free failures is 2 s
    sign_in(c)
    assert c.get("/").status_code == 200
    for _ in range(FREE_FAILURES + 1):  # the count was reset by the success: three free again, then 2 s
        clock.advance(10)
        c.post("/login", data={"login_nonce": login_nonce(c), "token": "nope"})
    assert c.post("/login", data={"login_nonce": login_nonce(c), "token": TOKEN}).status_code == 429
    clock.advance(4.5)  # the second wait is 4 s
    sign_in(c)


def test_session_cookie_is_httponly_and_samesite_strict_and_expires(make_client: Factory, clock) -> None:  # type: ignore[no-untyped-def]
    c = make_client(signed_in=False)
    r = c.post("/login", data={"login_nonce": login_nonce(c), "token": TOKEN})
    cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("console_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie
    assert c.get("/").status_code == 200
    clock.advance(13 * 3600)
    assert c.get("/").status_code == 303


def test_login_form_from_another_site_or_without_its_nonce_is_refused(make_client: Factory) -> None:
    c = make_client(signed_in=False)
    nonce = login_nonce(c)
    assert c.post("/login", data={"login_nonce": "forged" * 6, "token": TOKEN}).status_code == 403
    r = c.post("/login", data={"login_nonce": nonce, "token": TOKEN}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    r = c.post("/login", data={"login_nonce": nonce, "token": TOKEN}, headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403


def test_wrong_host_header_is_refused(make_client: Factory) -> None:
    c = make_client()
    for host in ("evil.example", "evil.example:8765", "127.0.0.1:9999", "127.0.0.1"):
        r = c.get("/", headers={"host": host})
        assert r.status_code == 400, host
        assert r.headers["x-frame-options"] == "DENY"
    assert c.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_security_headers_and_no_cors_anywhere(make_client: Factory) -> None:
    c = make_client()
    for path in ("/", "/plan?id=AAPL-TRAIL", "/api/plans", "/static/console.js", "/login", "/nowhere"):
        r = c.get(path, headers={"origin": "http://evil.example"})
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert not [k for k in r.headers if k.lower().startswith("access-control-")], path
    pre = c.options("/api/plans", headers={"origin": "http://evil.example", "access-control-request-method": "POST"})
    assert pre.status_code in (401, 403, 405)
    assert not [k for k in pre.headers if k.lower().startswith("access-control-")]
    assert c.get("/").headers["cache-control"] == "no-store"


def test_state_changing_requests_need_the_csrf_token(make_client: Factory, built: Built) -> None:
    c = make_client(controls=True)
    form = {"command": "pause", "plan_id": "", "symbol": "", "confirm": "yes"}
    assert c.post("/controls", data=form).status_code == 403
    assert c.post("/controls", data={**form, "csrf": "wrong"}).status_code == 403
    assert c.post("/api/controls", json={"command": "pause"}).status_code == 403  # session without the header
    assert c.post("/logout", data={}).status_code == 403
    r = c.post("/controls", data={**form, "csrf": csrf_of(c)}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    assert _commands(built) == 0
    assert c.post("/controls", data={**form, "csrf": csrf_of(c)}).status_code == 303
    assert _commands(built) == 1


def test_controls_are_off_by_default(make_client: Factory, built: Built) -> None:
    c = make_client()
    page = c.get("/").text
    assert "/controls/confirm" not in page
    assert c.get("/controls/confirm?command=pause").status_code == 403
    assert c.post("/controls", data={"command": "pause", "confirm": "yes", "csrf": csrf_of(c)}).status_code == 403
    api = c.post("/api/controls", json={"command": "pause"}, headers={"authorization": f"Bearer {TOKEN}"})
    assert api.status_code == 403 and "controls = true" in api.json()["error"]
    assert _commands(built) == 0


def test_nothing_secret_in_pages_or_answers(make_client: Factory, tmp_path: Path) -> None:
    c = make_client(controls=True)
    seen = "".join(c.get(p).text for p in ("/", "/plan?id=AAPL-TRAIL", "/report", "/plans", "/api/plans",
                                            "/api/status", "/login", "/controls/confirm?command=pause"))
    assert TOKEN not in seen
    assert "webhook" not in seen.lower()


def test_token_file_is_generated_once_owner_only_and_env_wins(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    token, source = load_token(db, {})
    assert source == str(tmp_path / TOKEN_FILE) and len(token) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / TOKEN_FILE).st_mode) == 0o600
    assert load_token(db, {}) == (token, source)  # never rewritten
    assert load_token(db, {ENV_TOKEN: "from-the-environment-123"}) == ("from-the-environment-123", ENV_TOKEN)
    os.chmod(tmp_path / TOKEN_FILE, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_token(db, {})
    with pytest.raises(ConfigError, match="at least 16"):
        load_token(db, {ENV_TOKEN: "short"})


def _commands(built: Built) -> int:
    import sqlite3
    conn = sqlite3.connect(built.path)
    try:
        return int(conn.execute("SELECT count(*) FROM commands").fetchone()[0])
    finally:
        conn.close()
