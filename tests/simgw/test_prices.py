"""The prices CSV contract and the shipped example path."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.simgw import PricePath, PricesError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prices.csv"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "prices.csv"
    p.write_text(text)
    return p


def test_reads_rows_in_order(tmp_path: Path) -> None:
    path = PricePath.from_csv(write(tmp_path, "symbol,price\nAAPL,180.5\n\nMSFT,420\nAAPL, 180.6 \n"))
    assert path.rows == (("AAPL", 180.5), ("MSFT", 420.0), ("AAPL", 180.6))
    assert path.symbols() == ["AAPL", "MSFT"]
    assert path.initial_prices() == {"AAPL": 180.5, "MSFT": 420.0}


def test_header_is_case_insensitive_and_bom_tolerated(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_bytes("\ufeffSymbol,Price\nSPY,560\n".encode())
    assert PricePath.from_csv(p).rows == (("SPY", 560.0),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty prices file"),
        ("ticker,last\nAAPL,1\n", "line 1: header must be 'symbol,price'"),
        ("symbol,price\n", "no price rows"),
        ("symbol,price\nAAPL,180\nMSFT,abc\n", "line 3: price 'abc' is not a number"),
        ("symbol,price\nAAPL,-1\n", "line 2: price '-1' must be a positive"),
        ("symbol,price\nAAPL,nan\n", "line 2: price 'nan' must be a positive"),
        ("symbol,price\naapl,180\n", "line 2: bad symbol 'aapl'"),
        ("symbol,price\nAAPL,180,1\n", "line 2: expected 2 columns"),
    ],
)
def test_invalid_files_name_the_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(PricesError) as err:
        PricePath.from_csv(p)
    assert str(p) in str(err.value)
    assert fragment in str(err.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PricesError, match="cannot read prices file"):
        PricePath.from_csv(tmp_path / "missing.csv")


def test_from_rows_validates() -> None:
    assert len(PricePath.from_rows([("AAPL", 1)])) == 1
    with pytest.raises(PricesError, match="row 2"):
        PricePath.from_rows([("AAPL", 1), ("AAPL", 0)])
    with pytest.raises(PricesError, match="no price rows"):
        PricePath.from_rows([])


def test_example_path_is_valid_and_realistic() -> None:
    path = PricePath.from_csv(EXAMPLE)
    assert len(path) >= 300
    assert {"AAPL", "MSFT", "NVDA", "TSLA", "SPY"} <= set(path.symbols())
    last: dict[str, float] = {}
    for symbol, price in path.rows:
        if symbol in last:
            assert abs(price / last[symbol] - 1) < 0.01, (symbol, last[symbol], price)
        last[symbol] = price
