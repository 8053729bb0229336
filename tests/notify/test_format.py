"""Messages: what a trader reads, and that every payload fits Discord's limits."""

from __future__ import annotations

import io
import json
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import machines
from machines import PlanMachine
from orchestrator.config import load_config
from orchestrator.engine.step import apply_event
from orchestrator.notify import ConsoleDeliver, make_deliver
from orchestrator.notify.discord import DiscordDeliver
from orchestrator.notify.embed import build_payload
from orchestrator.notify.format import KINDS, console_text, describe
from orchestrator.store import Store

from .helpers import LIMITS, VirtualTime, at, fill_outbox, lifecycle, spec, validate_discord_payload
from .standin import TOKEN


def fields_of(body: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in body["embeds"][0]["fields"]}


def payloads(store: Store) -> list[dict[str, Any]]:
    return [i.payload for i in store.pending_outbox()]


def test_lifecycle_embeds_carry_what_a_trader_needs(store: Store) -> None:
    fill_outbox(store, ["AAPL_20260309_001"])
    bodies = {p["kind"]: build_payload(p) for p in payloads(store)}
    assert list(bodies) == ["sized", "submitted", "filled", "protected", "take_profit"]
    for kind, body in bodies.items():
        validate_discord_payload(body)
        embed = body["embeds"][0]
        emoji, title, colour = KINDS[kind]
        # underscores escaped: a plan id must not turn italic in Discord
        assert embed["title"] == f"{emoji} {title} · AAPL · AAPL\\_20260309\\_001"
        assert embed["color"] == colour
        assert embed["footer"]["text"].startswith("AAPL_20260309_001 · step ")
        assert body["allowed_mentions"] == {"parse": []}
    assert len({b["embeds"][0]["color"] for b in bodies.values()}) == len(bodies)

    sub = fields_of(bodies["submitted"])
    assert sub["Plan"] == "AAPL\\_20260309\\_001" and sub["Symbol"] == "AAPL" and sub["Side"] == "LONG · LIMIT"
    assert sub["Quantity"] == "800" and sub["Entry"] == "$180.50"
    assert sub["Stop"] == "$178.00" and sub["Target"] == "$185.00"
    assert sub["Risk"] == "$2,000.00" and sub["Portfolio risk"] == "2.00 %"
    assert bodies["submitted"]["embeds"][0]["description"] == "AAPL \\| LONG 800 @ $180.50 · LIMIT"

    filled = fields_of(bodies["filled"])
    assert filled["Fill"] == "800 @ $180.50" and filled["Avg entry"] == "$180.50"

    tp = bodies["take_profit"]["embeds"][0]
    # no commission reported for either fill yet: the net says so instead of guessing
    pnl = "+$3,600.00 gross (+2.49 %) · $3,600.00 net (commissions $0.00 so far; IB has not reported 2 fills' yet)"
    assert tp["description"] == f"AAPL \\| SOLD 800 @ $185.00 · P&L: {pnl}"
    exit_fields = fields_of(bodies["take_profit"])
    assert exit_fields["Exit"] == "800 @ $185.00" and exit_fields["P&L"] == pnl
    assert "Risk" not in exit_fields  # only what this message is about
    assert tp["timestamp"] == "2026-03-09T14:30:05+00:00"


def test_times_in_utc_and_new_york_across_the_dst_change() -> None:
    winter = describe({"kind": "submitted", "facts": {"at": "2026-03-06T14:30:00.000000+00:00"}})
    summer = describe({"kind": "submitted", "facts": {"at": "2026-03-09T13:30:00.000000+00:00"}})
    late = describe({"kind": "submitted", "facts": {"at": "2026-11-02T02:15:00+00:00"}})
    time = {m.kind + str(i): next(f.value for f in m.fields if f.name == "Time")
            for i, m in enumerate((winter, summer, late))}
    assert list(time.values()) == [
        "2026-03-06 14:30:00 UTC\n2026-03-06 09:30:00 EST (New York)",
        "2026-03-09 13:30:00 UTC\n2026-03-09 09:30:00 EDT (New York)",
        "2026-11-02 02:15:00 UTC\n2026-11-01 21:15:00 EST (New York)",  # other date in New York
    ]


