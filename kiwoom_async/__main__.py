"""Command line: ``python -m kiwoom_async demo`` runs the library end to end against the
built-in simulator; ``python -m kiwoom_async sim --port 8000`` serves the simulator."""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m kiwoom_async")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the demo against the embedded simulator")
    demo.add_argument("--quick", action="store_true", help="fewer ticks, for smoke tests")
    commands.add_parser("sim", help="serve the simulator (options: sim --help)", add_help=False)
    if args[:1] == ["sim"]:
        from .testing.cli import main as sim_main

        sim_main(args[1:])
        return
    parsed = parser.parse_args(args)
    if parsed.command == "demo":
        from .demo import run

        asyncio.run(run(quick=parsed.quick))


if __name__ == "__main__":
    main()
