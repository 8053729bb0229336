"""The demo's script: its price paths, its plans (with the arithmetic a reader can check) and its
config, for ``orchestrator demo``.

The simulated day is fixed, so every run is the same: Wednesday 2026-12-02 on the XNYS calendar,
the session clock starting at 09:29 New York (a minute before the open) and running 600 times
faster than the machine (one real second is ten simulated minutes: the open comes after 0.1 s,
the close at 16:00 after 39 s). Prices are ticked in real time, one row every 0.04 s, each row
moving one symbol; every path holds its first price for its first 8 rows (about 3 s).
"""

from __future__ import annotations

from datetime import UTC, datetime

SIM_START = datetime(2026, 12, 2, 14, 29, tzinfo=UTC)      # 09:29 EST
OPEN = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)           # 09:30 EST
CLOSE = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)           # 16:00 EST
SPEED = 600
TICK_SECONDS = 0.04


def ramp(a: float, b: float, n: int, step: float = 0.01) -> list[float]:
    """``n`` prices from ``a`` to ``b``, each on a multiple of ``step``."""
    return [round(round((a + (b - a) * i / (n - 1)) / step) * step, 4) for i in range(n)]


def _held(paths: dict[str, list[float]], rounds: int) -> dict[str, list[float]]:
    """Each path holding its first price for ``rounds`` rows first: the orchestrator starts (and
    sizes its market entries) on those prices however long its start takes on a busy machine."""
    return {symbol: [path[0]] * rounds + path for symbol, path in paths.items()}


# symbol → list of prices, one per row of that symbol (the path ends holding its last price)
PATHS: dict[str, list[float]] = _held({
    "AAPL": ramp(180.00, 190.00, 50),                                   # up through the target 189
    "MSFT": ramp(420.00, 396.00, 50),                                   # down through the stop 399
    "NVDA": ramp(130.00, 142.00, 30) + ramp(141.80, 134.00, 20),        # up 1.8R, then back: trailing stop
    "TSLA": ramp(250.00, 236.00, 50),                                   # down through the short's target
    "SPY": [590.00] * 50,                                               # flat: the limit at 560 never fills
    "ES": [5005.00] * 12 + ramp(5004.00, 5000.00, 5, 0.25) + ramp(5000.00, 5021.00, 43, 0.25),  # to 5020
    "SAP": [201.00] * 12 + ramp(200.50, 200.00, 2) + ramp(199.60, 188.00, 30),   # down through the stop 190
    "AMZN": [200.00] * 12 + ramp(200.00, 212.00, 40),                   # flat past 09:40, then up through 211
    "META": [600.00],                                                   # flat all day: flattened at 15:30
}, rounds=8)

