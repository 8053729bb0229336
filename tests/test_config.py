"""config.toml: defaults, path resolution, env overrides, one-line errors, and the webhook secret."""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from machines import RiskLimits
from orchestrator.config import ENV_CONFIG, ENV_WEBHOOK, Config, load_config, redact_url
from orchestrator.errors import ConfigError, OrchestratorError

from .damage import damaged

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "500")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKEN = "SeCrEtToKeN-abc123"
WEBHOOK = f"https://discord.com/api/webhooks/123456/{TOKEN}"

# The keys design.md §6 requires, with their default values.
DESIGN_KEYS = {
    ("broker", "mode"): "sim", ("broker", "host"): "127.0.0.1", ("broker", "port"): 4002,
    ("broker", "client_id"): 7, ("sim", "prices"): "examples/prices.csv", ("sim", "tick_seconds"): Decimal("0.25"),
    ("sim", "account_value"): 100000, ("sim", "journal"): "sim-journal.jsonl", ("store", "url"): "sqlite:///state.db",
    ("plans", "files"): ["plans/*.toml"], ("risk", "small_pct"): 1, ("risk", "normal_pct"): 2,
    ("risk", "large_pct"): 3, ("risk", "max_portfolio_risk_pct"): 10, ("trailing", "interval_seconds"): 5,
    ("discord", "webhook_url"): "",
    # beyond design.md: market data (the "IB realities" issue)
    ("market_data", "type"): "auto", ("market_data", "max_age_seconds"): 60, ("market_data", "trail_on_delayed"): False,
}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(directory: Path, text: str | bytes, name: str = "config.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def config_error(path: str | Path | None, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, env or {})
    err = info.value
    assert err.__cause__ is None and err.__context__ is None  # no pydantic dump chained to it
    assert err.exit_code == 2 and isinstance(err, OrchestratorError)
    return err


# --------------------------------------------------------------------------- defaults and sources

def test_no_config_file_means_defaults(in_tmp: Path) -> None:
    config = load_config(None, {})
    assert config.source is None and config.base_dir == in_tmp
    assert config.broker.mode == "sim" and config.broker.port == 4002 and config.broker.client_id == 7
    assert config.sim.prices == in_tmp / "examples/prices.csv"
    assert config.sim.journal == in_tmp / "sim-journal.jsonl"
    assert config.sim.tick_seconds == 0.25 and config.sim.account_value == Decimal(100000)
    assert config.sim.partial_fill_max is None
    assert config.store.url == f"sqlite:///{in_tmp}/state.db" and config.store.path == in_tmp / "state.db"
    assert config.plans.files == [f"{in_tmp}/plans/*.toml"] and config.plans.rescan_seconds == 5
    assert config.trailing.interval_seconds == 5
    assert config.discord.webhook_url.get_secret_value() == "" and not config.discord.enabled
    assert config.risk_limits() == RiskLimits()


def test_repo_config_has_exactly_the_design_keys_with_default_values() -> None:
    raw = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"), parse_float=Decimal)
    found = {(section, key): value for section, table in raw.items() for key, value in table.items()}
    assert found == DESIGN_KEYS
    config = load_config(REPO / "config.toml", {})
    defaults = Config.model_validate({}, context={"base_dir": REPO})
    assert config.source == REPO / "config.toml"
    assert config.model_dump(exclude={"source"}) == defaults.model_dump(exclude={"source"})


def test_explicit_path_beats_env_and_env_beats_default(in_tmp: Path) -> None:
    write_config(in_tmp, "[broker]\nport = 1\n")
    write_config(in_tmp, "[broker]\nport = 2\n", "env.toml")
    write_config(in_tmp, "[broker]\nport = 3\n", "explicit.toml")
    assert load_config(None, {}).broker.port == 1
    assert load_config(None, {ENV_CONFIG: "env.toml"}).broker.port == 2
    assert load_config("explicit.toml", {ENV_CONFIG: "env.toml"}).broker.port == 3
    assert load_config(None, {ENV_CONFIG: ""}).broker.port == 1


def test_named_missing_file_is_an_error(in_tmp: Path) -> None:
    assert str(config_error("nope.toml")) == "nope.toml: file not found"
    assert str(config_error(None, {ENV_CONFIG: "gone.toml"})) == "gone.toml: file not found"
    assert str(config_error(in_tmp)) == f"{in_tmp}: is a directory, not a file"


def test_relative_paths_are_resolved_against_the_config_directory(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    conf_dir = tmp_path / "etc" / "orch"
    write_config(conf_dir, """
[sim]
prices = "data/prices.csv"
journal = "/var/log/journal.jsonl"
[store]
url = "sqlite:///db/state.db?timeout=5"
[plans]
files = ["plans/*.toml", "/srv/plans/**/*.toml"]
""")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config("../etc/orch/config.toml", {})
    assert config.base_dir == conf_dir and config.source == conf_dir / "config.toml"
    assert config.sim.prices == conf_dir / "data/prices.csv"
    assert config.sim.journal == Path("/var/log/journal.jsonl")
    assert config.store.url == f"sqlite:///{conf_dir}/db/state.db?timeout=5"
    assert config.store.path == conf_dir / "db/state.db"
    assert config.plans.files == [f"{conf_dir}/plans/*.toml", "/srv/plans/**/*.toml"]


def test_sqlite_absolute_and_memory_urls(in_tmp: Path) -> None:
    write_config(in_tmp, '[store]\nurl = "sqlite:////data/state.db"\n')
    assert load_config(None, {}).store.url == "sqlite:////data/state.db"
    write_config(in_tmp, '[store]\nurl = "sqlite:///:memory:"\n')
    config = load_config(None, {})
    assert config.store.url == "sqlite:///:memory:" and config.store.path is None


def test_plan_globs_expand_to_existing_files(in_tmp: Path) -> None:
    for name in ("b.toml", "a.toml", "notes.txt"):
        write_config(in_tmp / "plans", "", name)
    (in_tmp / "plans" / "dir.toml").mkdir()
    write_config(in_tmp, '[plans]\nfiles = ["plans/*.toml", "plans/a.toml"]\n')
    assert load_config(None, {}).plans.paths() == [in_tmp / "plans/a.toml", in_tmp / "plans/b.toml"]


def test_all_optional_keys(in_tmp: Path) -> None:
    write_config(in_tmp, """
[broker]
mode = "paper"
[sim]
partial_fill_max = 50
tick_seconds = 1
[plans]
rescan_seconds = 2.5
[risk]
small_pct = 0.5
normal_pct = 1.25
large_pct = 2
max_portfolio_risk_pct = 6
[discord]
timeout_seconds = 3
""")
    config = load_config(None, {})
    assert config.broker.mode == "paper" and config.sim.partial_fill_max == 50 and config.sim.tick_seconds == 1.0
    assert config.plans.rescan_seconds == 2.5 and config.discord.timeout_seconds == 3.0
    assert config.risk_limits() == RiskLimits(Decimal("0.5"), Decimal("1.25"), Decimal(2), Decimal(6))
    assert config.risk_limits().pct_for("normal") == Decimal("1.25")


def test_config_is_frozen(in_tmp: Path) -> None:
    config = load_config(None, {})
    with pytest.raises(ValidationError):
        config.broker.port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.risk = config.risk  # type: ignore[misc]


# --------------------------------------------------------------------------- errors

def test_the_documented_error_line(in_tmp: Path) -> None:
    write_config(in_tmp, "[risk]\nnormal_pct = 0\n")
    assert str(config_error(None)) == "config.toml: risk.normal_pct: must be greater than 0"


@pytest.mark.parametrize(("toml", "key", "fragment"), [
    ('[broker]\nmode = "demo"', "broker.mode", "must be one of 'sim', 'paper' or 'live'"),
    ("[broker]\nport = 0", "broker.port", "at least 1"),
    ("[broker]\nport = 65536", "broker.port", "at most 65535"),
    ('[broker]\nport = "4002"', "broker.port", "whole number (got string)"),
    ("[broker]\nport = 4002.0", "broker.port", "whole number (got float)"),
    ("[broker]\nport = true", "broker.port", "whole number (got boolean)"),
    ("[broker]\nclient_id = -1", "broker.client_id", "at least 1"),
    ("[broker]\nclient_id = 0", "broker.client_id", "client 0 is TWS's own"),
    ('[broker]\nhost = ""', "broker.host", "must not be empty"),
    ("[sim]\ntick_seconds = 0", "sim.tick_seconds", "greater than 0"),
    ("[sim]\nclock = 2026-12-02T14:29:00", "sim.clock", "with its UTC offset"),
    ('[sim]\nclock = "2026-12-02T14:29:00Z"', "sim.clock", "a TOML date-time, not a string"),
    ("[sim]\nspeed = -1", "sim.speed", "at least 0"),
    ('[sim]\ncalendar = "XLON"', "sim.calendar", "must be one of 'XNYS'"),
    ("[sim]\ntick_seconds = nan", "sim.tick_seconds", "finite"),
    ("[sim]\ntick_seconds = 1e400", "sim.tick_seconds", "finite"),
    (f"[sim]\ntick_seconds = {10 ** 400}", "sim.tick_seconds", "too large"),
    ("[sim]\naccount_value = -5", "sim.account_value", "greater than 0"),
    ("[sim]\naccount_value = inf", "sim.account_value", "finite"),
    ("[sim]\naccount_value = true", "sim.account_value", "got boolean"),
    ("[sim]\npartial_fill_max = 0", "sim.partial_fill_max", "greater than 0"),
    ("[sim]\nprices = 5", "sim.prices", "path string (got integer)"),
    ('[sim]\nprices = ""', "sim.prices", "must not be empty"),
    ('[sim]\njournal = "~no-such-user-x/j.jsonl"', "sim.journal", "home directory is unknown"),
    ('[store]\nurl = "postgresql://db/x"', "store.url", "SQLite"),
    ('[store]\nurl = "sqlite:///"', "store.url", "must name a database file"),
    ('[plans]\nfiles = "plans/*.toml"', "plans.files", "must be an array"),
    ("[plans]\nfiles = [1]", "plans.files[0]", "must be a string"),
    ('[plans]\nfiles = [""]', "plans.files", "non-empty"),
    ("[plans]\nrescan_seconds = -1", "plans.rescan_seconds", "greater than 0"),
    ("[risk]\nsmall_pct = 0", "risk.small_pct", "greater than 0"),
    ("[risk]\nlarge_pct = 101", "risk.large_pct", "at most 100"),
    ('[risk]\nnormal_pct = "2"', "risk.normal_pct", "must be a number (got string)"),
    ("[risk]\nmax_portfolio_risk_pct = -inf", "risk.max_portfolio_risk_pct", "finite"),
    ("[trailing]\ninterval_seconds = 0", "trailing.interval_seconds", "greater than 0"),
    ("[discord]\nwebhook_url = 5", "discord.webhook_url", "must be a string"),
    ('[discord]\nwebhook_url = "ftp://x"', "discord.webhook_url", "https://"),
    ("[discord]\ntimeout_seconds = 0", "discord.timeout_seconds", "greater than 0"),
    ("broker = 5", "broker", "must be a table (got integer)"),
    ('[broker]\nhots = "x"', "broker.hots", "unknown key (did you mean 'host'?"),
    ("[engine]\nx = 1", "engine", "unknown section"),
    ('base_dir = "/"', "base_dir", "unknown section"),
])
def test_each_bad_value_is_one_line(in_tmp: Path, toml: str, key: str, fragment: str) -> None:
    write_config(in_tmp, toml + "\n")
    err = config_error(None)
    assert len(err.lines) == 1 and str(err) == err.lines[0]
    assert err.lines[0].startswith(f"config.toml: {key}: "), err.lines[0]
    assert fragment in err.lines[0]


def test_every_problem_is_reported(in_tmp: Path) -> None:
    write_config(in_tmp, "[broker]\nport = 0\n[risk]\nsmall_pct = 0\nnormal_pct = 0\n[nope]\n")
    err = config_error("config.toml")
    assert [line.split(": ")[1] for line in err.lines] == ["broker.port", "risk.small_pct", "risk.normal_pct", "nope"]
    assert str(err).splitlines() == err.lines


@pytest.mark.parametrize(("content", "fragment"), [
    ("[broker]\nport = = 1\n", "config.toml: TOML syntax error at line 2, column 8: "),
    ("[broker\n", "config.toml: TOML syntax error at line 1"),
    (b"\xff\xfe[\x00", "config.toml: not UTF-8 text"),
    ("a = " + "[" * 5000 + "]" * 5000, "config.toml: TOML nesting is too deep"),
    ("a = 1" + "0" * 5000, "config.toml: an integer has too many digits"),
])
def test_unreadable_files_name_the_file_and_line(in_tmp: Path, content: str | bytes, fragment: str) -> None:
    write_config(in_tmp, content)
    assert str(config_error(None)).startswith(fragment)


# --------------------------------------------------------------------------- the webhook secret

def test_env_overrides_the_webhook(in_tmp: Path) -> None:
    write_config(in_tmp, '[discord]\nwebhook_url = "https://discord.com/api/webhooks/1/file-token"\n')
    config = load_config(None, {ENV_WEBHOOK: WEBHOOK})
    assert config.discord.webhook_url.get_secret_value() == WEBHOOK and config.discord.enabled
    assert load_config(None, {ENV_WEBHOOK: ""}).discord.webhook_url.get_secret_value().endswith("/file-token")


def test_env_webhook_without_a_config_file(in_tmp: Path) -> None:
    config = load_config(None, {ENV_WEBHOOK: WEBHOOK})
    assert config.discord.webhook_url == SecretStr(WEBHOOK)


def test_webhook_never_appears_in_repr_str_or_dump(in_tmp: Path) -> None:
    write_config(in_tmp, f'[discord]\nwebhook_url = "{WEBHOOK}"\n')
    config = load_config(None, {})
    for text in (repr(config), str(config), repr(config.discord), config.model_dump_json(), str(config.model_dump())):
        assert TOKEN not in text


@pytest.mark.parametrize("url", [f"http://discord.com/api/webhooks/1/{TOKEN}", f"discord.com/api/webhooks/1/{TOKEN}",
                                 f"https://discord.com/api/webhooks/1/{TOKEN} x", f"https://[{TOKEN}/x"])
def test_invalid_webhook_errors_do_not_leak(in_tmp: Path, url: str) -> None:
    write_config(in_tmp, f'[discord]\nwebhook_url = "{url}"\n[broker]\nport = 0\n')
    err = config_error(None)
    assert TOKEN not in str(err) and TOKEN not in repr(err)
    assert any(line.startswith("config.toml: discord.webhook_url: ") for line in err.lines)
    from_env = config_error(None, {ENV_WEBHOOK: url})
    assert TOKEN not in str(from_env)
    assert f"discord.webhook_url (from {ENV_WEBHOOK}): " in str(from_env)


def test_localhost_http_webhook_is_allowed_for_tests(in_tmp: Path) -> None:
    assert load_config(None, {ENV_WEBHOOK: "http://127.0.0.1:8080/hook"}).discord.enabled


@pytest.mark.parametrize(("url", "safe"), [
    (WEBHOOK, "https://discord.com/api/webhooks/123456/****"),
    (f"https://discord.com/api/v10/webhooks/123456/{TOKEN}?wait=true", "https://discord.com/api/v10/webhooks/123456/****"),
    (f"https://user:{TOKEN}@hooks.example.com/x/{TOKEN}", "https://hooks.example.com/****"),
    (f"https://discord.com/{TOKEN}/webhooks/1/x", "https://discord.com/****"),
    ("https://example.com", "https://example.com"),
    (f"http://[::1]:8080/{TOKEN}", "http://[::1]:8080/****"),
    (TOKEN, "****"),
    ("https://[oops/x", "****"),
    ("", ""),
    (SecretStr(WEBHOOK), "https://discord.com/api/webhooks/123456/****"),
])
def test_redact_url(url: str | SecretStr, safe: str) -> None:
    assert redact_url(url) == safe


# --------------------------------------------------------------------------- fuzz

VALUE = st.one_of(
    st.integers().map(str),
    st.sampled_from(["1" + "0" * 400, "1e400", "-1e400", "nan", "inf", "-inf", "0", "-0.0", "true", "false",
                     "1" + "0" * 5000, "65536", "0.25", f'"{WEBHOOK}"', '"~no-such-user-x/p"', '"sqlite:///x.db"',
                     '"sim"', '"live"']),
    st.floats().map(repr),
    st.text(max_size=20).map(lambda s: '"' + "".join(c if c.isalnum() else "_" for c in s) + '"'),
    st.datetimes().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.lists(st.sampled_from(['"plans/*.toml"', "1", '""', "[]"]), max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.just("{a = 1}"),
)
SECTIONS = sorted({section for section, _ in DESIGN_KEYS} | {"engine", "base_dir"})
KEYS = sorted({key for _, key in DESIGN_KEYS} | {"partial_fill_max", "rescan_seconds", "timeout_seconds", "bogus"})


@st.composite
def config_documents(draw: st.DrawFn) -> bytes:
    tables: dict[str, dict[str, str]] = {}
    for (section, key), value in DESIGN_KEYS.items():
        literal = f'"{value}"' if isinstance(value, str) else (
            "[" + ", ".join(f'"{v}"' for v in value) + "]" if isinstance(value, list) else str(value))
        tables.setdefault(section, {})[key] = literal
    tables["discord"]["webhook_url"] = f'"{WEBHOOK}"'
    for _ in range(draw(st.integers(0, 4))):
        section = draw(st.sampled_from(SECTIONS))
        action = draw(st.sampled_from(["set", "set", "delete_key", "delete_section"]))
        if action == "delete_section":
            tables.pop(section, None)
        elif action == "delete_key" and tables.get(section):
            tables[section].pop(draw(st.sampled_from(sorted(tables[section]))))
        else:
            tables.setdefault(section, {})[draw(st.sampled_from(KEYS))] = draw(VALUE)
    text = "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in body.items()) for name, body in tables.items())
    if draw(st.booleans()):
        text = f"{draw(st.sampled_from(SECTIONS))} = {draw(VALUE)}\n" + text
    return damaged(draw, text, ["plain", "plain", "plain", "utf16", "insert", "flip", "truncate"])


def check_config(path: Path, env: dict[str, str]) -> None:
    try:
        config = load_config(path, env)
    except ConfigError as err:
        assert err.lines and all(line.startswith(f"{path}: ") and "\n" not in line for line in err.lines)
        assert TOKEN not in str(err) and TOKEN not in repr(err)
        assert err.__context__ is None
    else:
        assert isinstance(config, Config)
        assert TOKEN not in repr(config) and TOKEN not in str(config)
        assert isinstance(config.risk_limits(), RiskLimits)


@FUZZ
@given(data=config_documents(), env_webhook=st.sampled_from(["", WEBHOOK, f"ftp://x/{TOKEN}", f"https://h/{TOKEN} "]))
def test_fuzz_mutated_config_only_raises_config_error(tmp_path: Path, data: bytes, env_webhook: str) -> None:
    path = write_config(tmp_path, data)
    check_config(path, {ENV_WEBHOOK: env_webhook})


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes_config_only_raises_config_error(tmp_path: Path, data: bytes) -> None:
    check_config(write_config(tmp_path, data), {})


def test_fuzz_examples_is_configurable() -> None:
    assert FUZZ.max_examples == int(os.environ.get("FUZZ_EXAMPLES", "500"))
    assert re.fullmatch(r"\d+", str(FUZZ.max_examples))


# --------------------------------------------------------------------------- sessions and the clock

@pytest.mark.parametrize(("mode", "market_hours", "clock"), [("sim", False, "broker"), ("paper", True, "system"),
                                                              ("live", True, "system")])
def test_sessions_and_clock_defaults_follow_the_mode(in_tmp: Path, mode: str, market_hours: bool, clock: str) -> None:
    config = load_config(write_config(in_tmp, f'[broker]\nmode = "{mode}"\n'), {})
    assert (config.market_hours(), config.clock_source()) == (market_hours, clock)
    text = f'[broker]\nmode = "{mode}"\n[sessions]\nmarket_hours = {str(not market_hours).lower()}\n' \
           '[clock]\nsource = "system"\n'
    config = load_config(write_config(in_tmp, text), {})
    assert (config.market_hours(), config.clock_source()) == (not market_hours, "system")


def test_a_bad_clock_source_is_one_clear_error(in_tmp: Path) -> None:
    err = config_error(write_config(in_tmp, '[clock]\nsource = "ntp"\n'))
    assert "clock.source" in str(err) and "'system' or 'broker'" in str(err)