def test_failures_say_which_limit_or_ib_error(store: Store) -> None:
    machine = PlanMachine()
    risky = machine.bind(store.insert_plan(spec("RISKY"), at=at(0)))
    activate = machines.Activate(at(1), D(100000), D(200000), D(9500), market_price=D("180.00"))
    apply_event(machine, store, risky, activate, now=at(1))
    refused = machine.bind(store.insert_plan(spec("REFUSED", symbol="TSLA"), at=at(0)))
    for e in (machines.Activate(at(1), D(100000), D(200000), D(0), market_price=D("180.00")),
              machines.EntryAccepted(at(2), 11, 1100),
              machines.EntryRejected(at(3), 201, "Order rejected - reason: insufficient margin")):
        apply_event(machine, store, refused, e, now=e.at)
    by_plan = {(p["plan_id"], p["kind"]): build_payload(p) for p in payloads(store)}

    risk = by_plan[("RISKY", "rejected")]
    validate_discord_payload(risk)
    f = fields_of(risk)
    assert f["Limit"] == "max\\_portfolio\\_risk\\_pct"
    assert risk["embeds"][0]["description"].splitlines()[-1] == (
        "Error: risk limit max\\_portfolio\\_risk\\_pct: portfolio risk would be 11.50% (open 9500.00 + this plan "
        "2000.00) > max\\_portfolio\\_risk\\_pct 10%")
    assert f["Portfolio risk"] == "11.50 %"
    assert risk["embeds"][0]["color"] == KINDS["rejected"].colour
    assert "Portfolio risk" in f and "Risk" in f

    ib = by_plan[("REFUSED", "rejected")]
    validate_discord_payload(ib)
    assert fields_of(ib)["IB error"] == "201"
    description = ib["embeds"][0]["description"]
    assert "Error: IB rejected the entry: Order rejected - reason: insufficient margin" in description


def test_modify_rejected_and_notices_show_their_message() -> None:
    body = build_payload({"kind": "modify_rejected", "plan_id": "P", "seq": 7, "facts": {
        "symbol": "MSFT", "code": 10147, "message": "OrderId 12 that needs to be modified is not found"}})
    assert fields_of(body)["IB error"] == "10147: OrderId 12 that needs to be modified is not found"
    notice = build_payload({"kind": "plan_file_invalid", "plan_id": None,
                            "facts": {"message": "plans/x.toml: entry_price: must be > 0"}})
    validate_discord_payload(notice)
    assert notice["embeds"][0]["title"] == "⚠️ PLAN FILE INVALID"
    assert notice["embeds"][0]["description"] == "plans/x.toml: entry\\_price: must be > 0"
    odd = build_payload({"kind": "brand_new_kind", "facts": None})
    validate_discord_payload(odd)
    assert odd["embeds"][0]["title"] == "ℹ️ BRAND\\_NEW\\_KIND"


def test_long_values_are_shortened_with_an_ellipsis_never_rejected() -> None:
    reason = "R" * 10_000
    body = build_payload({"kind": "error", "plan_id": "P" * 3000, "seq": 1, "facts": {
        "symbol": "S" * 5000, "reason": reason, "message": "M" * 5000, "code": 1, "limit": "L" * 2000}})
    validate_discord_payload(body)
    embed = body["embeds"][0]
    assert embed["description"].endswith("…") and embed["title"].endswith("…")
    assert all(len(f["value"]) <= LIMITS["field.value"] for f in embed["fields"])


def _with_commissions(store: Store, charged: list[tuple[str, str]]) -> None:
    """The lifecycle of AAPL-1, with IB's commission reports for ``charged`` before the exit."""
    machine = PlanMachine()
    plan = machine.bind(store.insert_plan(spec("AAPL-1"), at=at(0)))
    events = lifecycle()
    for event in events[:4] + [machines.CommissionCharged(at(4), e, D(a)) for e, a in charged] + events[4:]:
        apply_event(machine, store, plan, event, now=event.at)


SO_FAR = "+$3,600.00 gross (+2.49 %) · $3,597.50 net (commissions $2.50 so far; IB has not reported 1 fill's yet)"


def test_an_exit_says_gross_and_net_of_the_commissions_reported_so_far(store: Store) -> None:
    """IB reports the exit's commission after the exit fill: the message written at that fill
    has the entry's only, and says so."""
    _with_commissions(store, [("e-1", "2.50")])
    tp = next(p for p in payloads(store) if p["kind"] == "take_profit")
    assert tp["facts"]["commissions"] == "2.50" and tp["facts"]["commissions_pending"] == 1
    message = describe(tp)
    assert message.summary[0] == f"AAPL | SOLD 800 @ $185.00 · P&L: {SO_FAR}"
    assert {f.name: f.value for f in message.fields}["P&L"] == SO_FAR


def test_an_exit_with_every_commission_known_says_gross_and_net() -> None:
    facts = {"symbol": "AAPL", "side": "long", "exited_qty": 500, "avg_exit_price": "184", "realized_pnl": "1750",
             "commissions": "5", "commissions_pending": 0}
    message = describe({"kind": "take_profit", "plan_id": "P", "facts": facts})
    pnl = "+$1,750.00 gross · $1,745.00 net (commissions $5.00)"
    assert message.summary[0] == f"AAPL | SOLD 500 @ $184.00 · P&L: {pnl}"
    loss = describe({"kind": "stop_loss", "facts": {**facts, "realized_pnl": "-2000", "commissions": "4.43"}})
    assert loss.summary[0].endswith("P&L: -$2,000.00 gross · -$2,004.43 net (commissions $4.43)")


def test_an_older_payload_without_commissions_keeps_its_gross_figure() -> None:
    facts = {"side": "long", "exited_qty": 10, "avg_exit_price": "5", "realized_pnl": "-20.5"}
    assert describe({"kind": "stop_loss", "facts": facts}).summary == ["SOLD 10 @ $5.00 · P&L: -$20.50"]


