"""The second actor's tools against the real processes: the trader's clientId-0 API session
(``chaos/trader.py``) and the gateway's TWS window (``chaos/tws_gateway.py``), next to an
``orchestrator run`` protecting a position. What a trader can and cannot do to the
orchestrator's orders is IB's rule (an order is bound to the client that placed it), and the
simulator keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos import invariants as inv
from chaos.hand import CLOSE_REF, OWN_REF, Hand

from .helpers import Bench, protected

pytestmark = pytest.mark.chaos


async def _covered(b: Bench) -> bool:
    state = await b.state()
    return inv.coverage_gaps(state, {"AAPL": "P"}, Hand.from_executions(state["executions"]), {"P": 1}) == {}


async def test_the_trader_cancels_our_stop_in_tws_but_not_through_the_api(tmp_path: Path) -> None:
    async with protected(tmp_path) as (b, trader):
        assert b.gw is not None
        [stop] = [o for o in (await b.state())["orders"] if o["order_ref"] == "P:stop"]
        # through the API, clientId 0 cannot cancel another client's order: IB answers 10147
        reply = await trader("cancel", order_id=stop["order_id"])
        assert [e[1] for e in reply["errors"]] == [10147], reply
        assert [o["status"] for o in (await b.state())["orders"] if o["order_ref"] == "P:stop"] == ["Submitted"]
        # in the TWS window a click cancels it; the orchestrator protects the position again
        assert (await b.gw.click("cancel", order_ref="P:stop"))["cancelled"] == 1
        await b.until("the position protected again", lambda: _covered(b))
        # the trader's own shares and a sale of the plan's, both market orders of client 0
        assert (await trader("trade", symbol="MSFT", action="BUY", qty=10, ref=OWN_REF))["filled"] == 10
        assert (await trader("trade", symbol="AAPL", action="SELL", qty=100, ref=CLOSE_REF))["filled"] == 100
        hand = Hand.from_executions((await b.state())["executions"])
        assert (hand.own, hand.close) == ({"MSFT": 10}, {"AAPL": -100})
        # a stop of the trader's own; reqGlobalCancel takes every order of every client
        placed = await trader("stop", symbol="AAPL", action="SELL", qty=50, stop=170.0, ref=CLOSE_REF)
        assert placed["status"] in inv.WORKING, placed   # a stop not yet triggered is PreSubmitted
        assert (await trader("global_cancel"))["open_before"] >= 3
        working = [o for o in (await b.state())["orders"] if o["status"] in inv.WORKING]
        assert working == [] or all(o["client_id"] == 7 for o in working)   # only what it placed since
