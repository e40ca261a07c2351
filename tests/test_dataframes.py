"""Typed pages and pagers become pandas and polars DataFrames with the models' types."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import date, datetime

import pandas as pd
import polars as pl
import pytest

from kiwoom_async import Kiwoom, KiwoomError, KiwoomValidationError
from kiwoom_async._kst import KST
from kiwoom_async.dataframes import MissingExtraError, table, to_pandas
from kiwoom_async.models import RESPONSE_MODELS
from kiwoom_async.testing import Simulator

AccountEvaluationBalance = RESPONSE_MODELS["kt00018"]  # kt00018 계좌평가잔고내역요청


@pytest.fixture
async def kw() -> AsyncIterator[Kiwoom]:
    async with (
        Simulator(pages=3) as sim,
        Kiwoom("k", "s", base_url=sim.base_url, requests_per_second=None) as client,
    ):
        yield client


async def test_a_chart_pager_is_one_pandas_frame_of_every_page(kw: Kiwoom) -> None:
    frame = await kw.chart.daily("005930", base_dt="20250908", upd_stkpc_tp="1").to_pandas()

    assert len(frame) == 6  # three pages of two candles
    assert str(frame["cur_prc"].dtype) == "Int64"
    assert str(frame["trde_qty"].dtype) == "Int64"
    assert str(frame["trde_tern_rt"].dtype) == "Float64"
    assert pd.api.types.is_datetime64_any_dtype(frame["dt"])
    assert frame["dt"].iloc[0] == pd.Timestamp("2025-09-08")
    assert frame["dt"].iloc[-1] == pd.Timestamp("2025-09-03")
    assert frame["cur_prc"].iloc[0] == 70100
    assert frame["pred_pre"].iloc[1] == -600  # a change keeps its sign
    assert "raw" not in frame.columns and "return_code" not in frame.columns


async def test_a_chart_pager_is_one_polars_frame_with_dates_as_dates(kw: Kiwoom) -> None:
    frame = await kw.chart.daily("005930", base_dt="20250908", upd_stkpc_tp="1").to_polars()

    assert frame.height == 6
    assert frame.schema["cur_prc"] == pl.Int64
    assert frame.schema["trde_tern_rt"] == pl.Float64
    assert frame.schema["dt"] == pl.Date
    assert frame["dt"].to_list()[:2] == [date(2025, 9, 8), date(2025, 9, 7)]
    assert frame["pred_pre_sig"].dtype == pl.String


async def test_minute_times_are_kst_datetimes(kw: Kiwoom) -> None:
    (page,) = await kw.chart.minutes("005930", tic_scope="1", upd_stkpc_tp="1", max_pages=1)

    polars_frame = page.to_polars()
    assert polars_frame.schema["cntr_tm"] == pl.Datetime("us", time_zone="Asia/Seoul")
    first = page.stk_min_pole_chart_qry[0].cntr_tm
    expected = datetime.strptime(first, "%Y%m%d%H%M%S").replace(tzinfo=KST)
    assert polars_frame["cntr_tm"][0] == expected
    pandas_frame = page.to_pandas()
    assert pandas_frame["cntr_tm"].iloc[0] == pd.Timestamp(expected)


async def test_a_page_without_a_list_block_is_one_row(kw: Kiwoom) -> None:
    book = await kw.quote.orderbook("005930")

    frame = book.to_polars()
    assert frame.height == 1
    assert frame["sel_fpr_bid"][0] == book.sel_fpr_bid
    assert frame.schema["sel_fpr_bid"] == pl.Int64


def test_missing_values_stay_missing_and_odd_dates_stay_text() -> None:
    page = AccountEvaluationBalance.from_raw(
        {
            "acnt_evlt_remn_indv_tot": [
                {"stk_cd": "A005930", "rmnd_qty": "000000000010", "crd_loan_dt": "20250102"},
                {"stk_cd": "A000660", "rmnd_qty": "", "crd_loan_dt": ""},
            ]
        }
    )
    data = table(page)
    assert data.columns["stk_cd"] == ["005930", "000660"]
    assert data.columns["rmnd_qty"] == [10, None]
    assert data.kinds["crd_loan_dt"] == "date"
    assert data.columns["crd_loan_dt"] == [date(2025, 1, 2), None]
    frame = to_pandas(page)
    assert frame["rmnd_qty"].isna().tolist() == [False, True]

    odd = AccountEvaluationBalance.from_raw(
        {"acnt_evlt_remn_indv_tot": [{"crd_loan_dt": "20251399"}, {"crd_loan_dt": "2025"}]}
    )
    assert table(odd).kinds["crd_loan_dt"] == "text"
    assert table(odd).columns["crd_loan_dt"] == ["20251399", "2025"]


def test_an_unknown_list_block_is_refused_by_name() -> None:
    page = AccountEvaluationBalance.from_raw({})
    with pytest.raises(KiwoomValidationError, match="acnt_evlt_remn_indv_tot"):
        table(page, rows="nope")


@pytest.mark.parametrize(("module", "method"), [("pandas", "to_pandas"), ("polars", "to_polars")])
def test_without_the_extra_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, module: str, method: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    page = AccountEvaluationBalance.from_raw({})
    with pytest.raises(MissingExtraError) as caught:
        getattr(page, method)()
    assert isinstance(caught.value, KiwoomError)
    assert f"kiwoom-async[{module}]" in str(caught.value)


async def test_no_rows_still_gives_typed_columns(kw: Kiwoom) -> None:
    frame = await kw.account.open_orders().to_polars()  # no order placed: an empty list
    assert frame.height == 0
    assert frame.schema["ord_no"] == pl.String and frame.schema["ord_qty"] == pl.Int64

    no_pages = to_pandas([], model=AccountEvaluationBalance)
    assert len(no_pages) == 0 and str(no_pages["rmnd_qty"].dtype) == "Int64"
