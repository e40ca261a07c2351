"""Shared plumbing of the benchmark scripts: server processes, timing, tables, JSON results.

Every benchmark talks to a server in another process (the simulator or the blast server in
this folder), on 127.0.0.1 only, so client and server never share an event loop or a core's
time slice in a way the figures would hide.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ROOT = HERE.parent

APPKEY = "bench-appkey-0123456789"
SECRETKEY = "bench-secretkey-9876543210"
SERVER_START_TIMEOUT = 20.0


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny counts: check that it runs")
    return p


# --- server processes ----------------------------------------------------------------------


@dataclass
class Server:
    """A server subprocess that prints ``base_url URL`` and ``ws_url URL`` once listening."""

    argv: list[str]
    base_url: str = ""
    ws_url: str = ""
    proc: subprocess.Popen[str] | None = None
    _lines: list[str] = field(default_factory=list)

    def __enter__(self) -> Server:
        env = dict(os.environ)
        # The server must find this checkout's package even when run from elsewhere.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                key, _, value = line.strip().partition(" ")
                if key == "base_url":
                    self.base_url = value.strip()
                elif key == "ws_url":
                    self.ws_url = value.strip()
                if self.base_url and self.ws_url:
                    ready.set()
            ready.set()  # EOF: the server died; __enter__ reports it

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(SERVER_START_TIMEOUT) or not (self.base_url and self.ws_url):
            self.__exit__()
            raise RuntimeError(f"server did not start: {' '.join(self.argv)}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server so far (Linux), to show when it is the cap."""
        if self.proc is None:
            return None
        return process_cpu(self.proc.pid)


def simulator(*options: str) -> Server:
    """The built-in simulator with its background traffic off, plus ``options``."""
    argv = [sys.executable, "-m", "kiwoom_async", "sim", "--port", "0"]
    argv += ["--ping-interval", "0", "--tick-interval", "0", *options]
    return Server(argv)


def blast_server(*options: str) -> Server:
    return Server([sys.executable, str(HERE / "_blast_server.py"), "--port", "0", *options])


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size now (Linux /proc; falls back to the peak from getrusage)."""
    try:
        pages = Path(f"/proc/{pid or 'self'}/statm").read_text().split()[1]
        return int(pages) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- figures and output --------------------------------------------------------------------


class Clock:
    """Wall and process CPU time of one measured stretch."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self._wall0 = 0.0
        self._cpu0 = 0.0

    def start(self) -> None:
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def ratio(ours: float, base: float) -> float:
    return ours / base if base else float("nan")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for dist in ("kiwoom-async", "aiohttp", "websockets", "msgspec"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 999.5:
            return f"{value:,.0f}"
        if abs(value) >= 99.95:
            return f"{value:.0f}"
        if abs(value) >= 9.995:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [
        title,
        "",
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
    ]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "machine": machine(), "time": time.time(), **payload}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
