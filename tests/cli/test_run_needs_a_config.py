"""``run`` never trades on guessed settings: without a config file it exits 2 naming the path it
looked for; a sim config whose prices file is missing is one line, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

from .helpers import call, listing, spawn


async def test_run_without_a_config_file_exits_2_naming_the_path(tmp_path: Path) -> None:
    rc, out, err = await spawn("run", cwd=tmp_path)
    assert rc == 2 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"orchestrator: no config file: looked for {tmp_path / 'config.toml'} ")
    assert "--config PATH" in lines[0] and "orchestrator demo" in lines[0]
    assert listing(tmp_path) == set()   # nothing was created: no state.db, no lock, no journal


async def test_a_sim_config_without_its_prices_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[broker]\nmode = "sim"\n[sim]\nprices = "nowhere.csv"\n')
    rc, out, err = await spawn("run", cwd=tmp_path)
    assert rc == 2 and "Traceback" not in out + err
    assert err.splitlines() == [f"orchestrator: {tmp_path / 'config.toml'}: sim.prices: {tmp_path / 'nowhere.csv'}: "
                                "cannot read prices file: No such file or directory"]
    assert listing(tmp_path) == {"config.toml"}


def test_an_explicit_config_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "elsewhere" / "config.toml")
    rc, _out, err = call("run", "--config", missing)
    assert rc == 2 and err.splitlines() == [f"orchestrator: {missing}: file not found"]


async def test_a_sim_journal_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text("symbol,price\nAAPL,180.00\n")
    (tmp_path / "config.toml").write_text('[sim]\nprices = "prices.csv"\njournal = "no-such-folder/j.jsonl"\n')
    rc, out, err = await spawn("run", cwd=tmp_path)
    assert rc == 2 and "Traceback" not in out + err
    assert err.splitlines() == [f"orchestrator: {tmp_path / 'config.toml'}: sim.journal: "
                                f"{tmp_path / 'no-such-folder' / 'j.jsonl'}: cannot write: No such file or directory"]
    assert listing(tmp_path) == {"config.toml", "prices.csv"}
