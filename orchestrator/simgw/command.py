"""``sim-gateway``: run the simulated IB Gateway as a standalone process.

Prints exactly one line to stdout once listening::

    sim-gateway listening on 127.0.0.1:4002

(with ``--control-port``, a second line goes to *stderr*:
``sim-gateway control on HOST:PORT``).  SIGINT/SIGTERM stop it with exit 0.
Bad arguments or prices file: one line on stderr, exit 2.  Anything else
(e.g. the port is taken): one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import re
import signal
import sys
from collections.abc import Callable
from datetime import date
from typing import NoReturn

from .control import ControlServer
from .entitlement import LIVE, MODES
from .faults import Faults
from .gateway import SimGateway
from .pacing import DEFAULT_LIMIT
from .policy import OrderPolicy
from .prices import PricePath, PricesError

PROG = "sim-gateway"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _number(
    kind: type[int] | type[float], minimum: float, name: str, allow_equal: bool = True, maximum: float | None = None
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value: float = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {name}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite {name}")
        if value < minimum or (not allow_equal and value == minimum):
            op = ">=" if allow_equal else ">"
            raise argparse.ArgumentTypeError(f"{text!r}: {name} must be {op} {minimum:g}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r}: {name} must be <= {maximum:g}")
        return value

    return parse


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Simulated IB Gateway speaking the TWS API (server version 157).")
    p.add_argument("--host", default="127.0.0.1", metavar="H", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_number(int, 0, "port", maximum=65535), default=4002, metavar="P",
                   help="port to listen on; 0 picks a free one (default 4002)")
    p.add_argument("--prices", default="examples/prices.csv", metavar="CSV",
                   help="price path CSV, header symbol,price (default examples/prices.csv)")
    p.add_argument("--tick-seconds", type=_number(float, 0, "number of seconds"), default=0.25, metavar="S",
                   help="seconds per price row; 0 = no automatic ticking (default 0.25)")
    p.add_argument("--account-value", type=_number(float, 0, "amount", allow_equal=False), default=100_000,
                   metavar="V",
                   help="starting cash in the base currency (default 100000)")
    p.add_argument("--account", default="DU1234567", metavar="ACCT", help="account code (default DU1234567)")
    p.add_argument("--journal", default=None, metavar="FILE", help="append the order journal (JSON lines) to FILE")
    p.add_argument("--partial-fill-max", type=_number(int, 1, "share count"), default=None, metavar="N",
                   help="fill at most N shares per order per tick")
    p.add_argument("--commission-per-share", type=_number(float, 0, "amount"), default=0.005, metavar="USD",
                   help="commission per share (default 0.005)")
    p.add_argument("--min-commission", type=_number(float, 0, "amount"), default=1.0, metavar="USD",
                   help="minimum commission per order (default 1.0)")
    p.add_argument("--control-port", type=_number(int, 0, "port", maximum=65535), default=None, metavar="P",
                   help="serve the JSON-lines control endpoint on this loopback port (0 = any)")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    ib = p.add_argument_group("IB's account and limits")
    ib.add_argument("--market-data", choices=list(MODES), default=LIVE,
                    help="market-data entitlement of the account (default live)")
    ib.add_argument("--pacing-limit", type=_number(int, 1, "message count"), default=DEFAULT_LIMIT, metavar="N",
                    help=f"messages per second a client may send; more get error 100 (default {DEFAULT_LIMIT})")
    ib.add_argument("--read-only", action="store_true", help="read-only API: every new order gets error 321")
    ib.add_argument("--precaution-percent", type=_number(float, 0, "percentage", allow_equal=False), default=None,
                    metavar="P", help="refuse (201) a marketable limit more than P %% through the market")
    ib.add_argument("--modify-processing", type=_number(float, 0, "number of seconds"), default=0.0,
                    metavar="SECONDS", help="a modify within SECONDS of the previous one of that order gets 2102")
    money = p.add_argument_group("currencies and instruments")
    money.add_argument("--base-currency", type=_currency, default="USD", metavar="CCY",
                       help="the account's base currency (default USD; its rate comes from --fx or a default)")
    money.add_argument("--fx", type=_pair("CCYUSD", 3), action="append", default=[], metavar="CCYUSD=RATE",
                       help="USD per unit of CCY, e.g. EURUSD=1.08 (repeatable; EUR defaults to 1.08)")
    money.add_argument("--futures-margin", type=_pair("ROOT", 0), action="append", default=[],
                       metavar="ROOT=USD", help="initial margin per contract, e.g. ES=13000 (repeatable)")
    money.add_argument("--date", type=_date, default=None, metavar="YYYY-MM-DD",
                       help="the simulator's date, which decides the listed futures months (default today)")
    f = p.add_argument_group("faults")
    f.add_argument("--drop-at-tick", type=_number(int, 1, "tick"), action="append", default=[],
                   metavar="N", help="drop every connection at tick N (repeatable)")
    f.add_argument("--refuse-for", type=_number(float, 0, "number of seconds"), default=0.0, metavar="SECONDS",
                   help="refuse connections for the first SECONDS")
    f.add_argument("--reject-next", type=_number(int, 1, "count"), nargs="?", const=1, default=0, metavar="N",
                   help="reject the next N new orders (default 1)")
    f.add_argument("--ack-delay", type=_number(float, 0, "number of seconds"), default=0.0, metavar="SECONDS",
                   help="process order messages SECONDS after they arrive")
    f.add_argument("--drop-next-order-status", type=_number(int, 1, "count"), nargs="?", const=1, default=0,
                   metavar="N", help="drop the next N orderStatus messages")
    f.add_argument("--replay-executions", action="store_true",
                   help="answer reqExecutions with every execution twice")
    f.add_argument("--slow-sync", type=_number(float, 0, "number of seconds"), default=0.0, metavar="SECONDS",
                   help="answer reqOpenOrders, reqAllOpenOrders and reqExecutions SECONDS late")
    return p


def _currency(text: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a currency code such as USD or EUR")
    return text


def _pair(form: str, code_length: int) -> Callable[[str], tuple[str, float]]:
    """``NAME=NUMBER`` with a positive number; ``code_length`` 3: NAME is CCYUSD, the code is CCY."""
    def parse(text: str) -> tuple[str, float]:
        name, _, value = text.partition("=")
        pattern = r"[A-Z]{3}USD" if code_length else r"[A-Z][A-Z0-9]{0,7}"
        if not re.fullmatch(pattern, name):
            raise argparse.ArgumentTypeError(f"{text!r} must be {form}=NUMBER")
        rate = _number(float, 0, "positive number", allow_equal=False)(value)
        return (name[:code_length] if code_length else name), rate
    return parse


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def faults_from_args(args: argparse.Namespace) -> Faults:
    faults = Faults()
    for tick in args.drop_at_tick:
        faults.drop_at_tick(tick)
    if args.refuse_for:
        faults.refuse_for(args.refuse_for)
    if args.reject_next:
        faults.reject_next(args.reject_next)
    if args.ack_delay:
        faults.delay_acks(args.ack_delay)
    if args.drop_next_order_status:
        faults.drop_next_order_status(args.drop_next_order_status)
    if args.replay_executions:
        faults.replay_executions(True)
    if args.slow_sync:
        faults.slow_sync(args.slow_sync)
    return faults


def build_gateway(args: argparse.Namespace, path: PricePath) -> SimGateway:
    return SimGateway(
        path, host=args.host, port=args.port, tick_seconds=args.tick_seconds or None,
        account_value=args.account_value, account=args.account, journal_path=args.journal,
        partial_fill_max=args.partial_fill_max, commission_per_share=args.commission_per_share,
        min_commission=args.min_commission, faults=faults_from_args(args), market_data=args.market_data,
        pacing_limit=args.pacing_limit,
        policy=OrderPolicy(read_only=args.read_only, precaution_percent=args.precaution_percent,
                           modify_processing_seconds=args.modify_processing),
        base_currency=args.base_currency, fx=dict(args.fx), futures_margin=dict(args.futures_margin),
        sim_date=args.date,
    )


async def serve(args: argparse.Namespace, gw: SimGateway, prog: str = PROG) -> int:
    """Run ``gw`` (and the control endpoint) until SIGINT/SIGTERM; returns the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    control: ControlServer | None = None
    try:
        await gw.start()
        if args.control_port is not None:
            control = await ControlServer(gw, "127.0.0.1", args.control_port).start()
    except OSError as exc:
        await gw.stop()
        print(f"{prog}: error: cannot listen: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 1
    print(f"{PROG} listening on {args.host}:{gw.port}", flush=True)
    if control is not None:
        print(f"{PROG} control on 127.0.0.1:{control.port}", file=sys.stderr, flush=True)
    await stop.wait()
    if control is not None:
        await control.stop()
    await gw.stop()
    return 0


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Entry point of ``sim-gateway`` / ``python -m orchestrator.simgw``; returns the exit code.

    ``prog`` names the command in usage and error lines (e.g. "orchestrator sim-gateway").
    """
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if not args.account.strip():
        print(f"{prog}: error: argument --account: must not be empty", file=sys.stderr)
        return 2
    try:
        gw = build_gateway(args, PricePath.from_csv(args.prices))
    except (PricesError, ValueError) as exc:  # PricesError is a ValueError; ValueError: a currency without a rate
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: error: cannot open journal {args.journal}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(serve(args, gw, prog))
    except KeyboardInterrupt:  # pragma: no cover - signal arrived before the handler was set
        return 0
