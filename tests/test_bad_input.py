"""Bad input through the real command line: fuzzed plan and config files, bad arguments, and a
damaged, foreign or newer state.db.

The unit-level fuzzing of the readers is in test_planfile.py and test_config.py; here the same
generators go through ``orchestrator.cli.main`` (argparse, the error mapping, the exit codes) and,
in batches, through ``python -m orchestrator`` processes. Every refusal must be exit 2 (bad input)
or 1 (a state.db a human must look at), name the file (and field), carry no traceback, and leave
no state.db behind or changed. ``FUZZ_EXAMPLES`` sets the number of cases (default 500;
``FUZZ_EXAMPLES=10000`` for the long run).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.config import load_config
from orchestrator.errors import ConfigError

from .cli.helpers import call
from .test_config import config_documents
from .test_planfile import LINE as PROBLEM
from .test_planfile import plan_documents

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
LONG = pytest.mark.timeout(120 + EXAMPLES // 20)   # FUZZ_EXAMPLES=10000 runs for minutes, not seconds
BATCH = settings(max_examples=max(2, EXAMPLES // 100), deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                        HealthCheck.data_too_large])


def problem_file(line: str) -> str | None:
    """The FILE of a ``FILE: plan ID: field: message`` line (None if the line is not one)."""
    file, sep, rest = line.partition(": plan ")
    return file if sep and PROBLEM.fullmatch("plan " + rest) else None


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


async def spawn(*argv: str, cwd: Path, timeout: float = 30.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")},
             "PYTHONPATH": str(REPO), "COLUMNS": "120"})
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


# --------------------------------------------------------------------------- plan files

@LONG
@FUZZ
@given(data=plan_documents())
def test_fuzzed_plan_files_through_the_cli(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    d = tmp_path_factory.mktemp("plans")
    path = d / "fuzz.toml"
    path.write_bytes(data)
    rc, out, err = call("plans", "check", str(path))
    assert "Traceback" not in out + err
    assert listing(d) == {"fuzz.toml"}  # checking writes nothing (no state.db)
    if rc == 0:
        assert out.strip() and not err
    else:
        assert rc == 2, (rc, out, err)
        lines = err.splitlines()   # problems go to stderr, the ok line to stdout
        assert not out and lines and all(problem_file(line) == str(path) for line in lines), lines


@LONG
@BATCH
@given(docs=st.lists(plan_documents(), min_size=40, max_size=40))
def test_fuzzed_plan_files_through_a_process(tmp_path_factory: pytest.TempPathFactory, docs: list[bytes]) -> None:
    d = tmp_path_factory.mktemp("plans")
    paths = []
    for i, data in enumerate(docs):
        (d / f"p{i}.toml").write_bytes(data)
        paths.append(f"p{i}.toml")
    rc, out, err = asyncio.run(spawn("plans", "check", *paths, cwd=d))
    assert "Traceback" not in out + err and rc in (0, 2), (rc, err)
    files = [problem_file(line) for line in err.splitlines()]
    bad = {f for f in files if f is not None}
    assert bad <= set(paths) and (rc == 0 or None not in files), err
    assert (rc == 0) == out.startswith("ok: ")
    assert (rc == 2) == bool(bad)
    assert listing(d) == set(paths)


# --------------------------------------------------------------------------- config files

@LONG
@FUZZ
@given(data=config_documents())
def test_fuzzed_configs_through_status_and_run(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    d = tmp_path_factory.mktemp("cfg")
    path = d / "config.toml"
    path.write_bytes(data)
    try:
        load_config(path, {})
        valid = True
    except ConfigError:
        valid = False
    rc, out, err = call("status", "--config", str(path))
    assert "Traceback" not in out + err
    if valid:
        assert rc == 0 and "no plans yet" in out, (rc, out, err)
    else:
        assert rc == 2, (rc, out, err)
        lines = err.splitlines()
        assert lines and all(line.startswith(f"orchestrator: {path}: ") for line in lines), lines
        rc, out, err = call("run", "--config", str(path))   # refused before anything is opened
        assert rc == 2 and "Traceback" not in out + err and err.startswith(f"orchestrator: {path}: ")
    assert listing(d) == {"config.toml"}  # no state.db, journal or log was created


BAD_CONFIGS = {
    "wrong type": ("[broker]\nport = \"4002\"\n", "broker.port"),
    "out of range": ("[broker]\nport = 70000\n", "broker.port"),
    "tws client id": ("[broker]\nclient_id = 0\n", "broker.client_id"),
    "negative risk": ("[risk]\nnormal_pct = -2\n", "risk.normal_pct"),
    "huge number": ("[risk]\nnormal_pct = 1" + "0" * 400 + "\n", "risk.normal_pct"),
    "nan": ("[trailing]\ninterval_seconds = nan\n", "trailing.interval_seconds"),
    "inf": ("[sim]\ntick_seconds = inf\n", "sim.tick_seconds"),
    "unknown key": ("[broker]\nmode = \"paper\"\nmood = \"happy\"\n", "broker.mood"),
    "unknown section": ("[brokers]\nmode = \"paper\"\n", "brokers"),
    "bad mode": ("[broker]\nmode = \"real\"\n", "broker.mode"),
    "not sqlite": ("[store]\nurl = \"postgres://x/y\"\n", "store.url"),
    "not toml": ("[broker\nmode = paper\n", "line 1"),
    "utf-16": ("[broker]\nmode = \"paper\"\n".encode("utf-16"), "UTF-8"),
    "latin-1": ("[broker]\nhost = \"caf\xe9\"\n".encode("latin-1"), "UTF-8"),
    "section is a value": ("broker = 1\n", "broker"),
}


async def test_bad_configs_refused_by_every_command(tmp_path: Path) -> None:
    """``run`` as a process, ``status``, ``history``, ``cancel`` and ``outbox`` through the CLI:
    exit 2, one line per problem naming the file and the field, no traceback, and no state.db
    (``run`` must not create one)."""
    dirs = {}
    for name, (text, _field) in BAD_CONFIGS.items():
        d = tmp_path / name.replace(" ", "-")
        d.mkdir()
        (d / "config.toml").write_bytes(text.encode() if isinstance(text, str) else text)
        dirs[name] = d
    sem = asyncio.Semaphore(3)

    async def run(d: Path) -> tuple[int, str, str]:
        async with sem:
            return await spawn("run", "--config", "config.toml", cwd=d)
    results = dict(zip(dirs, await asyncio.gather(*(run(d) for d in dirs.values()))))
    for name, d in dirs.items():
        field = BAD_CONFIGS[name][1]
        outcomes = {"run": results[name]}
        for argv in (["status"], ["history", "P"], ["cancel", "P"], ["outbox"]):
            outcomes[argv[0]] = call(*argv, "--config", str(d / "config.toml"))
        for command, (rc, out, err) in outcomes.items():
            where = f"{name} / {command}"
            label = "config.toml" if command == "run" else str(d / "config.toml")
            assert rc == 2, (where, rc, err)
            assert "Traceback" not in out + err, where
            lines = err.splitlines()
            assert lines and all(line.startswith(f"orchestrator: {label}: ") for line in lines), (where, lines)
            assert field in err, (where, err)
        assert listing(d) == {"config.toml"}, (name, listing(d))


async def test_a_store_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[store]\nurl = "sqlite:////proc/no-such-dir/state.db"\n'
                                          '[broker]\nmode = "paper"\nport = 1\n')
    rc, out, err = await spawn("run", "--config", "config.toml", cwd=tmp_path)
    assert rc == 1 and "Traceback" not in out + err
    assert err.strip() == "orchestrator: /proc/no-such-dir/state.db: cannot create the state database: " \
                          "No such file or directory"


# --------------------------------------------------------------------------- arguments

BAD_ARGS = [
    [], ["frobnicate"], ["run", "--bogus"], ["run", "extra"], ["status", "--json", "extra"], ["history"],
    ["history", "A", "B"], ["plans"], ["plans", "check"], ["plans", "frob", "x"], ["cancel"], ["--config"],
    ["status", "--config"], ["diagram", "--internal", "x"], ["outbox", "--all", "--bogus"], ["demo", "now"],
    ["--bogus", "status"], ["status", "--exit-when-idle"],
]


@pytest.mark.parametrize("argv", BAD_ARGS, ids=lambda a: " ".join(a) or "(none)")
def test_bad_arguments_exit_2_with_one_usage_line(argv: list[str]) -> None:
    rc, out, err = call(*argv)
    assert rc == 2 and not out
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("usage: orchestrator") and ": error: " in lines[1], lines


async def test_bad_arguments_through_a_process(tmp_path: Path) -> None:
    results = await asyncio.gather(*(spawn(*argv, cwd=tmp_path) for argv in BAD_ARGS[:6]))
    for argv, (rc, out, err) in zip(BAD_ARGS, results):
        lines = err.splitlines()
        assert rc == 2 and not out and "Traceback" not in err, (argv, rc, err)
        assert len(lines) == 2 and lines[0].startswith("usage: orchestrator"), (argv, lines)
    assert listing(tmp_path) == set()


# --------------------------------------------------------------------------- state.db

def _filled_db(directory: Path) -> Path:
    from decimal import Decimal as D

    import machines
    from machines import PlanMachine
    from orchestrator.engine.step import apply_event
    from orchestrator.store import Store

    from .orchestrator.factories import at, lifecycle_events, spec
    store = Store(f"sqlite:///{directory / 'state.db'}")
    m = PlanMachine()
    for i in range(25):   # several pages, so damage in the middle hits real rows
        plan = m.bind(store.insert_plan(spec(f"AAPL-{i}", trail=("1", "2.00")), at=at(0)))
        for e in lifecycle_events():
            apply_event(m, store, plan, e, now=e.at)
    waiting = m.bind(store.insert_plan(spec("P", symbol="MSFT", entry="420.00", stop="400.00", target="460.00"),
                                       at=at(1)))
    activate = machines.Activate(at(2), D(100000), D(200000), D(0), market_price=D("420.00"))
    apply_event(m, store, waiting, activate, now=at(2))
    store.close()
    return directory / "state.db"


def _garbage_page(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(bytes((i * 7919 + 13) % 256 for i in range(4096)))


def _newer(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    conn.close()


def _foreign(path: Path) -> None:
    path.unlink()
    conn = sqlite3.connect(path)   # a SQLite file of something else, in rollback-journal mode
    conn.execute("CREATE TABLE notes(x)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()


DAMAGE = {
    "truncated to half": lambda p: os.truncate(p, p.stat().st_size // 2),
    "truncated to one page": lambda p: os.truncate(p, 4096),
    "truncated to 100 bytes": lambda p: os.truncate(p, 100),
    "header overwritten": lambda p: p.write_bytes(b"x" * 16 + p.read_bytes()[16:]),
    "a page of garbage": _garbage_page,
    "a text file": lambda p: p.write_text("these are not the plans you are looking for\n"),
    "a newer schema": _newer,
    "a foreign database": _foreign,
}
EXPECT = {"a newer schema": "is newer than this orchestrator", "a foreign database": "not an orchestrator state"}


@pytest.mark.parametrize("damage", list(DAMAGE))
async def test_damaged_state_db_is_refused_and_left_untouched(tmp_path: Path, damage: str) -> None:
    """run and status as processes, and status --json, history, outbox and cancel through the CLI,
    refuse it with one clear line (exit 1), no traceback, and the file is byte for byte what it
    was: never recreated, never overwritten."""
    db = _filled_db(tmp_path)
    DAMAGE[damage](db)
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    # port 1: if run accepted the file it would wait for IB and time out (a failure here)
    (tmp_path / "config.toml").write_text('[store]\nurl = "sqlite:///state.db"\n[broker]\nmode = "paper"\nport = 1\n')
    processes = [["run"], ["status"]]
    results = await asyncio.gather(*(spawn(*argv, "--config", "config.toml", cwd=tmp_path, timeout=20)
                                     for argv in processes))
    outcomes = {" ".join(argv): r for argv, r in zip(processes, results)}
    for argv in (["status", "--json"], ["history", "P"], ["outbox", "--all"], ["cancel", "P"]):
        outcomes[" ".join(argv)] = call(*argv, "--config", str(tmp_path / "config.toml"))
    for command, (rc, out, err) in outcomes.items():
        where = f"{damage}: {command}"
        assert rc == 1, (where, rc, out, err)
        assert "Traceback" not in out + err, (where, err)
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"orchestrator: {db}: "), (where, lines)
        assert EXPECT.get(damage, "") in lines[0], (where, lines)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (tmp_path / "state.db-journal").exists()
