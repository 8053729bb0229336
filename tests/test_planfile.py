"""Plan files: good plans load as PlanSpecs, every kind of bad input is one clean problem line."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from machines import EntryType, PlanSpec, RiskCategory, Side, position_size
from orchestrator.cli import plans_check as plans_check_command
from orchestrator.engine.intake import spec_hash
from orchestrator.planfile import (
    PLAN_ID_PATTERN,
    PlanFileError,
    Problem,
    check_files,
    load_plan_files,
    load_plans,
    scan,
)

from .damage import damaged

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "500")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The example of design.md §6, verbatim.
DESIGN_EXAMPLE = """\
[[plans]]
id = "AAPL-20261127-1"
symbol = "AAPL"
side = "long"                 # long | short
entry = "market"              # market | limit | stop
entry_price = 180.50          # sizing reference; the limit/stop price for those types
stop_loss = 178.00
take_profit = 185.00
risk = "normal"               # small | normal | large
start_at = "2026-11-27T09:35:00-05:00"   # optional; default: at once
expire_at = "2026-11-27T11:00:00-05:00"  # optional; unfilled entry is cancelled then
[plans.trail]                 # optional
trigger_r = 1.0               # start trailing once price has moved 1R in favour
distance = 1.50               # trail distance in price units
"""

SHORT = """\
[[plans]]
id = "MSFT-1"
symbol = "MSFT"
side = "short"
entry = "limit"
entry_price = 422
stop_loss = 431.00
take_profit = 404.00
risk = "small"
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)


# the examples' plans trade on 2026-11-27; they are checked as of that morning
CHECKED_AT = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def lines_for(paths: list[str]) -> tuple[int, list[str]]:
    """Exit code and lines of ``plans check``: the problems (stderr), then the ok line (stdout)."""
    out, err = io.StringIO(), io.StringIO()
    code = plans_check_command(paths, out, CHECKED_AT, err=err)
    assert not (err.getvalue() and out.getvalue())   # problems or an ok line, never both
    return code, err.getvalue().splitlines() + out.getvalue().splitlines()


def one_problem(tmp_path: Path, text: str | bytes) -> Problem:
    problems = check_files([write(tmp_path, "p.toml", text)])
    assert len(problems) == 1, [p.format() for p in problems]
    return problems[0]


# --------------------------------------------------------------------------- good plans

def test_design_example_is_valid_and_converted(tmp_path: Path) -> None:
    specs, problems = load_plan_files([write(tmp_path, "design.toml", DESIGN_EXAMPLE)])
    assert problems == []
    assert specs == [PlanSpec(
        id="AAPL-20261127-1", symbol="AAPL", side=Side.LONG, entry_type=EntryType.MARKET,
        entry_price=Decimal("180.50"), stop_loss=Decimal("178.00"), take_profit=Decimal("185.00"),
        risk=RiskCategory.NORMAL,
        start_at=datetime(2026, 11, 27, 14, 35, tzinfo=UTC),
        expire_at=datetime(2026, 11, 27, 16, 0, tzinfo=UTC),
        trail_trigger_r=Decimal("1.0"), trail_distance=Decimal("1.50"))]
    assert specs[0].start_at is not None and specs[0].start_at.tzinfo is UTC
    assert str(specs[0].entry_price) == "180.50"  # floats are read exactly


def test_several_plans_and_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", DESIGN_EXAMPLE + "\n" + DESIGN_EXAMPLE.replace("AAPL-20261127-1", "AAPL-2"))
    b = write(tmp_path, "b.toml", SHORT)
    specs, problems = load_plan_files([a, b])
    assert problems == []
    assert [s.id for s in specs] == ["AAPL-20261127-1", "AAPL-2", "MSFT-1"]
    assert specs[2].side is Side.SHORT and specs[2].entry_price == Decimal(422) and not specs[2].trails
    assert lines_for([a, b]) == (0, ["ok: 3 plans in 2 files"])


def test_toml_offset_datetimes_and_zulu_strings(tmp_path: Path) -> None:
    text = SHORT + "start_at = 2026-11-27T09:35:00-05:00\nexpire_at = \"2026-11-27T17:00:00.5Z\"\n"
    [spec], problems = load_plan_files([write(tmp_path, "t.toml", text)])
    assert problems == []
    assert spec.start_at == datetime(2026, 11, 27, 14, 35, tzinfo=UTC)
    assert spec.expire_at == datetime(2026, 11, 27, 17, 0, 0, 500000, tzinfo=UTC)
    assert spec.expire_at.utcoffset() == timedelta(0)


