"""Plan files with session fields: read and checked offline, resolved to UTC on the XNYS calendar
by ``plans check`` (early closes, weekends, DST), refused outside the regular session, and
stored and read back unchanged. A plan without them keeps its spec (pinned in test_planfile)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.cli.plans import plans_check
from orchestrator.engine.intake import changed_message, spec_hash
from orchestrator.planfile import scan
from orchestrator.plansessions import Resolution, calendar_sessions, resolve_spec
from orchestrator.store import Store

from .cli.helpers import call
from .engine.harness import plan_toml

THANKSGIVING_EVE = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _check(tmp_path: Path, text: str, at: datetime) -> tuple[int, str, str]:
    path = tmp_path / "p.toml"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    rc = plans_check([str(path)], out, at, err=err)
    return rc, out.getvalue().replace(str(path), "p.toml"), err.getvalue().replace(str(path), "p.toml")


def test_plans_check_prints_the_resolved_utc_times_of_an_early_close(tmp_path: Path) -> None:
    text = plan_toml("A") + 'start = "open+5m"\nexpire = "close-15m"\nsession_day = "2026-11-27"\n'
    rc, out, err = _check(tmp_path, text, THANKSGIVING_EVE)
    assert (rc, err) == (0, "")
    assert out.splitlines() == [
        "p.toml: plan A: start = open+5m -> 2026-11-27 14:35:00 UTC (session 2026-11-27)",
        "p.toml: plan A: expire = close-15m -> 2026-11-27 17:45:00 UTC (session 2026-11-27)",  # 13:00 ET close
        "ok: 1 plan in 1 file"]


def test_a_saturday_plan_with_on_closed_day_next_starts_monday(tmp_path: Path) -> None:
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    text = plan_toml("S") + 'start = "open+5m"\non_closed_day = "next"\n'
    rc, out, _ = _check(tmp_path, text, saturday)
    assert rc == 0 and "start = open+5m -> 2026-11-30 14:35:00 UTC (session 2026-11-30)" in out
    rc, out, _ = _check(tmp_path, plan_toml("S") + 'start = "open+5m"\n', saturday)   # skip is the default
    assert rc == 0 and "p.toml: plan S: skipped: 2026-11-28 is a weekend day on XNYS (no session)" in out


@pytest.mark.parametrize(("day", "utc"), [("2026-03-06", "14:35"), ("2026-03-09", "13:35")])
def test_the_open_follows_new_york_across_the_march_change(tmp_path: Path, day: str, utc: str) -> None:
    text = plan_toml("D") + f'start = "open+5m"\nsession_day = "{day}"\n'
    rc, out, _ = _check(tmp_path, text, datetime(2026, 3, 1, tzinfo=UTC))
    assert rc == 0 and f"start = open+5m -> {day} {utc}:00 UTC" in out


def test_a_time_outside_the_session_is_refused_unless_outside_rth(tmp_path: Path) -> None:
    late = plan_toml("L") + ('start = "2026-11-27 12:00 America/New_York"\n'
                             'expire = "2026-11-27 14:00 America/New_York"\n')
    rc, out, err = _check(tmp_path, late, THANKSGIVING_EVE)
    assert (rc, out) == (2, "")
    assert err.splitlines() == [
        "p.toml: plan L: expire: expire = 2026-11-27 19:00:00 UTC: 2026-11-27 19:00 UTC is after the 2026-11-27 "
        "close at 18:00 UTC (an early close), outside the regular session; set outside_rth = true to allow it"]
    rc, out, err = _check(tmp_path, late + "outside_rth = true\n", THANKSGIVING_EVE)
    assert rc == 0 and "expire = 2026-11-27 19:00:00 UTC" in out


@pytest.mark.parametrize(("extra", "line"), [
    ('start = "open+5"\n', "p.toml: plan B: start: is not a session anchor ('open+5'): write open, close, open+5m, "
                           "close-15m or open+1h30m (units h, m, s, in that order)"),
    ('start = "2026-11-27 09:35 EST"\n', "p.toml: plan B: start: time zone 'EST' is not an IANA zone name: write "
                                         "the place, e.g. America/New_York, Europe/London, Asia/Tokyo (abbreviations "
                                         "like EST are refused: they ignore daylight saving)"),
    ('on_closed_day = "later"\n', "p.toml: plan B: on_closed_day: must be skip or next (got 'later')"),
    ('tif = "IOC"\n', "p.toml: plan B: tif: must be one of GTC, DAY, GTD (got 'IOC')"),
    ('tif = "GTD"\n', "p.toml: plan B: tif: GTD needs expire (IB's good-till-date is the plan's expiry)"),
    ('outside_rth = "yes"\n', "p.toml: plan B: outside_rth: must be true or false (got string)"),
    ('start = "open"\nstart_at = "2026-11-27T10:00:00-05:00"\n', "p.toml: plan B: start: give start or start_at, "
                                                                  "not both"),
])
def test_bad_session_fields_are_one_line_problems(tmp_path: Path, extra: str, line: str) -> None:
    rc, out, err = _check(tmp_path, plan_toml("B") + extra, THANKSGIVING_EVE)
    assert (rc, out, err.splitlines()) == (2, "", [line])


def test_session_fields_are_stored_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(plan_toml("K") + 'start = "open+5m"\nflatten_at = "close-10m"\nsession_day = "next"\n'
                                     'outside_rth = true\ntif = "DAY"\n')
    [spec] = scan([path]).specs
    assert (spec.start, spec.flatten_at, spec.session_day, spec.outside_rth, spec.tif) == \
        ("open+5m", "close-10m", "next", True, "DAY")
    assert spec_hash(spec) != spec_hash(scan([_plain(tmp_path)]).specs[0])
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        store.insert_plan(spec, at=THANKSGIVING_EVE, spec_hash=spec_hash(spec))
        assert store.load_spec("K") == spec
    finally:
        store.close()


def _plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.toml"
    path.write_text(plan_toml("K"))
    return path


def test_status_json_shows_the_resolved_times_and_the_fields_as_written(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(plan_toml("J") + 'start = "open+5m"\nflatten_at = "close-10m"\nsession_day = "2026-11-27"\n'
                                     'tif = "DAY"\n')
    [spec] = scan([path]).specs
    resolved = resolve_spec(spec, calendar_sessions(THANKSGIVING_EVE, spec), THANKSGIVING_EVE)
    assert isinstance(resolved, Resolution)
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        store.insert_plan(resolved.spec, at=THANKSGIVING_EVE, spec_hash=spec_hash(spec))
    finally:
        store.close()
    (tmp_path / "config.toml").write_text('[store]\nurl = "sqlite:///state.db"\n')
    rc, out, _ = call("status", "--json", "--config", str(tmp_path / "config.toml"))
    [row] = json.loads(out)
    assert rc == 0 and row["id"] == "J"
    assert (row["start_at"], row["flatten_at"]) == ("2026-11-27T14:35:00.000000+00:00",
                                                    "2026-11-27T17:50:00.000000+00:00")
    assert row["times"] == {"start": "open+5m", "flatten_at": "close-10m", "session_day": "2026-11-27"}
    assert (row["tif"], row["outside_rth"]) == ("DAY", False)


def test_a_changed_session_plan_names_only_what_its_file_changed(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    times = 'start = "open+5m"\nexpire = "close-15m"\nsession_day = "2026-11-27"\n'
    path.write_text(plan_toml("C") + times)
    [spec] = scan([path]).specs
    resolved = resolve_spec(spec, calendar_sessions(THANKSGIVING_EVE, spec), THANKSGIVING_EVE)
    assert isinstance(resolved, Resolution) and resolved.spec.start_at is not None
    path.write_text(plan_toml("C", stop=170.0) + times)
    [changed] = scan([path]).specs
    message = changed_message(resolved.spec, changed)
    assert "(stop_loss 171.00 → 170.00)" in message and "start_at" not in message
