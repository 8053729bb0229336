"""``status --json`` answered on the standard library alone gives, byte for byte, what the full
path (the config model, then the same read) gives, on a real store with plans in many states,
instruments, currencies and session fields; and it declines, so that the full path reports the
problem, whenever the config's store part is not plainly valid."""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import machines
from machines import Instrument, InstrumentPlanSpec, Leg, PlanMachine, SecType
from orchestrator.cli import main
from orchestrator.cli.reads import cmd_status
from orchestrator.config import Config, StoreConfig
from orchestrator.configpath import RETENTION_DAYS, SECTIONS, STORE_KEYS, quick_store_url
from orchestrator.engine.step import apply_event
from orchestrator.statusrecord import exact_num, num
from orchestrator.store import Store

from ..orchestrator.factories import at, spec
from ..procs import REPO
from .helpers import call

ES = Instrument(SecType.FUT, "CME", None, "USD", "202612", "ESZ6")
SAP = Instrument(SecType.STK, "SMART", "IBIS", "EUR", None, None)
REASON = "IB refused the order: <margin> & «funds» — 201"


def _instrument(plan_id: str, instrument: Instrument, entry: str, stop: str, target: str) -> InstrumentPlanSpec:
    base = asdict(spec(plan_id, symbol=plan_id.split("-")[0], entry=entry, stop=stop, target=target))
    base.update(entry_type=machines.EntryType.LIMIT)
    return InstrumentPlanSpec(**base, instrument=instrument)


def build(db: Path) -> None:
    """Plans pending, submitted, filled, protected, trailing, closed with commissions, rejected
    and cancelled; a future (multiplier 50), a stock in EUR on a USD account (FX 1.08), plan
    session fields, and odd decimals as a store can hold them (exponents, 16 digits)."""
    store = Store(f"sqlite:///{db}")
    m = PlanMachine()

    def plan(s: machines.PlanSpec, events: list[object]) -> None:
        p = m.bind(store.insert_plan(s, at=at(0), source_file=f"/plans/{s.id}.toml"))
        for e in events:
            apply_event(m, store, p, e, now=e.at)   # type: ignore[attr-defined]

    def activate(price: str, **kw: object) -> machines.Activate:
        return machines.Activate(at(1), D(100000), D(200000), D(0), market_price=D(price), **kw)  # type: ignore[arg-type]

    accepted = machines.EntryAccepted(at(2), 10, 1000)
    try:
        plan(spec("WAIT-1", symbol="SPY", entry="590.00", stop="580.00", target="610.00"), [])
        plan(replace(spec("SESS-1", symbol="QQQ"), start="open+5m", expire="close-10m", flatten_at="close-5m",
                     session_day="2026-11-27", on_closed_day="next", outside_rth=True, tif="DAY"), [])
        plan(spec("SUB-1", symbol="IBM"), [activate("180.00"), accepted])
        plan(spec("FILL-1", symbol="AMD"), [activate("180.00"), accepted,
                                            machines.EntryFilled(at(3), "e-1", 200, D("180.05"))])
        filled = [activate("180.00"), accepted, machines.EntryFilled(at(3), "e-2", 500, D("180.00")),
                  machines.ProtectionStatus(at(4), 500, 500, D("176.00"), D("188.00"))]
        plan(spec("PROT-1", symbol="INTC"), filled)
        plan(spec("TRAIL-1", symbol="NVDA", trail=("1", "2.00")), [*filled, machines.PriceUpdate(at(6), D("186.00"))])
        plan(spec("TP-1"), [*filled, machines.CommissionCharged(at(4.5), "e-2", D("2.5031")),
                            machines.ExitFilled(at(5), "x-1", Leg.TARGET, 500, D("188.00")),
                            machines.CommissionCharged(at(5.5), "x-1", D("2.50"))])
        plan(spec("REJ-1", symbol="MSFT"), [activate("180.00"), machines.EntryRejected(at(2), 201, REASON)])
        plan(spec("CXL-1", symbol="TSLA"), [machines.CancelRequested(at(2), reason="trader: «no» <b>")])
        plan(_instrument("ES-1", ES, "5000", "4990", "5020"),
             [activate("5000", multiplier=D(50), base_currency="USD")])
        plan(_instrument("SAP-1", SAP, "120.00", "118.00", "125.00"),
             [activate("120.00", fx_rate=D("1.08"), base_currency="USD"), accepted,
              machines.EntryFilled(at(3), "e-3", 100, D("120.00"))])
    finally:
        store.close()
    conn = sqlite3.connect(db)
    try:   # forms a Decimal's str() takes, which the quick number path hands to the exact one
        conn.execute("UPDATE plans SET fx_rate='1E-7', actual_risk='1234567890123456', sized_price='-0.00' "
                     "WHERE id='WAIT-1'")
        conn.execute("UPDATE plans SET fx_rate='0.925925925925925925925925926', multiplier='5E+1' WHERE id='ES-1'")
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("quick")
    build(d / "state.db")
    path = d / "config.toml"
    path.write_text('[store]\nurl = "sqlite:///state.db"\nprice_retention_days = 7\n[broker]\nmode = "paper"\n')
    return path