def test_protection_lost_says_what_ib_showed() -> None:
    facts = {"symbol": "AAPL", "side": "long", "open_qty": 500, "stop_quantity": 0, "target_quantity": 500}
    message = describe({"kind": "protection_lost", "plan_id": "P", "facts": facts})
    assert message.summary[0] == ("AAPL | Why: IB shows no stop working and a take-profit for 500 of the 500 "
                                  "shares held (cancelled in TWS or by IB, or rejected)")


async def test_console_shows_the_same_facts(store: Store) -> None:
    _with_commissions(store, [("e-1", "2.50")])
    out = io.StringIO()
    deliver = ConsoleDeliver(out)
    for p in payloads(store):
        await deliver(p)
    text = out.getvalue()
    assert "📈 ORDER SUBMITTED · AAPL · AAPL-1\n    AAPL | LONG 800 @ $180.50 · LIMIT" in text
    assert "Risk: $2,000.00   Portfolio risk: 2.00 %" in text
    assert f"🟢 EXIT: TAKE PROFIT · AAPL · AAPL-1\n    AAPL | SOLD 800 @ $185.00 · P&L: {SO_FAR}" in text
    assert "Time: 2026-03-09 14:30:05 UTC · 2026-03-09 10:30:05 EDT (New York)" in text
    assert console_text({"kind": "x"}) == "ℹ️ X"


async def test_make_deliver_picks_discord_only_with_a_webhook() -> None:
    vt = VirtualTime()
    cfg = load_config(None, {})
    assert isinstance(make_deliver(cfg.discord, clock=vt.clock, out=io.StringIO()), ConsoleDeliver)
    url = f"https://discord.com/api/webhooks/123456/{TOKEN}"
    cfg = load_config(None, {"ORCHESTRATOR_DISCORD_WEBHOOK_URL": url})
    deliver = make_deliver(cfg.discord, clock=vt.clock, out=io.StringIO())
    assert isinstance(deliver, DiscordDeliver)
    assert TOKEN not in repr(deliver) and TOKEN not in str(vars(deliver))
    assert repr(deliver) == "DiscordDeliver('https://discord.com/api/webhooks/123456/****')"
    await deliver.aclose()


# --------------------------------------------------------------------------- extremes (Hypothesis)

ODD = ["", " ", "\n\n", "🧨" * 300, "\u200b", "\u202e", "\ud800", "\udfff", "a\x00b\x1bc", "@everyone", "<@&123>",
       "`` ` ``", "**bold** __u__ ||spoiler||", "# heading", "> quote", "-# sub", "e\u0301" * 50, "👩‍👩‍👧‍👦" * 40,
       "\u0000" * 20, "\r\n\t", "NaN", "Infinity", "-inf", "1E+999999", "-1E-999999", "sNaN"]
texts = st.one_of(
    st.sampled_from(ODD),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40),  # surrogates too
    st.builds(lambda c, n: c * n, st.sampled_from(["R", "🧨", " ", "é", "_", "\ud83d", "\n"]), st.integers(0, 10_000)),
)
numbers = st.one_of(st.none(), st.integers(-10**40, 10**40), st.decimals(allow_nan=True, allow_infinity=True).map(str),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["1E+999999999", "-0", "0E-50"]))
values = st.one_of(st.none(), texts, numbers, st.booleans(), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
FACT_KEYS = ["symbol", "side", "entry_type", "entry_price", "quantity", "filled_qty", "exited_qty", "open_qty",
             "avg_entry_price", "avg_exit_price", "stop_price", "target_price", "risk_amount", "portfolio_risk_pct",
             "realized_pnl", "realized_pnl_pct", "exit_reason", "reason", "error_code", "at", "event", "fill_qty",
             "fill_price", "old_stop", "new_stop", "code", "message", "limit"]
facts = st.fixed_dictionaries({}, optional={k: values for k in FACT_KEYS})
at_values = st.one_of(st.none(), texts, st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                      st.datetimes().map(lambda d: d.isoformat()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(kind=st.one_of(st.sampled_from(sorted(KINDS)), texts, st.none()), plan=st.one_of(st.none(), texts, numbers),
       seq=st.one_of(st.none(), st.integers(-5, 10**12)), frm=values, to=values, f=facts, when=at_values)
def test_every_payload_fits_discords_limits(kind: Any, plan: Any, seq: Any, frm: Any, to: Any, f: dict[str, Any],
                                            when: Any) -> None:
    f = {**f, "at": when}
    payload = {"kind": kind, "plan_id": plan, "seq": seq, "from_state": frm, "to_state": to, "facts": f}
    payload = json.loads(json.dumps(payload))  # what the outbox row holds
    body = build_payload(payload)
    validate_discord_payload(body)
    console_text(payload)


@pytest.mark.parametrize("payload", [None, "text", 12, [], {"facts": "x"}, {"facts": [1]}, {"kind": 5}])
def test_garbage_rows_still_make_a_valid_message(payload: Any) -> None:
    validate_discord_payload(build_payload(payload))
