"""``python -m chaos --seed S --kills N --gateway-faults M --interventions K``: a chaos run and its summary table.

Exit 0 when every invariant held, 1 on any violation (the failing episodes' folders are kept
and named), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
import time
from pathlib import Path

from .report import summary
from .runner import Run
from .tally import ACTOR_KINDS, Budget, Tally


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; always printed)")
    p.add_argument("--kills", type=int, default=20, help="orchestrator SIGKILLs, random and at step boundaries")
    p.add_argument("--gateway-faults", type=int, default=20, help="gateway faults (drops, refusals, restarts, ...)")
    p.add_argument("--discord-faults", type=int, default=None, help="Discord 503/429 storms (default: faults/20, >= 2)")
    p.add_argument("--suspends", type=int, default=None, help="SIGSTOP/SIGCONT clock jumps (default: kills/25, >= 1)")
    p.add_argument("--interventions", type=int, default=0,
                   help="the trader's interventions at the shared account (actor.*; default 0)")
    p.add_argument("--actor-kinds", default=",".join(ACTOR_KINDS), metavar="KINDS",
                   help="comma-separated actor.* kinds to draw from (default: all)")
    p.add_argument("--plans", type=int, default=6, help="plans per episode (default 6)")
    p.add_argument("--tick", type=float, default=0.04, help="seconds per price step of the market (default 0.04)")
    p.add_argument("--workdir", type=Path, default=None, help="where episodes run (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep every episode's folder, not only failing ones")
    p.add_argument("--strict", action="store_true", help="count instances of known issues as violations too")
    p.add_argument("--no-settle", action="store_true",
                   help="after the trader trades a plan's shares, let the market move on at once (the quick pass)")
    p.add_argument("--sessions", action="store_true",
                   help="every episode on the gateway's session clock (XNYS, 300x): a close, the closed period, "
                        "a maintenance window and an open with a gap (chaos/sessiontime.py)")
    p.add_argument("--quiet", action="store_true", help="only the summary")
    p.add_argument("--out", type=Path, default=None, help="also write the summary to this file")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    total = args.kills + args.gateway_faults
    kinds = tuple(k.strip() for k in args.actor_kinds.split(",") if k.strip())
    if unknown := [k for k in kinds if k not in ACTOR_KINDS]:
        p.error(f"--actor-kinds: unknown {', '.join(unknown)} (known: {', '.join(ACTOR_KINDS)})")
    budget = Budget(args.kills, args.gateway_faults,
                    args.discord_faults if args.discord_faults is not None else max(2, total // 20),
                    args.suspends if args.suspends is not None else max(1, args.kills // 25),
                    args.interventions, kinds)
    if min(budget.kills, budget.gateway_faults, budget.discord_faults, budget.suspends,
           budget.interventions) < 0 or args.plans < 1:
        p.error("counts must be >= 0 and --plans >= 1")
    command = ("python -m chaos " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
               + ("" if args.seed is not None else f" --seed {seed}"))
    print(f"chaos: seed {seed} ({command})", flush=True)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    run = Run(seed, budget, base=args.workdir, plans_per_episode=args.plans, tick=args.tick, keep=args.keep,
              strict=args.strict, settle=not args.no_settle, sessions=args.sessions, log=log)

    async def go() -> Tally:
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):   # stop cleanly: children killed, summary printed
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        return await run.run()
    tally = asyncio.run(go())
    text = summary(tally, command)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 1 if tally.violations or tally.interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
