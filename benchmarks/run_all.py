"""Run every benchmark, one subprocess each; results land in benchmarks/results/*.json.

``python benchmarks/run_all.py`` runs the full suite (several minutes);
``python benchmarks/run_all.py --smoke`` runs each script with tiny counts to check that it
runs. Smoke mode asserts nothing about speed: the exit status is non-zero only if a script
crashes or hangs past its time limit.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_decode.py",
    "bench_rest.py",
    "bench_pagination.py",
    "bench_realtime.py",
    "bench_ratelimit.py",
    "bench_memory.py",
    "bench_fleet.py",
    "bench_trading.py",
]
SMOKE_TIMEOUT = 60.0
FULL_TIMEOUT = 900.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--smoke", action="store_true", help="quick mode: check the scripts run")
    p.add_argument("--only", nargs="*", default=None, help="script names to run")
    args = p.parse_args()
    failed = []
    for script in SCRIPTS:
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        argv = [sys.executable, str(HERE / script), *(["--smoke"] if args.smoke else [])]
        print(f"== {script}", flush=True)
        start = time.perf_counter()
        try:
            code = subprocess.run(
                argv, timeout=SMOKE_TIMEOUT if args.smoke else FULL_TIMEOUT
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"{script}: timed out", flush=True)
        print(f"-- {script}: exit {code} in {time.perf_counter() - start:.1f} s\n", flush=True)
        if code != 0:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