def test_a_plan_without_the_contract_keys_keeps_its_spec_hash() -> None:
    """The stored ``spec_hash`` of a running plan is compared with its file's at every scan: the
    contract keys must not change it for a file that does not use them, or a restart after the
    upgrade would report every running plan as "changed on disk". Pinned to the hashes of main
    before the keys existed (c984103)."""
    paths = sorted(str(p) for p in (REPO / "plans").glob("*.toml"))
    specs, problems = load_plan_files(paths)
    assert problems == []
    assert {s.id: spec_hash(s) for s in specs} == {
        "AAPL-long-1": "1dea18fa5562466a", "MSFT-short-1": "a5de70d317b4e2d4", "NVDA-long-1": "6fbfd5bbf3c99d7e"}
    assert all(type(s) is PlanSpec for s in specs)


def test_the_contract_keys_at_their_defaults_change_nothing(tmp_path: Path) -> None:
    plain = write(tmp_path, "plain.toml", SHORT)
    explicit = write(tmp_path, "explicit.toml", SHORT + 'sec_type = "STK"\nexchange = "SMART"\ncurrency = "USD"\n')
    [a], [b] = load_plan_files([plain])[0], load_plan_files([explicit])[0]
    assert type(b) is PlanSpec and a == b and spec_hash(a) == spec_hash(b)


def test_repo_plans_are_valid_and_affordable() -> None:
    paths = sorted(str(p) for p in (REPO / "plans").glob("*.toml"))
    assert 2 <= len(paths) <= 3
    specs, problems = load_plan_files(paths)
    assert problems == []
    assert {s.symbol for s in specs} <= {"AAPL", "MSFT", "NVDA", "TSLA", "SPY"}
    assert {s.entry_type for s in specs} == set(EntryType)
    for spec in specs:  # a $100,000 account at 2 % risk can pay for the position
        qty = position_size(Decimal(100000), Decimal(2), spec.entry_price, spec.stop_loss)
        assert qty > 0 and qty * spec.entry_price <= 100000, spec.id


def test_bad_example_plan_exits_2_naming_file_plan_and_field() -> None:
    path = str(REPO / "examples" / "bad-plan.toml")
    code, lines = lines_for([path])
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: plan TSLA-long-bad: stop_loss: ")
    assert "must be below its entry" in lines[0]


# --------------------------------------------------------------------------- bad plans

def test_long_plan_with_stop_above_entry(tmp_path: Path) -> None:
    path = write(tmp_path, "long.toml", DESIGN_EXAMPLE.replace("stop_loss = 178.00", "stop_loss = 181.00"))
    code, lines = lines_for([path])
    assert code == 2
    assert lines == [f"{path}: plan AAPL-20261127-1: stop_loss: a long plan's stop 181.00 must be below its "
                     "entry 180.50"]


