"""The simulated IB Gateway: a TWS API server (version 157) for demos, dry runs and tests.

Public API::

    from orchestrator.simgw import SimGateway, PricePath, Faults
    gw = SimGateway(prices=PricePath.from_csv("examples/prices.csv"), port=0, tick_seconds=None)
    await gw.start(); gw.port
    await gw.advance(1); gw.set_price("AAPL", 181.0)
    gw.faults.drop_connections()
    gw.feed.set_entitlement("delayed"); gw.policy.read_only = True; gw.connectivity.lose(2, "1101")
    gw.orders, gw.positions, gw.executions
    await gw.stop()

See docs/sim-gateway.md.
"""

from .account import Position
from .command import main
from .control import ControlServer
from .faults import Faults
from .gateway import SimGateway
from .orders import Execution, SimOrder
from .policy import OrderPolicy
from .prices import PricePath, PricesError
from .runner import GatewayThread

__all__ = [
    "ControlServer",
    "Execution",
    "Faults",
    "GatewayThread",
    "OrderPolicy",
    "Position",
    "PricePath",
    "PricesError",
    "SimGateway",
    "SimOrder",
    "main",
]