def full(config: Path) -> tuple[int, str]:
    """The full path: the config model, then the read (what every other command goes through)."""
    out = io.StringIO()
    args = argparse.Namespace(command="status", json=True, wide=False, config=str(config))
    return cmd_status(args, out), out.getvalue()


QUICK = """
import sys
from orchestrator.cli import main
code = main(["status", "--json", "--config", sys.argv[1]])
heavy = sorted(m for m in ("pydantic", "machines", "transitions", "orchestrator.config", "rich", "sqlalchemy")
               if m in sys.modules)
sys.stderr.write(f"heavy={heavy}\\n")
raise SystemExit(code)
"""


def quick(config: Path, cwd: Path | None = None) -> tuple[int, str, str]:
    """``status --json`` in a fresh process: exit code, stdout, and the heavy modules it loaded."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", QUICK, str(config)], capture_output=True, text=True, env=env,
                          cwd=cwd or REPO, timeout=60)
    heavy = next(line for line in proc.stderr.splitlines() if line.startswith("heavy="))
    return proc.returncode, proc.stdout, heavy


def test_the_quick_path_prints_exactly_what_the_full_path_prints(cfg: Path) -> None:
    rc, text, heavy = quick(cfg)
    assert heavy == "heavy=[]"   # neither pydantic, the machines, the config model, Rich nor SQLAlchemy
    assert (rc, text) == full(cfg)
    records = {r["id"]: r for r in json.loads(text)}
    assert {r["state"] for r in records.values()} >= {"pending", "submitted", "filled", "protected", "trailing",
                                                        "closed", "rejected", "cancelled"}
    assert {k: records["ES-1"][k] for k in ("sec_type", "exchange", "currency", "local_symbol", "multiplier",
                                           "base_currency")} == {
        "sec_type": "FUT", "exchange": "CME", "currency": "USD", "local_symbol": "ESZ6", "multiplier": 50.0,
        "base_currency": "USD"}
    assert records["ES-1"]["fx_rate"] == 0.925925925925925925925925926
    assert (records["SAP-1"]["currency"], records["SAP-1"]["fx_rate"]) == ("EUR", 1.08)
    assert records["SAP-1"]["risk_base"] == records["SAP-1"]["risk_amount"]
    assert (records["WAIT-1"]["fx_rate"], records["WAIT-1"]["actual_risk"]) == (1e-7, 1234567890123456.0)
    assert records["REJ-1"]["reason"].endswith(REASON) and "«no»" in text   # not escaped: ensure_ascii is off
    assert records["SESS-1"]["times"] == {"start": "open+5m", "expire": "close-10m", "flatten_at": "close-5m",
                                          "session_day": "2026-11-27", "on_closed_day": "next"}
    assert (records["SESS-1"]["tif"], records["SESS-1"]["outside_rth"]) == ("DAY", True)
    assert records["TP-1"]["commissions"] == 5.0031 and records["TP-1"]["net_pnl"] == 4000 - 5.0031


def test_in_process_and_through_the_cli_module_the_same(cfg: Path) -> None:
    out = io.StringIO()
    assert main(["status", "--json", "--config", str(cfg)], out=out) == 0
    assert out.getvalue() == full(cfg)[1]


def test_no_store_yet_is_an_empty_array_both_ways(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[store]\nurl = "sqlite:///nothing-here.db"\n')
    assert quick(tmp_path / "config.toml")[:2] == (0, "[]\n") == full(tmp_path / "config.toml")
    assert not (tmp_path / "nothing-here.db").exists()


def test_no_config_file_reads_state_db_of_the_current_folder(cfg: Path, tmp_path: Path) -> None:
    """Without ``--config`` and without ``./config.toml``: the defaults, ``./state.db``."""
    (tmp_path / "state.db").write_bytes((cfg.parent / "state.db").read_bytes())
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "status", "--json"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert (proc.returncode, proc.stdout) == full(cfg)


BAD_STORE_PART = {
    "unknown section": ('[stroe]\nurl = "sqlite:///other.db"\n', "stroe"),
    "unknown store key": ('[store]\nulr = "sqlite:///other.db"\n', "store.ulr"),
    "not sqlite": ('[store]\nurl = "postgres://x/y"\n', "store.url"),
    "url not a string": ("[store]\nurl = 7\n", "store.url"),
    "store not a table": ("store = 1\n", "store"),
    "retention out of range": ("[store]\nprice_retention_days = 0\n", "store.price_retention_days"),
    "retention a boolean": ("[store]\nprice_retention_days = true\n", "store.price_retention_days"),
    "not toml": ("[store\n", "line 1"),
    "base_dir from the file": ('base_dir = "/"\n', "base_dir"),
}


@pytest.mark.parametrize("case", list(BAD_STORE_PART))
def test_a_doubtful_store_part_goes_the_full_way_and_is_reported(tmp_path: Path, case: str) -> None:
    text, field = BAD_STORE_PART[case]
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert quick_store_url(str(path), {}) is None   # the quick path declines …
    rc, out, err = call("status", "--json", "--config", str(path))   # … and the full one reports it
    assert (rc, out) == (2, ""), (case, rc, out)
    assert field in err and err.startswith(f"orchestrator: {path}: "), err


def test_a_mistake_outside_the_store_part_does_not_stop_the_read(cfg: Path, tmp_path: Path) -> None:
    """The choice written in the README: ``status --json`` reads only where the store is; the
    commands that use the rest of the file report its mistakes."""
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{cfg.parent / "state.db"}"\n[risk]\nnormal_pct = -2\n')
    rc, text, heavy = quick(path)
    assert (rc, heavy) == (0, "heavy=[]") and text == full(cfg)[1]


def test_a_missing_named_config_is_reported_by_the_full_path() -> None:
    rc, out, heavy = quick(Path("/no/such/config.toml"))
    assert rc == 2 and out == "" and "pydantic" in heavy   # the config model was loaded to say so


def test_the_quick_reader_knows_the_models_sections_and_store_keys() -> None:
    assert set(SECTIONS) == set(Config.model_fields) - {"base_dir", "source"}
    assert set(STORE_KEYS) == set(StoreConfig.model_fields)
    bounds = {type(m).__name__: m for m in StoreConfig.model_fields["price_retention_days"].metadata}
    assert (bounds["Ge"].ge, bounds["Le"].le) == RETENTION_DAYS


DECIMALS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(0, 8).flatmap(lambda n: st.decimals(allow_nan=False, allow_infinity=False, places=n)).map(str),
    st.integers(-10**20, 10**20).map(str),
    st.from_regex(r"-?[0-9]{1,18}(\.[0-9]{0,12})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
)


def _outcome(convert: Callable[[str], float | int | None], text: str) -> tuple[str, object]:
    try:
        value = convert(text)
    except ArithmeticError as exc:   # sNaN: both refuse it alike
        return "raises", type(exc)
    return type(value).__name__, "nan" if value != value else value   # NaN is not equal to itself


@given(DECIMALS)
def test_the_quick_number_is_the_exact_number(text: str) -> None:
    assert _outcome(num, text) == _outcome(exact_num, text), text
