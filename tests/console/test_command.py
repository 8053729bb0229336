"""``orchestrator console`` as a real process: its one stdout line, warnings, errors, no store yet."""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path

import httpx

from orchestrator.console.auth import TOKEN_FILE

from .procs import ConsoleProc
from .stores import TOKEN


def _cfg(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\nurl = "sqlite:///state.db"\n{extra}')
    return str(path)


def test_starts_without_a_store_prints_one_line_and_makes_the_token_file(tmp_path: Path) -> None:
    env = {k: "" for k in ("ORCHESTRATOR_CONSOLE_TOKEN",)}
    p = ConsoleProc("--config", _cfg(tmp_path), "--port", "0", env=env)
    try:
        assert re.fullmatch(r"console on http://127\.0\.0\.1:\d+\n", p.first)
        token_file = tmp_path / TOKEN_FILE
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = token_file.read_text().strip()
        with httpx.Client(base_url=p.url, timeout=10) as http:
            nonce = re.search(r'name="login_nonce" value="([^"]+)"', http.get("/login").text).group(1)  # type: ignore[union-attr]
            assert http.post("/login", data={"login_nonce": nonce, "token": token}).status_code == 303
            page = http.get("/")
            assert page.status_code == 200 and "Nothing has run yet" in page.text
        assert not (tmp_path / "state.db").exists()  # the console never creates the store
    finally:
        code, out, err = p.stop()
    assert code in (0, -15)  # uvicorn stops cleanly on SIGTERM, then re-raises it for the exit status
    assert out.splitlines() == [p.first.strip()]  # exactly one line on stdout
    assert token not in out + err and str(token_file) in err


def test_warns_loudly_when_bound_beyond_loopback(tmp_path: Path) -> None:
    p = ConsoleProc("--config", _cfg(tmp_path), "--host", "0.0.0.0", "--port", "0",
                    env={"ORCHESTRATOR_CONSOLE_TOKEN": TOKEN})
    code, out, err = p.stop()
    assert p.first.startswith("console on http://0.0.0.0:")
    assert "WARNING: the console listens on 0.0.0.0" in err and TOKEN not in err + out
    quiet = ConsoleProc("--config", _cfg(tmp_path), "--port", "0", env={"ORCHESTRATOR_CONSOLE_TOKEN": TOKEN})
    assert "WARNING" not in quiet.stop()[2]


def test_bad_config_and_busy_port_are_one_line_errors(tmp_path: Path) -> None:
    bad = ConsoleProc("--config", _cfg(tmp_path, "[console]\ncontrols = 'yes'\n"))
    code, _, err = bad.stop()
    assert code == 2 and err.strip().splitlines() == [
        f"orchestrator: {tmp_path / 'config.toml'}: console.controls: must be true or false (got string)"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = ConsoleProc("--config", _cfg(tmp_path), "--port", str(port), env={"ORCHESTRATOR_CONSOLE_TOKEN": TOKEN})
        code, out, err = p.stop()
    assert code == 1 and out == "" and f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_the_listening_socket_says_tcp_so_responses_are_not_held_by_nagle() -> None:
    from orchestrator.console.serve import bind
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on accepted sockets only then
    finally:
        sock.close()
