"""Session mode's checkers (chaos/sessionchecks.py) find what they claim on a journal with one
thing broken and are silent on the clean one; the timeline and the session path they judge."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from chaos import sessionchecks as sc
from chaos.scenario import build
from chaos.sessionpath import DAY2_KINDS, SessionShape
from chaos.sessiontime import NEW_YORK, Hours, Timeline, draw

TL = draw(random.Random(1))


def _ny(day: Any, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=NEW_YORK)


def _e(event: str, at: datetime, ref: str = "P1:stop", order_type: str = "STP", perm: int = 11,
       client: int = 7, **kw: Any) -> dict[str, Any]:
    return {"event": event, "sim_ts": at.isoformat(), "order_ref": ref, "order_type": order_type, "perm_id": perm,
            "client_id": client, "symbol": "AAA", **kw}


def _order(perm: int = 11, ref: str = "P1:stop", tif: str = "GTC", outside_rth: bool = False,
           order_type: str = "STP", status: str = "Filled") -> dict[str, Any]:
    return {"perm_id": perm, "order_ref": ref, "tif": tif, "outside_rth": outside_rth, "order_type": order_type,
            "status": status, "client_id": 7}


def test_the_timeline_is_two_full_sessions_with_the_window_in_the_night() -> None:
    assert TL.close1.astimezone(NEW_YORK).hour == 16 and TL.close2.astimezone(NEW_YORK).hour == 16
    assert TL.start < TL.close1 < TL.night_to < TL.window[0] < TL.window[1] < TL.open2 < TL.close2
    assert TL.close_after(TL.close1 - timedelta(minutes=1)) == TL.close1
    assert TL.close_after(TL.close1 + timedelta(minutes=1)) == TL.close2
    assert 'market_hours = true' in TL.config() and 'source = "broker"' in TL.config()


def test_a_stop_filling_while_closed_is_found_unless_it_may_work_outside_regular_hours() -> None:
    hours = Hours()
    night = TL.close1 + timedelta(hours=2)
    journal = [_e("filled", night, fill_price=10.0)]
    assert [v.invariant for v in sc.no_fill_while_closed(journal, [_order()], hours, set(), TL.speed)] == [
        "no_fill_while_closed"]
    assert sc.no_fill_while_closed(journal, [_order(outside_rth=True)], hours, set(), TL.speed) == []
    mkt = [_e("filled", night, order_type="MKT")]   # a market order never works outside regular hours
    assert sc.no_fill_while_closed(mkt, [_order(outside_rth=True, order_type="MKT")], hours, set(), TL.speed)
    at_open = [_e("filled", TL.open2)]
    assert sc.no_fill_while_closed(at_open, [_order()], hours, set(), TL.speed) == []
    traders = [_e("filled", night, client=0)]
    assert sc.no_fill_while_closed(traders, [_order()], hours, set(), TL.speed) == []


def test_an_entry_placed_inside_the_window_is_found_its_edges_are_not_judged() -> None:
    inside = TL.window[0] + (TL.window[1] - TL.window[0]) / 2
    found = sc.no_entry_in_maintenance([_e("placed", inside, ref="P1:entry", order_type="LMT")], TL)
    assert [v.plan for v in found] == ["P1"]
    edge = TL.window[1] - timedelta(seconds=sc.MAINTENANCE_SLACK * TL.speed / 2)
    assert sc.no_entry_in_maintenance([_e("placed", edge, ref="P1:entry", order_type="LMT")], TL) == []
    assert sc.no_entry_in_maintenance([_e("placed", inside)], TL) == []   # a stop is no entry


def test_a_day_order_active_or_working_after_its_close_is_found() -> None:
    placed = TL.close1 - timedelta(minutes=20)
    after = TL.close1 + timedelta(minutes=5)
    day = [_order(tif="DAY")]
    clean = [_e("placed", placed), _e("cancelled", TL.close1)]
    assert sc.day_orders_end_at_close(clean, day, TL, after) == []
    late = [_e("placed", placed), _e("triggered", after)]
    assert [v.invariant for v in sc.day_orders_end_at_close(late, day, TL, after)] == ["day_orders_end_at_close"]
    working = [_order(tif="DAY", status="Submitted")]
    assert sc.day_orders_end_at_close([_e("placed", placed)], working, TL, after)
    assert sc.day_orders_end_at_close([_e("placed", placed)], working, TL, TL.close1 - timedelta(minutes=1)) == []
    assert sc.day_orders_end_at_close(late, [_order(tif="GTC")], TL, after) == []


def test_the_session_path_holds_d2_plans_and_gaps_at_the_open() -> None:
    rng = random.Random(7)
    timeline: Timeline = draw(rng)
    shape = SessionShape(timeline)
    scenario = build(rng, run=1, episode=0, plans=6, shape=shape, sim_date=timeline.day1)
    assert 0 < shape.close_step < shape.night_step < len(scenario.steps)
    for d in scenario.plans:
        column = [s[d.symbol] for s in scenario.steps]
        if shape.kind[d.id] in DAY2_KINDS:   # flat until the closed period
            assert set(column[:shape.close_step]) == {column[0]}
        assert column[shape.night_step - 1] != column[shape.close_step - 1]   # the opening price: a gap
        assert any(line.startswith("tif = ") for line in d.session)
    assert shape.through is not None