def replace_line(text: str, key: str, line: str | None) -> str:
    """Replace (or with None delete) the ``key = ...`` line of the first plan."""
    out, done = [], False
    for row in text.splitlines():
        if not done and re.match(rf"{re.escape(key)}\s*=", row):
            done = True
            if line is not None:
                out.append(line)
            continue
        out.append(row)
    assert done, key
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(("key", "line", "field", "fragment"), [
    ("id", None, "id", "is required"),
    ("symbol", None, "symbol", "is required"),
    ("take_profit", None, "take_profit", "is required"),
    ("id", 'id = "AAPL:1"', "id", "letters, digits"),
    ("id", 'id = ""', "id", "letters, digits"),
    ("id", f'id = "{"x" * 65}"', "id", "1-64 characters"),
    ("id", "id = 7", "id", "must be a string (got integer)"),
    ("symbol", 'symbol = "aapl"', "symbol", "A-Z"),
    ("symbol", 'symbol = "TOOLONGSYMBOL1"', "symbol", "1-12"),
    ("side", 'side = "buy"', "side", "must be one of long, short"),
    ("side", "side = true", "side", "got boolean"),
    ("entry", 'entry = "MKT"', "entry", "must be one of market, limit, stop"),
    ("risk", 'risk = "yolo"', "risk", "must be one of small, normal, large"),
    ("entry_price", 'entry_price = "180.50"', "entry_price", "not a string"),
    ("entry_price", "entry_price = true", "entry_price", "not true"),
    ("entry_price", "entry_price = nan", "entry_price", "got nan"),
    ("entry_price", "entry_price = inf", "entry_price", "finite"),
    ("entry_price", "entry_price = 1e400", "entry_price", "out of range"),
    ("entry_price", f"entry_price = {10 ** 400}", "entry_price", "out of range"),
    ("entry_price", "entry_price = [180]", "entry_price", "got array"),
    ("entry_price", "entry_price = 180.505", "entry_price", "tick"),
    ("entry_price", "entry_price = -180.5", "entry_price", "positive"),
    ("take_profit", "take_profit = 179.00", "take_profit", "must be above its entry"),
    ("start_at", "start_at = 2026-11-27T09:35:00", "start_at", "no UTC offset"),
    ("start_at", 'start_at = "2026-11-27T09:35:00"', "start_at", "no UTC offset"),
    ("start_at", "start_at = 2026-11-27", "start_at", "date without a time"),
    ("start_at", 'start_at = "tomorrow"', "start_at", "e.g. 2026-11-27T09:35:00-05:00"),
    ("start_at", 'start_at = "2026-02-30T09:35:00Z"', "start_at", "not a valid date"),
    ("start_at", 'start_at = "2026-11-27T09:35:00+24:00"', "start_at", "invalid UTC offset"),
    ("expire_at", 'expire_at = "2026-11-27T09:00:00-05:00"', "expire_at", "must be after start_at"),
    ("expire_at", "expire_at = 9999-12-31T23:59:59-05:00", "expire_at", "out of range"),
    ("trigger_r", "trigger_r = -1", "trail.trigger_r", "zero or positive"),
    ("distance", "distance = 0", "trail.distance", "positive"),
    ("distance", None, "trail.distance", "is required"),
    ("distance", "distance = 1.5\nspeed = 2", "trail.speed", "unknown key"),
    ("risk", 'risk = "normal"\nstop_los = 1', "stop_los", "did you mean 'stop_loss'"),
])
def test_each_bad_field_is_one_problem(tmp_path: Path, key: str, line: str | None, field: str, fragment: str) -> None:
    problem = one_problem(tmp_path, replace_line(DESIGN_EXAMPLE, key, line))
    plan = "#1" if field == "id" else "AAPL-20261127-1"
    assert (problem.plan_id, problem.field) == (plan, field), problem.format()
    assert fragment in problem.message
    assert problem.format() == f"{problem.file}: plan {plan}: {field}: {problem.message}"


def test_a_plan_with_several_problems_reports_each(tmp_path: Path) -> None:
    text = replace_line(replace_line(DESIGN_EXAMPLE, "symbol", 'symbol = 1'), "risk", None)
    problems = check_files([write(tmp_path, "p.toml", text)])
    assert [(p.plan_id, p.field) for p in problems] == [("AAPL-20261127-1", "symbol"), ("AAPL-20261127-1", "risk")]


def test_trail_must_be_a_table(tmp_path: Path) -> None:
    text = SHORT + "trail = 5\n"
    problem = one_problem(tmp_path, text)
    assert (problem.field, problem.message) == ("trail", "must be a table (got integer)")


def test_plan_that_is_not_a_table(tmp_path: Path) -> None:
    problems = check_files([write(tmp_path, "p.toml", 'plans = [1, "x"]\n')])
    assert [p.format().split(": ", 1)[1] for p in problems] == [
        "plan #1: -: must be a table under [[plans]] (got integer)",
        "plan #2: -: must be a table under [[plans]] (got string)"]


# --------------------------------------------------------------------------- file-level problems

