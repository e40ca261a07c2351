"""The ``kiwoom-async`` commands, each run against the built-in simulator.

Most run in-process (the simulator on port 0 in the test's loop, output captured); the
console entry, ``--version`` and Ctrl-C on ``stream`` run as a real subprocess.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import sys
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

import kiwoom_async
from kiwoom_async.cli import build_parser, main, run
from kiwoom_async.testing import Simulator
from tests.conftest import ROOT, seconds

SECRET = "s3cret-never-printed"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return self.out.splitlines()


class CLI:
    """Runs one command against the simulator and checks that no secret was printed."""

    def __init__(self, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
        self.sim = sim
        self.capsys = capsys

    async def __call__(self, *argv: str, base_url: str | None = None) -> Result:
        args = build_parser().parse_args(
            [*argv, "--base-url", base_url or self.sim.base_url, "--requests-per-second", "0"]
        )
        code = await run(args)
        captured = self.capsys.readouterr()
        assert SECRET not in captured.out + captured.err
        return Result(code, captured.out, captured.err)


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    for name in ("KIWOOM_ENV", "KIWOOM_APPKEY", "KIWOOM_SECRETKEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KIWOOM_APPKEY_MOCK", "cli-appkey")
    monkeypatch.setenv("KIWOOM_SECRETKEY_MOCK", SECRET)
    async with Simulator(pages=10, seed=1, tick_interval=0.02) as server:
        yield server


@pytest.fixture
def cli(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> CLI:
    return CLI(sim, capsys)


# --- entry points -------------------------------------------------------------------------


def test_the_console_script_is_the_cli_main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    module, _, attr = project["scripts"]["kiwoom-async"].partition(":")
    __import__(module)
    assert getattr(sys.modules[module], attr) is main


def test_version_from_python_dash_m() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "kiwoom_async", "--version"],
        capture_output=True,
        text=True,
        timeout=seconds(30),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"kiwoom-async {kiwoom_async.__version__}"


def test_options_before_and_after_the_command_both_count() -> None:
    before = build_parser().parse_args(["--env", "real", "orders"])
    after = build_parser().parse_args(["orders", "--env", "real"])
    neither = build_parser().parse_args(["orders"])
    assert before.env == after.env == "real"
    assert neither.env is None


# --- data commands ------------------------------------------------------------------------


async def test_quote_prints_the_best_prices_of_each_code(cli: CLI) -> None:
    shown = await cli("quote", "005930", "000660")
    assert shown.code == 0
    header, first, second = shown.lines()
    assert "ask" in header and "bid" in header
    assert first.startswith("005930") and second.startswith("000660")

    data = json.loads((await cli("quote", "005930", "000660", "--json")).out)
    assert [book["code"] for book in data] == ["005930", "000660"]
    for book in data:
        assert book["sel_fpr_bid"] > book["buy_fpr_bid"] > 0
        assert isinstance(book["sel_fpr_req"], int)
        assert "raw" not in book


async def test_quote_depth_shows_every_level(cli: CLI) -> None:
    shown = await cli("quote", "005930", "--depth", "3")
    levels = [line.split()[0] for line in shown.lines()[2:]]
    assert levels == ["1", "2", "3"]


async def test_chart_walks_pages_until_the_from_date_and_keeps_the_range(
    cli: CLI, sim: Simulator
) -> None:
    shown = await cli("chart", "005930", "--from", "20250904", "--to", "2025-09-08")
    assert shown.code == 0
    header, *rows = shown.lines()
    assert header.split(",")[:5] == ["cur_prc", "cur_prc_dir", "trde_qty", "trde_prica", "dt"]
    dates = [row.split(",")[4] for row in rows]
    assert dates == ["2025-09-08", "2025-09-07", "2025-09-06", "2025-09-05", "2025-09-04"]
    # Two candles a page, newest first: the third page reaches back past --from, so the walk
    # stops there although the server has ten.
    assert sim.stats.requests_by_api_id["ka10081"] == 3
    assert "page 3, 5 rows, back to 2025-09-03" in shown.err


async def test_chart_writes_parquet_with_typed_columns(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "candles.parquet"
    shown = await cli(
        "chart", "005930", "--from", "20250906", "--to", "20250908", "--out", str(out)
    )
    assert shown.code == 0 and f"wrote 3 rows to {out}" in shown.err
    frame = pl.read_parquet(out)
    assert frame.height == 3
    assert frame.schema["dt"] == pl.Date and frame.schema["cur_prc"] == pl.Int64


async def test_chart_json_and_bad_dates(cli: CLI) -> None:
    shown = await cli("chart", "005930", "--from", "20250907", "--to", "20250908", "--json")
    records = json.loads(shown.out)
    assert [r["dt"] for r in records] == ["2025-09-08", "2025-09-07"]
    assert isinstance(records[0]["cur_prc"], int)

    refused = await cli("chart", "005930", "--from", "20250910", "--to", "20250908")
    assert refused.code == 2 and "after --to" in refused.err
    refused = await cli("chart", "005930", "--from", "2025-13-01")
    assert refused.code == 2 and "YYYYMMDD" in refused.err


async def test_call_any_tr_and_follow_pages(cli: CLI) -> None:
    one = await cli("call", "ka10001", '{"stk_cd": "005930"}')
    assert one.code == 0 and json.loads(one.out)["stk_nm"]

    body = '{"stk_cd": "005930", "base_dt": "20250908", "upd_stkpc_tp": "1"}'
    pages = await cli("call", "ka10081", body, "--max-pages", "2", "--json")
    first, second = (json.loads(line) for line in pages.lines())
    assert first["cont_yn"] and first["next_key"]
    assert first["body"]["stk_dt_pole_chart_qry"][0]["dt"] == "20250908"
    assert second["body"]["stk_dt_pole_chart_qry"][0]["dt"] == "20250906"

    resumed = await cli("call", "ka10081", body, "--next-key", second["next_key"])
    assert json.loads(resumed.out)["stk_dt_pole_chart_qry"][0]["dt"] == "20250904"
    assert "more pages: --next-key" in resumed.err


async def test_call_refuses_bad_input_before_sending(cli: CLI, sim: Simulator) -> None:
    assert (await cli("call", "ka99999")).code == 2
    not_json = await cli("call", "ka10001", "{stk_cd: 1}")
    assert not_json.code == 2 and "not JSON" in not_json.err
    not_object = await cli("call", "ka10001", "[1]")
    assert not_object.code == 2 and "JSON object" in not_object.err
    paged_order = await cli("call", "kt10000", "{}", "--all")
    assert paged_order.code == 2 and "never paginated" in paged_order.err
    assert not sim.stats.requests_by_api_id


async def test_buy_then_orders_and_balance(cli: CLI, sim: Simulator) -> None:
    placed = await cli("buy", "005930", "10", "--price", "60000", "--json")
    ack = json.loads(placed.out)
    assert ack["ord_no"] and ack["api_id"] == "kt10000"

    listed = await cli("orders", "--json")
    (order,) = json.loads(listed.out)
    assert order["ord_no"] == ack["ord_no"]
    assert (order["stk_cd"], order["ord_qty"], order["ord_pric"]) == ("005930", 10, 60000)
    table = (await cli("orders")).out
    assert ack["ord_no"] in table and "60,000" in table

    cancelled = await cli("cancel", ack["ord_no"], "005930")
    assert cancelled.code == 0
    assert json.loads((await cli("orders", "--json")).out) == []

    balance = json.loads((await cli("balance", "--json")).out)
    assert isinstance(balance["totals"]["prsm_dpst_aset_amt"], int)
    assert "estimated assets" in (await cli("balance")).out


async def test_real_money_needs_the_flag_and_a_confirmation(
    cli: CLI, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIWOOM_APPKEY", "real-appkey")
    monkeypatch.setenv("KIWOOM_SECRETKEY", SECRET)
    refused = await cli("--env", "real", "buy", "005930", "1")
    assert refused.code == 2 and "--allow-real-orders" in refused.err

    monkeypatch.setattr(sys, "stdin", io.StringIO("no\n"))
    declined = await cli("--env", "real", "buy", "005930", "1", "--allow-real-orders")
    assert declined.code == 2 and "REAL account" in declined.err
    assert "nothing was sent" in declined.err
    assert not sim.orders

    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    sent = await cli("--env", "real", "buy", "005930", "1", "--allow-real-orders")
    assert sent.code == 0 and len(sim.orders) == 1

    scripted = await cli("call", "kt10000", "{}", "--env", "real", "--allow-real-orders", "--yes")
    assert scripted.code == 1  # confirmed, then refused by the library's own order checks
    assert "kt10000" in scripted.err


async def test_doctor_reports_every_check(cli: CLI) -> None:
    shown = await cli("doctor")
    assert shown.code == 0
    names = [line.split()[0] for line in shown.lines()[1:]]
    assert names == ["environment", "keys", "host", "clock", "token"]
    assert "KIWOOM_APPKEY_MOCK" in shown.out and "cli-appkey" not in shown.out

    report = json.loads((await cli("doctor", "--json")).out)
    assert report["ok"] is True and report["env"] == "mock"


async def test_doctor_names_what_is_missing(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIWOOM_SECRETKEY_MOCK")
    report = json.loads((await cli("doctor", "--json")).out)
    checks = {check["name"]: check for check in report["checks"]}
    assert report["ok"] is False
    assert not checks["keys"]["ok"] and "KIWOOM_SECRETKEY_MOCK" in checks["keys"]["detail"]
    assert not checks["token"]["ok"]

    down = json.loads((await cli("doctor", "--json", base_url="http://127.0.0.1:9")).out)
    assert {c["name"]: c["ok"] for c in down["checks"]}["host"] is False


async def test_stream_prints_events_as_json_lines(cli: CLI) -> None:
    shown = await cli("stream", "005930", "--types", "0B,0D", "--count", "4", "--json")
    assert shown.code == 0
    events = [json.loads(line) for line in shown.lines()]
    assert len(events) == 4
    assert {e["type"] for e in events} <= {"0B", "0D"} and {e["item"] for e in events} == {"005930"}
    assert "connected" in shown.err


async def test_stream_needs_codes_for_market_types(cli: CLI) -> None:
    shown = await cli("stream", "--types", "0B")
    assert shown.code == 2 and "need stock codes" in shown.err


async def test_stream_ends_cleanly_on_ctrl_c(sim: Simulator) -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "kiwoom_async", "stream", "005930", "--types", "0B"),
        *("--base-url", sim.base_url, "--requests-per-second", "0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(seconds(20)):
            first = await process.stdout.readline()
        assert first.startswith(b"0B 005930 ")
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(seconds(20)):
            _, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err
    assert b"Traceback" not in err and b"stopped" in err


async def test_the_demo_reads_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    from kiwoom_async import demo

    await demo.run(quick=True)
    out = capsys.readouterr().out
    assert "best ask (매도호가)" in out and "best bid (매수호가)" in out
    assert re.search(r"0000001: filled \(체결\), 10 shares @ [\d,]+ KRW", out)
    assert "0 @ -" not in out and "@ -" not in out
    assert not re.search(r"\b\d{8}\b", out), "dates are shown as YYYY-MM-DD"
    assert not re.search(r"-[\d,]+ shares", out), "a trade's size is never negative"
    assert re.search(r"\d+ shares @ [\d,]+ KRW .*(buyer|seller)-initiated", out)
