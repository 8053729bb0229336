"""The long-running commands: ``run`` (the daemon), ``demo``, ``console`` and ``sim-gateway``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from ..config import DEFAULT_CONFIG, ENV_CONFIG, Config
from ..errors import ConfigError
from .common import EXIT_BAD_INPUT, config


def _no_config_file(cfg: Config) -> str:
    """What ``run`` says when it found no config file: a daemon never runs on guessed settings."""
    looked = cfg.base_dir / DEFAULT_CONFIG
    return (f"no config file: looked for {looked} (no --config given and ${ENV_CONFIG} not set); "
            "write one (see docs/operations.md) or pass --config PATH; `orchestrator demo` runs without one")


def _writable(cfg: Config, key: str, path: Path) -> None:
    """A file the run will append to can be opened (else one line naming the key, not a traceback)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        raise ConfigError(f"{cfg.source}: {key}: {path}: cannot write: {exc.strerror or type(exc).__name__}") from None


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio
    import logging

    from ..bootstrap import run
    from ..simgw.prices import PricePath, PricesError
    cfg = config(args)
    if cfg.source is None:
        raise ConfigError(_no_config_file(cfg))
    if cfg.broker.mode == "sim":   # the embedded gateway's files, checked before anything is created
        try:
            PricePath.from_csv(cfg.sim.prices)
        except PricesError as exc:
            raise ConfigError(f"{cfg.source}: sim.prices: {exc}") from None
        _writable(cfg, "sim.journal", cfg.sim.journal)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("ib_async", "transitions", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from ..ownership import Existing
    existing = Existing.ADOPT if args.adopt_existing else Existing.IGNORE if args.ignore_existing else Existing.REFUSE
    try:
        return asyncio.run(run(cfg, exit_when_idle=args.exit_when_idle, out=out, existing=existing))
    except PricesError as exc:  # sim mode: the [sim] prices file is missing or bad
        raise ConfigError(f"{cfg.source}: sim.prices: {exc}") from None


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from ..demo import run_demo
    return run_demo(args, out)


def cmd_console(args: argparse.Namespace, out: TextIO) -> int:
    from ..console.serve import run
    from ..console.settings import load_settings
    if args.port is not None and not 0 <= args.port <= 65535:
        sys.stderr.write("orchestrator console: error: --port must be between 0 and 65535\n")
        return EXIT_BAD_INPUT
    settings = load_settings(args.config, os.environ, host=args.host, port=args.port)
    return run(settings, os.environ, out, sys.stderr)


def sim_gateway(argv: list[str]) -> int:
    """``sim-gateway``: its own options; ``--config`` (or the default config) supplies the [sim]
    and broker port defaults, and explicit options win."""
    from ..simgw.command import main as sim_main
    config_path: str | None = None
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--config":
            config_path = next(it, None)
            if config_path is None:
                sys.stderr.write("orchestrator sim-gateway: error: --config needs a PATH\n")
                return EXIT_BAD_INPUT
        elif arg.startswith("--config="):
            config_path = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    defaults: list[str] = []
    if config_path is not None or os.environ.get("ORCHESTRATOR_CONFIG") or os.path.exists("config.toml"):
        from ..config import load_config
        try:
            cfg = load_config(config_path, os.environ)
        except ConfigError as exc:
            for line in exc.lines:
                sys.stderr.write(f"orchestrator: {line}\n")
            return EXIT_BAD_INPUT
        sim = cfg.sim
        defaults = ["--port", str(cfg.broker.port), "--prices", str(sim.prices),
                    "--tick-seconds", str(sim.tick_seconds),
                    "--account-value", str(sim.account_value), "--journal", str(sim.journal)]
        if sim.partial_fill_max:
            defaults += ["--partial-fill-max", str(sim.partial_fill_max)]
    return sim_main(defaults + rest, prog="orchestrator sim-gateway")