@pytest.mark.parametrize(("content", "field", "fragment"), [
    (b"\xff\xfe[\x00[\x00", "-", "not UTF-8"),
    (DESIGN_EXAMPLE.encode("utf-16"), "-", "not UTF-8"),
    (b"\x00\x01\x02binary\xc3\x28", "-", "not UTF-8"),
    ("[[plans]]\nid = \nsymbol = 'X'\n", "-", "TOML syntax error at line 2, column 6"),
    ("[[plans]\n", "-", "TOML syntax error at line 1"),
    ("a = " + "[" * 5000 + "]" * 5000, "-", "nesting is too deep"),
    ("[[plans]]\nentry_price = 1" + "0" * 5000 + "\n", "-", "too many digits"),
    ("", "plans", "missing"),
    ("# only a comment\n", "plans", "missing"),
    ("plans = []\n", "plans", "is empty"),
    ("plans = 3\n", "plans", "must be an array"),
    ('[plans]\nid = "x"\n', "plans", "write [[plans]], not [plans]"),
])
def test_file_level_problems(tmp_path: Path, content: str | bytes, field: str, fragment: str) -> None:
    problem = one_problem(tmp_path, content)
    assert (problem.plan_id, problem.field) == ("-", field)
    assert fragment in problem.message
    assert "\n" not in problem.format()


def test_the_nesting_limit_is_decided_on_the_text_whatever_the_stack_depth(tmp_path: Path) -> None:
    """A file is judged the same from any call depth: the parser's own recursion limit is not."""
    import sys
    deep = write(tmp_path, "deep.toml", SHORT + "[plans.x]\na = " + "[" * 65 + "]" * 65 + "\n")
    fine = write(tmp_path, "fine.toml", SHORT.replace("MSFT-1", "MSFT-2").replace('symbol = "MSFT"',
                                                                                 'symbol = "MSFT" # [[[[[[[[')
                 + "\n")

    def at_depth(n: int, path: str) -> list[Problem]:
        return at_depth(n - 1, path) if n else check_files([path])

    for depth in (0, sys.getrecursionlimit() - 200):
        [problem] = at_depth(depth, deep)
        assert "TOML nesting is too deep (more than 64" in problem.message
        assert at_depth(depth, fine) == []


def test_bom_is_accepted(tmp_path: Path) -> None:
    specs, problems = load_plan_files([write(tmp_path, "bom.toml", "\ufeff" + SHORT)])
    assert problems == [] and len(specs) == 1


def test_unknown_top_level_key(tmp_path: Path) -> None:
    problems = check_files([write(tmp_path, "p.toml", 'title = "x"\n' + SHORT)])
    assert [(p.plan_id, p.field) for p in problems] == [("-", "title")]


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.toml")
    code, lines = lines_for([missing, str(tmp_path)])
    assert code == 2
    assert lines == [f"{missing}: plan -: -: file not found", f"{tmp_path}: plan -: -: is a directory, not a file"]


def test_huge_file_is_refused(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, "# " + "x" * (1024 * 1024) + "\n")
    assert "too large" in problem.message


# --------------------------------------------------------------------------- duplicates

def test_duplicate_ids_within_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.toml", SHORT + "\n" + SHORT)
    specs, problems = load_plan_files([path])
    assert specs == []  # neither copy is loaded: we cannot know which one the trader meant
    assert [p.format() for p in problems] == [
        f"{path}: plan MSFT-1: id: duplicate plan id, also used by plan #2 of this file",
        f"{path}: plan MSFT-1: id: duplicate plan id, also used by plan #1 of this file"]


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    a, b = write(tmp_path, "a.toml", SHORT), write(tmp_path, "b.toml", SHORT + DESIGN_EXAMPLE)
    specs, problems = load_plan_files([a, b])
    assert specs == []  # neither file is loaded: a file with any problem gives no plan
    assert [(p.file, p.plan_id, p.field) for p in problems] == [(a, "MSFT-1", "id"), (b, "MSFT-1", "id")]
    assert f"also used by {b} (plan #1)" in problems[0].message


def test_same_file_twice_is_checked_once(tmp_path: Path) -> None:
    path = write(tmp_path, "a.toml", SHORT)
    assert lines_for([path, path, str(tmp_path / "." / "a.toml")]) == (0, ["ok: 1 plan in 1 file"])


# --------------------------------------------------------------------------- API and command

