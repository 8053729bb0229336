"""``[console]`` in config.toml, read beside the config model that does not know it yet."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.console.settings import ConsoleSettings, load_settings
from orchestrator.errors import ConfigError


def _cfg(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_defaults_without_a_console_table(tmp_path: Path) -> None:
    s = load_settings(_cfg(tmp_path, '[store]\nurl = "sqlite:///state.db"\n'), {})
    assert (s.host, s.port, s.controls) == ("127.0.0.1", 8765, False)
    assert s.store_url == f"sqlite:///{tmp_path / 'state.db'}"  # relative to the config file, as load_config does


def test_console_table_and_cli_overrides(tmp_path: Path) -> None:
    path = _cfg(tmp_path, '[store]\nurl = "sqlite:///db/state.db"\n[console]\ncontrols = true\nhost = "127.0.0.2"\n'
                          'port = 9000\nallowed_hosts = ["trader-box:9000"]\n')
    s = load_settings(path, {})
    assert (s.host, s.port, s.controls, s.allowed_hosts) == ("127.0.0.2", 9000, True, ("trader-box:9000",))
    assert s.store_url == f"sqlite:///{tmp_path / 'db' / 'state.db'}"
    assert s.host_headers() == {"127.0.0.2:9000", "127.0.0.1:9000", "localhost:9000", "trader-box:9000"}
    o = load_settings(path, {}, host="0.0.0.0", port=0)
    assert (o.host, o.port, o.loopback) == ("0.0.0.0", 0, False)


@pytest.mark.parametrize("table, message", [
    ("controls = 1", "console.controls: must be true or false"),
    ("port = 70000", "console.port: must be at most 65535"),
    ("port = true", "console.port: must be a whole number (got boolean)"),
    ("allowed_hosts = [1]", "console.allowed_hosts[0]: must be a string (got integer)"),
    ("colour = 'red'", "console.colour: unknown key"),
])
def test_bad_console_keys_are_one_line_errors(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_cfg(tmp_path, f"[console]\n{table}\n"), {})
    assert message in str(exc.value) and len(exc.value.lines) == 1


def test_other_config_errors_still_come_from_the_config_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="store.url"):
        load_settings(_cfg(tmp_path, '[store]\nurl = "postgres://x"\n[console]\ncontrols = true\n'), {})
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(str(tmp_path / "missing.toml"), {})


def test_ipv6_host_headers_are_bracketed() -> None:
    assert ConsoleSettings(store_url="sqlite:///x", host="::1", port=1).host_headers() == {
        "[::1]:1", "127.0.0.1:1", "localhost:1"}
