"""The pytest plugin: a user's own bot tests get a simulator and a connected client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import seconds

USER_TESTS = """
import pytest


async def test_the_client_reaches_the_simulator(kiwoom_client, kiwoom_sim):
    book = await kiwoom_client.quote.orderbook("005930")
    assert book.sel_fpr_bid > 0
    assert kiwoom_sim.stats.requests_by_api_id["ka10004"] == 1


@pytest.mark.kiwoom_sim(pages=2)
async def test_the_marker_sets_simulator_knobs(kiwoom_client):
    pages = await kiwoom_client.chart.daily("005930", base_dt="20250908", upd_stkpc_tp="1")
    assert len(pages) == 2


@pytest.mark.kiwoom_client(requests_per_second=7.0)
async def test_the_marker_sets_client_options(kiwoom_client):
    assert kiwoom_client.rest.rate_limits.per_key == 7.0


async def test_the_simulator_sees_the_bots_orders(kiwoom_client, kiwoom_sim):
    ack = await kiwoom_client.order.buy("005930", qty=1, price=None, trde_tp="3")
    assert [order.ord_no for order in kiwoom_sim.orders] == [ack.ord_no]


async def test_each_test_gets_a_fresh_simulator(kiwoom_sim):
    assert not kiwoom_sim.orders
    assert kiwoom_sim.orders, "fails on purpose: the fixtures are real"
"""

OVERRIDE = """
import pytest


@pytest.fixture
def kiwoom_sim_options():
    return {"pages": 3}


async def test_an_overridden_options_fixture_applies(kiwoom_client):
    pages = await kiwoom_client.chart.daily("005930", base_dt="20250908", upd_stkpc_tp="1")
    assert len(pages) == 3
"""


def test_the_plugin_is_loaded_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("kiwoom_async")
    assert plugin is not None and plugin.__name__ == "kiwoom_async.pytest_plugin"


def test_a_users_suite_runs_against_the_simulator(tmp_path: Path) -> None:
    (tmp_path / "test_bot.py").write_text(USER_TESTS, encoding="utf-8")
    (tmp_path / "test_override.py").write_text(OVERRIDE, encoding="utf-8")
    options = ("-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=seconds(60),
        check=False,
    )
    assert "1 failed, 5 passed" in done.stdout, done.stdout + done.stderr
    assert "fails on purpose" in done.stdout