def test_load_plans_raises_plan_file_error(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", SHORT.replace("431.00", "400.00"))
    with pytest.raises(PlanFileError) as info:
        load_plans([path])
    assert info.value.exit_code == 2
    assert [p.field for p in info.value.problems] == ["stop_loss"]
    assert str(info.value) == info.value.problems[0].format()
    assert load_plans([write(tmp_path, "ok.toml", SHORT)])[0].id == "MSFT-1"


def test_check_command_without_files() -> None:
    code, lines = lines_for([])
    assert code == 2 and lines == ["plans check: no plan files given"]


def test_problem_format_is_one_line() -> None:
    problem = Problem("f\n.toml", "#1", "we\rird", "line one\nline two" + "x" * 1000)
    text = problem.format()
    assert "\n" not in text and "\r" not in text and len(text) < 400
    assert text.startswith("f\\n.toml: plan #1: we\\rird: line one\\nline two")


# --------------------------------------------------------------------------- fuzz

LINE = re.compile(rf"plan (?:-|#\d+|{PLAN_ID_PATTERN}): .+: .+", re.S)


def assert_well_formed(label: str, problems: list[Problem]) -> None:
    for problem in problems:
        assert isinstance(problem, Problem)
        text = problem.format()
        assert text.splitlines() == [text], text
        assert text.startswith(label + ": "), text
        assert LINE.fullmatch(text[len(label) + 2:]), text


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


OFFSETS = st.sampled_from([None, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
SCALARS = st.one_of(
    st.integers().map(str),
    st.sampled_from(["1" + "0" * 400, "-1" + "0" * 400, "1e400", "-1e400", "1e-400", "nan", "-nan", "inf", "-inf",
                     "0", "-0.0", "180.5", "0.001", "true", "false", "180.505", "1" + "0" * 5000]),
    st.floats().map(repr),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=30).map(toml_string),
    st.datetimes(timezones=OFFSETS).map(lambda d: d.isoformat()),
    st.datetimes(timezones=OFFSETS).map(lambda d: toml_string(d.isoformat())),
    st.dates().map(lambda d: d.isoformat()),
    st.times().map(lambda t: t.isoformat()),
    st.sampled_from(['"long"', '"short"', '"market"', '"limit"', '"stop"', '"small"', '"large"', '"AAPL"']),
    st.sampled_from(['"STK"', '"FUT"', '"CONTFUT"', '"CME"', '"GLOBEX"', '"SMART"', '"IBIS"', '"EUR"', '"USD"',
                     '"202703"', '"202713"', '"ESH7"', '"ESM7"', "202703"]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.dictionaries(st.text(min_size=1, max_size=8).map(toml_key), SCALARS, max_size=3).map(
        lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}"),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: "{a = " * n + "1" + "}" * n),
)
PLAN_KEYS = ["id", "symbol", "side", "entry", "entry_price", "stop_loss", "take_profit", "risk", "start_at",
             "expire_at", "sec_type", "exchange", "primary_exchange", "currency", "contract_month", "local_symbol"]
BASE_PLAN = {
    "id": '"AAPL-20261127-1"', "symbol": '"AAPL"', "side": '"long"', "entry": '"market"', "entry_price": "180.50",
    "stop_loss": "178.00", "take_profit": "185.00", "risk": '"normal"', "start_at": '"2026-11-27T09:35:00-05:00"',
    "expire_at": "2026-11-27T11:00:00-05:00",
}
BASE_TRAIL = {"trigger_r": "1.0", "distance": "1.50"}


@st.composite
def plan_tables(draw: st.DrawFn, index: int) -> str:
    plan = dict(BASE_PLAN)
    plan["id"] = draw(st.sampled_from(['"AAPL-20261127-1"', f'"P-{index}"', f'"P-{index}"']))
    for key in draw(st.lists(st.sampled_from(PLAN_KEYS), max_size=3)):
        plan.pop(key, None)
    for key in draw(st.lists(st.sampled_from(PLAN_KEYS), max_size=3)):
        plan[key] = draw(VALUES)
    for key in draw(st.lists(st.text(min_size=1, max_size=10), max_size=2)):
        plan[toml_key(key)] = draw(VALUES)
    text = "[[plans]]\n" + "".join(f"{k} = {v}\n" for k, v in plan.items())
    trail = draw(st.sampled_from(["none", "ok", "mutated", "scalar"]))
    if trail == "scalar":
        text = text.replace("[[plans]]\n", f"[[plans]]\ntrail = {draw(VALUES)}\n", 1)
    elif trail != "none":
        table = dict(BASE_TRAIL)
        if trail == "mutated":
            table.pop(draw(st.sampled_from(list(BASE_TRAIL))))
            table[toml_key(draw(st.sampled_from(["trigger_r", "distance", "speed"])))] = draw(VALUES)
        text += "[plans.trail]\n" + "".join(f"{k} = {v}\n" for k, v in table.items())
    return text


@st.composite
def plan_documents(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(0, 3))
    text = "".join(draw(plan_tables(i)) for i in range(count))
    if draw(st.booleans()):
        text = f"{toml_key(draw(st.text(min_size=1, max_size=6)))} = {draw(VALUES)}\n" + text
    return damaged(draw, text, ["plain", "plain", "utf16", "latin1", "insert", "flip", "truncate"])


def check_document(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    label = str(path)
    found = scan([label], now=CHECKED_AT)
    specs, problems = found.specs, found.problems
    assert_well_formed(label, problems)
    for spec in specs:
        assert isinstance(spec, PlanSpec)
        prices = (spec.entry_price, spec.stop_loss, spec.take_profit)
        assert all(isinstance(v, Decimal) and v.is_finite() for v in prices)
        for moment in (spec.start_at, spec.expire_at):
            assert moment is None or moment.utcoffset() == timedelta(0)
    if not problems:
        assert specs
    out, err = io.StringIO(), io.StringIO()
    code = plans_check_command([label], out, CHECKED_AT, err=err)
    assert code == (2 if problems else 0)
    assert (err if problems else out).getvalue().count("\n") == max(len(problems), 1)


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    check_document(tmp_path / "fuzz.toml", data)


FOUND_BY_FUZZ = (  # scan and plans check once disagreed on a contract key away from its default
    b'[[plans]]\nid = "AAPL-20261127-1"\nsymbol = "AAPL"\nside = "long"\nentry = "market"\nentry_price = 180.50\n'
    b'stop_loss = 178.00\ntake_profit = 185.00\nrisk = "normal"\nstart_at = "2026-11-27T09:35:00-05:00"\n'
    b'expire_at = 2026-11-27T11:00:00-05:00\nexchange = "STK"\n')


@FUZZ
@given(data=plan_documents())
@example(data=FOUND_BY_FUZZ)
def test_fuzz_mutated_plan_documents_never_raise(tmp_path: Path, data: bytes) -> None:
    check_document(tmp_path / "fuzz.toml", data)


# --------------------------------------------------------------------------- against time
def test_a_window_already_over_is_refused_as_of_the_check_time(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", DESIGN_EXAMPLE)     # expire_at 2026-11-27T11:00-05:00 = 16:00 UTC
    assert plans_check_command([path], io.StringIO(), datetime(2026, 11, 27, 15, 59, tzinfo=UTC)) == 0
    out, err = io.StringIO(), io.StringIO()
    assert plans_check_command([path], out, datetime(2026, 11, 27, 16, 0, tzinfo=UTC), err=err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == [
        f"{path}: plan AAPL-20261127-1: expire_at: has already passed (2026-11-27T16:00:00+00:00 <= now "
        "2026-11-27T16:00:00+00:00): the plan would never trade; remove it or give it a later time"]


def test_a_file_with_one_plan_past_its_window_gives_no_plan_at_all(tmp_path: Path) -> None:
    late = write(tmp_path, "late.toml", SHORT + DESIGN_EXAMPLE)
    other = write(tmp_path, "other.toml", SHORT.replace("MSFT-1", "MSFT-2"))
    found = scan([late, other], now=datetime(2026, 11, 28, tzinfo=UTC))
    assert [s.id for s in found.specs] == ["MSFT-2"] and found.sources == {"MSFT-2": other}
    assert [(p.file, p.plan_id, p.field) for p in found.problems] == [(late, "AAPL-20261127-1", "expire_at")]


def test_start_after_expiry_is_refused(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, SHORT + 'start_at = "2026-11-27T12:00:00Z"\nexpire_at = "2026-11-27T11:00:00Z"\n')
    assert (problem.field, problem.message.split(" (")[0]) == ("expire_at", "must be after start_at")


def test_plans_check_at_takes_a_time_with_its_offset(tmp_path: Path) -> None:
    from .test_bad_input import call
    path = write(tmp_path, "p.toml", DESIGN_EXAMPLE)
    assert call("plans", "check", "--at", "2026-11-27T09:00:00-05:00", path)[0] == 0
    rc, _out, err = call("plans", "check", "--at", "2026-11-27T12:00:00-05:00", path)
    assert rc == 2 and "expire_at: has already passed" in err
    rc, out, err = call("plans", "check", "--at", "2026-11-27T12:00", path)
    assert rc == 2 and "has no UTC offset" in out + err and "Traceback" not in out + err