PLANS = """\
# The demo's plans: each one shows a path through the plan machine.
# The account: 100,000 USD. Risk per plan: small 0.5 % (500 USD), normal 1 % (1,000 USD),
# large 3 % (3,000 USD); open risk may not pass 7 %. Quantity = floor(budget / per-unit risk),
# per-unit risk = |entry - stop| x multiplier x FX (a stock's multiplier is 1; FX is 1 for USD).
# A market entry is sized at the ask (the last price + 0.01), a limit entry at its limit.
# The day: 2026-12-02 on the simulator's session clock, 600x (09:29 to 15:30 in 36 s).

[[plans]]                 # take-profit: AAPL rises through 189
id = "DEMO-AAPL-TP"
symbol = "AAPL"
side = "long"
entry = "market"
entry_price = 180.00
stop_loss = 171.00
take_profit = 189.00
risk = "normal"

[[plans]]                 # stop-loss: MSFT falls through 399
id = "DEMO-MSFT-SL"
symbol = "MSFT"
side = "long"
entry = "market"
entry_price = 420.00
stop_loss = 399.00
take_profit = 441.00
risk = "normal"

[[plans]]                 # trailing exit: NVDA runs 1.8R, the stop follows 3.00 behind, then it turns
id = "DEMO-NVDA-TRAIL"
symbol = "NVDA"
side = "long"
entry = "market"
entry_price = 130.00
stop_loss = 123.50
take_profit = 150.00
risk = "normal"
[plans.trail]
trigger_r = 1.0
distance = 3.00

[[plans]]                 # short take-profit: TSLA falls through 237.50
id = "DEMO-TSLA-SHORT"
symbol = "TSLA"
side = "short"
entry = "market"
entry_price = 250.00
stop_loss = 262.50
take_profit = 237.50
risk = "small"

# A future: ES (E-mini S&P 500) December 2026 on CME, multiplier 50, tick 0.25.
# Budget 1 % of 100,000 = 1,000 USD; risk a contract |5000.00 - 4991.00| x 50 = 450 USD;
# floor(1,000 / 450) = 2 contracts (ESZ6), risk 900 USD. ES dips to 5000.00 (the entry fills) and
# rises to 5020.00: take-profit, +20 x 50 x 2 = +2,000 USD gross, less 2 fills x 2 x 2.25 = 9.00 USD
# of commissions and fees. The status table: closed, ES 0, stop 4,991.00, net +1,991.00, exit: target.
[[plans]]
id = "DEMO-ES-FUT"
symbol = "ES"
sec_type = "FUT"
exchange = "CME"
contract_month = "202612"
side = "long"
entry = "limit"
entry_price = 5000.00
stop_loss = 4991.00
take_profit = 5020.00
risk = "normal"

# A stock in euros from this USD account: SAP on Xetra (IB: IBIS). The account holds no euros,
# so IB reports no EUR rate: the rate is the EUR.USD quote, 1.08 (its bid/ask midpoint).
# Budget 0.5 % of 100,000 = 500 USD; risk a share |200.00 - 190.00| = 10.00 EUR x 1.08 = 10.80 USD;
# floor(500 / 10.80) = 46 shares, risk 46 x 10.80 = 496.80 USD. SAP falls to 190.00: stop-loss,
# -10.00 EUR x 46 = -460 EUR = -496.80 USD gross. Commissions are 0.05 % of the notional in EUR
# (46 x 200 x 0.0005 = 4.60, 46 x 190 x 0.0005 = 4.37), 8.97 EUR x 1.08 = 9.69 USD. The status table:
# closed, SAP 0, stop 190.00, net -496.80 - 9.69 = -506.49, exit: stop.
[[plans]]
id = "DEMO-SAP-EUR"
symbol = "SAP"
exchange = "SMART"
primary_exchange = "IBIS"
currency = "EUR"
side = "long"
entry = "limit"
entry_price = 200.00
stop_loss = 190.00
take_profit = 220.00
risk = "small"

# Flattened before the close: META stays flat at 600.00 (no stop, no target), and at close-30m
# (15:30 New York) the position is sold at market while the stop keeps working until it fills.
# Sized at the ask 600.01: risk a share 600.01 - 588.00 = 12.01; floor(500 / 12.01) = 41 shares,
# bought and sold at 600.00. The status table: closed, META 0, net -2.00 (two 1.00 commissions),
# "flatten_at close-30m (2026-12-02 20:30 UTC) reached".
[[plans]]
id = "DEMO-META-CLOSE"
symbol = "META"
side = "long"
entry = "market"
entry_price = 600.00
stop_loss = 588.00
take_profit = 650.00
risk = "small"
flatten_at = "close-30m"

[[plans]]                 # risk-cap rejection: about 5.8 % open + 3 % would exceed the 7 % cap
id = "DEMO-SPY-RISK"
symbol = "SPY"
side = "long"
entry = "market"
entry_price = 590.00
stop_loss = 560.00
take_profit = 650.00
risk = "large"

[[plans]]                 # expiry: a buy limit far below the market, cancelled when it expires at 10:10
id = "DEMO-SPY-EXPIRE"
symbol = "SPY"
side = "long"
entry = "limit"
entry_price = 560.00
stop_loss = 532.00
take_profit = 600.00
risk = "small"
expire_at = "2026-12-02T10:10:00-05:00"

# Started at the open: waits until open+10m (09:40 New York), then buys at market.
# Sized at the ask 200.01: risk a share 200.01 - 189.00 = 11.01; floor(500 / 11.01) = 45 shares,
# bought at 200.00. AMZN then rises through 211: take-profit (the status table: closed, AMZN 0,
# exit: target, net about +45 x 11 - 2 = +493 or a little more: the target fills at the first
# price at or above 211).
[[plans]]
id = "DEMO-AMZN-OPEN"
symbol = "AMZN"
side = "long"
entry = "market"
entry_price = 200.00
stop_loss = 189.00
take_profit = 211.00
risk = "small"
start = "open+10m"
"""

CONFIG = f"""\
# Written by `orchestrator demo`.
[broker]
mode = "sim"
[sim]
prices = "prices.csv"
tick_seconds = {TICK_SECONDS}
account_value = 100000
journal = "sim-journal.jsonl"
clock = {SIM_START.isoformat().replace("+00:00", "Z")}
speed = {SPEED}
calendar = "XNYS"
[clock]
source = "broker"
[store]
url = "sqlite:///state.db"
[plans]
files = ["plans.toml"]
[risk]
small_pct = 0.5
normal_pct = 1
large_pct = 3
max_portfolio_risk_pct = 7
[trailing]
interval_seconds = 0.25
[market_data]
max_age_seconds = 1800    # simulated seconds: 3 real seconds at 600x (a symbol's price moves every 0.4 s)
"""
