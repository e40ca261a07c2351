"""Typed TR models against the fact base: every official example decodes and round-trips,
numbers follow the numeric conventions, bad requests are refused before sending."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from kiwoom_async.errors import KiwoomValidationError, UnknownTRError
from kiwoom_async.models import StockBuyOrderRequest
from kiwoom_async.models._convert import (
    FieldRule,
    ResponseDecodeError,
    TRRequest,
    TRResponse,
    unknown_keys,
)
from kiwoom_async.models.tr import REQUEST_MODELS, RESPONSE_MODELS, build_request, decode_response
from kiwoom_async.registry import REGISTRY

from .conftest import SPEC_PATH


def load_trs() -> dict[str, dict[str, Any]]:
    # Parametrisation needs the fact base at collection time, before fixtures exist.
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return {
        api_id: {**tr, "section": name}
        for name, section in spec["sections"].items()
        for api_id, tr in section["trs"].items()
    }


TRS = load_trs()
IDS = sorted(TRS)


def example(api_id: str) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(TRS[api_id]["example_response"])
    return data


# --- coverage -----------------------------------------------------------------------------


def test_fact_base_is_present_and_every_tr_has_both_models() -> None:
    assert SPEC_PATH.exists(), f"fact base not found at {SPEC_PATH}"
    assert len(TRS) == 304
    assert set(REQUEST_MODELS) == set(TRS) == set(RESPONSE_MODELS)
    names = [m.__name__ for m in (*REQUEST_MODELS.values(), *RESPONSE_MODELS.values())]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("api_id", IDS)
def test_models_carry_their_api_id_and_live_in_their_section_module(api_id: str) -> None:
    request, response = REQUEST_MODELS[api_id], RESPONSE_MODELS[api_id]
    assert request.api_id == response.api_id == api_id
    assert request.__name__ == f"{response.__name__}Request"
    module = f"kiwoom_async._generated.models.{REGISTRY[api_id].group}"
    assert request.__module__ == response.__module__ == module
    assert response.__name__ == REGISTRY[api_id].model_name
    assert api_id in (response.__doc__ or "") and TRS[api_id]["name_ko"] in (response.__doc__ or "")


# --- responses ----------------------------------------------------------------------------


@pytest.mark.parametrize("api_id", IDS)
def test_every_official_example_response_decodes(api_id: str) -> None:
    body = example(api_id)
    model = decode_response(api_id, json.dumps(body, ensure_ascii=False).encode())
    assert isinstance(model, RESPONSE_MODELS[api_id])
    assert model.return_code == 0
    assert model.raw == body
    for key in TRS[api_id]["response"]["lists"]:
        # Rows under the table's key, or under the other spelling the example uses.
        spellings = [
            k for k, known in type(model).row_keys.items() if known is type(model).row_keys[key]
        ]
        sent: list[Any] = next((body[k] for k in spellings if body.get(k)), [])
        assert len(getattr(model, key)) == len(sent)
    # Every key the official example carries is a typed attribute.
    assert unknown_keys(type(model), body) == []
    # The three body forms decode to the same model.
    assert decode_response(api_id, json.dumps(body)) == model
    assert decode_response(api_id, body) == model


@pytest.mark.parametrize("api_id", IDS)
def test_a_body_with_only_the_envelope_decodes_to_empty_fields(api_id: str) -> None:
    model = decode_response(api_id, {"return_code": 0, "return_msg": "ok", "unknown_key": "1"})
    for f in TRS[api_id]["response"]["scalars"]:
        name = f["name"] if f["name"].isidentifier() else None
        if name is not None:
            assert getattr(model, name) in ("", None)
    for key in TRS[api_id]["response"]["lists"]:
        assert getattr(model, key) == []


def test_order_book_prices_split_value_and_direction() -> None:
    from_example = decode_response("ka10004", example("ka10004"))
    assert from_example.sel_fpr_bid == 0
    assert from_example.sel_fpr_bid_dir == 0
    assert from_example.bid_req_base_tm == "162000"

    body = example("ka10004") | {
        "sel_fpr_bid": "-60000",
        "buy_fpr_bid": "+60700",
        "sel_fpr_req": "",
        "tot_sel_req_jub_pre": "-120",
    }
    book = decode_response("ka10004", body)
    assert (book.sel_fpr_bid, book.sel_fpr_bid_dir) == (60000, -1)
    assert (book.buy_fpr_bid, book.buy_fpr_bid_dir) == (60700, 1)
    assert book.sel_fpr_req is None  # empty string is a missing value
    assert book.tot_sel_req_jub_pre == -120  # a change keeps its true sign


def test_daily_prices_read_doubled_markers_and_signed_rates() -> None:
    row = decode_response("ka10086", example("ka10086")).daly_stkpc[0]
    assert row.date == "20241125"
    assert row.ind == -714  # "--714"
    assert row.for_qty == -266783  # "--266783"
    assert row.orgn == 693  # "+693"
    assert row.flu_rt == pytest.approx(-29.31)
    assert row.pred_rt == -22800  # a change vs the previous close: truly signed
    assert (row.close_pric, row.close_pric_dir) == (55000, -1)  # "-55000"
    assert (row.high_pric, row.high_pric_dir) == (101100, 1)  # "+101100"
    assert row.trde_qty == 20278


def test_account_balance_reads_zero_padded_amounts_and_strips_the_code_prefix() -> None:
    balance = decode_response("kt00018", example("kt00018"))
    assert balance.tot_pur_amt == 17598258  # "000000017598258"
    assert balance.prsm_dpst_aset_amt == 1012632507
    assert balance.tot_loan_amt == 0
    assert balance.tot_prft_rt == pytest.approx(46.25)
    holding = balance.acnt_evlt_remn_indv_tot[0]
    assert holding.stk_cd == "005930"  # "A005930"
    assert holding.evltv_prft == -196888  # "-00000000196888"
    assert holding.rmnd_qty == 3
    assert (holding.cur_prc, holding.cur_prc_dir) == (59000, 0)
    assert holding.crd_tp == "00"  # codes stay strings


def test_sector_chart_reads_index_times_100() -> None:
    chart_ = decode_response("ka20006", example("ka20006"))
    candle = chart_.inds_dt_pole_qry[0]
    assert candle.cur_prc == pytest.approx(2521.27)  # "252127"
    assert candle.low_pric == pytest.approx(2499.18)
    assert candle.trde_qty == 393564
    assert candle.dt == "20250210"
    assert chart_.inds_cd == "001"


def test_realized_pnl_strips_a_prefixed_codes_and_keeps_decimal_prices() -> None:
    row = decode_response("ka10072", example("ka10072")).dt_stk_div_rlzt_pl[0]
    assert row.stk_cd == row.stk_cd_1 == "005930"
    assert row.buy_uv == pytest.approx(97602.96)
    assert row.pl_rt == pytest.approx(61.28)


def test_fields_only_the_official_examples_carry_are_typed() -> None:
    # The server sends what its examples show, not only what the table lists.
    assert decode_response("ka10005", example("ka10005")).stk_ddwkmm[0].cntr_str == 0.0
    row = decode_response("ka10044", example("ka10044")).daly_orgn_trde_stk[0]
    assert (row.cur_prc, row.cur_prc_dir, row.pre_rt) == (95100, -1, -32.07)
    assert (row.avg_pric_pre, row.prsm_avg_pric) == (-44900, 140000)
    minute = decode_response("ka10080", example("ka10080")).stk_min_pole_chart_qry[0]
    assert minute.acc_trde_qty == 14947571
    assert decode_response("kt00015", example("kt00015")).acnt_no == "6081-2***-11 [김키움]"
    assert decode_response("ka10088", example("ka10088")).osop[0].acnt_no == "1234567890"


def test_a_list_under_the_examples_spelling_is_decoded_into_the_typed_attribute() -> None:
    body = example("ka20005")
    assert "inds_min_pole_qry" not in body and body["inds_dt_pole_qry"]
    model = decode_response("ka20005", body)
    assert len(model.inds_min_pole_qry) == len(body["inds_dt_pole_qry"])
    assert model.inds_min_pole_qry[0].cur_prc == pytest.approx(2521.27)
    # The table's own spelling still works, and wins when both are sent.
    rows = body.pop("inds_dt_pole_qry")
    assert len(decode_response("ka20005", {**body, "inds_min_pole_qry": rows}).inds_min_pole_qry)
    both = {**body, "inds_min_pole_qry": rows[:1], "inds_dt_pole_qry": rows}
    assert len(decode_response("ka20005", both).inds_min_pole_qry) == 1


INDEX_CHARTS = ["ka20004", "ka20005", "ka20006", "ka20007", "ka20008", "ka20019"]


@pytest.mark.parametrize("api_id", INDEX_CHARTS)
def test_index_prices_are_magnitudes_with_a_direction_and_changes_stay_signed(
    api_id: str,
) -> None:
    model_type = RESPONSE_MODELS[api_id]
    [list_key] = TRS[api_id]["response"]["lists"]
    marked = {
        "cur_prc": "-239417",
        "open_pric": "+239000",
        "high_pric": "-240000",
        "low_pric": "238000",
    }
    body = {list_key: [{**marked, "pred_pre": "-18031"}], "return_code": 0, "return_msg": ""}
    row = getattr(decode_response(api_id, body), list_key)[0]
    assert (row.cur_prc, row.cur_prc_dir) == (pytest.approx(2394.17), -1)
    assert (row.open_pric, row.open_pric_dir) == (pytest.approx(2390.0), 1)
    assert (row.high_pric, row.high_pric_dir) == (pytest.approx(2400.0), -1)
    assert (row.low_pric, row.low_pric_dir) == (pytest.approx(2380.0), 0)
    if "pred_pre" in model_type.row_keys[list_key]:
        assert row.pred_pre is not None and row.pred_pre < 0  # a change keeps its sign


@pytest.mark.parametrize(
    ("api_id", "key", "bad"),
    [
        ("ka10086", "flu_rt", "12.3x"),
        ("ka10086", "close_pric", "N/A"),
        ("kt00018", "tot_pur_amt", "00000001759825O"),
        ("ka20006", "cur_prc", "2521.27.1"),
        ("ka10004", "sel_fpr_bid", "+-+"),
    ],
)
def test_a_malformed_number_raises_naming_the_tr_and_field(api_id: str, key: str, bad: str) -> None:
    body = example(api_id)
    lists = TRS[api_id]["response"]["lists"]
    list_key = next((k for k, fields in lists.items() if key in {f["name"] for f in fields}), None)
    if list_key is None:
        body[key] = bad
    else:
        body[list_key][0][key] = bad
    with pytest.raises(ValueError, match=rf"{api_id}: field '{key}'") as info:
        decode_response(api_id, body)
    assert isinstance(info.value, ResponseDecodeError)
    assert (info.value.api_id, info.value.field, info.value.value) == (api_id, key, bad)


def test_a_list_block_that_is_not_a_list_raises() -> None:
    body = example("ka10086") | {"daly_stkpc": "oops"}
    with pytest.raises(ResponseDecodeError, match="ka10086: field 'daly_stkpc'"):
        decode_response("ka10086", body)


def test_bodies_that_are_not_json_objects_raise() -> None:
    with pytest.raises(ResponseDecodeError, match="expected a JSON object"):
        decode_response("ka10004", b"[1, 2]")
    # Not msgspec's own error: everything the library raises is a KiwoomError.
    with pytest.raises(ResponseDecodeError, match="not JSON"):
        decode_response("ka10004", b"<html>")
    with pytest.raises(ResponseDecodeError, match="not JSON"):
        decode_response("ka10004", b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(UnknownTRError):
        decode_response("ka99999", b"{}")


def test_the_envelope_may_arrive_in_camel_case() -> None:
    model = decode_response("ka10004", {"returnCode": 5, "returnMsg": "x"})
    assert (model.return_code, model.return_msg) == (5, "x")
    assert unknown_keys(type(model), {"returnCode": 0, "returnMsg": ""}) == []


def test_return_code_may_arrive_as_a_numeric_string() -> None:
    assert decode_response("ka10004", {"return_code": "5", "return_msg": "x"}).return_code == 5


# --- requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("api_id", IDS)
def test_every_official_example_request_validates_and_round_trips(api_id: str) -> None:
    body = TRS[api_id]["example_request"]
    request = build_request(api_id, body)
    assert isinstance(request, REQUEST_MODELS[api_id])
    request.validate()
    assert request.to_body() == body
    attributes = {rule.name: rule.attribute for rule in REQUEST_MODELS[api_id].rules}
    assert REQUEST_MODELS[api_id](**{attributes[k]: v for k, v in body.items()}).to_body() == body


def request_fields(api_id: str) -> dict[str, str]:
    return dict(TRS[api_id]["example_request"])


RULE_APPLIES: dict[str, Callable[[FieldRule], bool]] = {
    "required": lambda rule: rule.required,
    "length": lambda rule: rule.max_len is not None,
    "allowed": lambda rule: rule.allowed is not None,
}


def rule_cases(kind: str) -> list[tuple[str, FieldRule]]:
    applies = RULE_APPLIES[kind]
    return [
        (api_id, rule) for api_id in IDS for rule in REQUEST_MODELS[api_id].rules if applies(rule)
    ]


def case_id(case: tuple[str, FieldRule]) -> str:
    return f"{case[0]}-{case[1].name}"


@pytest.mark.parametrize("case", rule_cases("required"), ids=case_id)
def test_a_missing_or_empty_required_field_is_refused(case: tuple[str, FieldRule]) -> None:
    api_id, rule = case
    fields = request_fields(api_id)
    with pytest.raises(KiwoomValidationError, match=rf"{api_id}: missing .*{rule.name}"):
        build_request(api_id, {k: v for k, v in fields.items() if k != rule.name})
    with pytest.raises(KiwoomValidationError, match=rf"{api_id} field '{rule.name}' is required"):
        build_request(api_id, fields | {rule.name: ""})


@pytest.mark.parametrize("case", rule_cases("length"), ids=case_id)
def test_a_too_long_value_is_refused(case: tuple[str, FieldRule]) -> None:
    api_id, rule = case
    assert rule.max_len is not None
    too_long = "1" * (rule.max_len + 1)
    with pytest.raises(KiwoomValidationError, match=rf"{api_id} field '{rule.name}'.*maximum"):
        build_request(api_id, request_fields(api_id) | {rule.name: too_long})


@pytest.mark.parametrize("case", rule_cases("allowed"), ids=case_id)
def test_a_code_outside_the_allowed_values_is_refused(case: tuple[str, FieldRule]) -> None:
    api_id, rule = case
    assert rule.allowed is not None and "Z" not in rule.allowed
    with pytest.raises(KiwoomValidationError) as info:
        build_request(api_id, request_fields(api_id) | {rule.name: "Z"})
    message = str(info.value)
    assert api_id in message and rule.name in message
    assert all(code in message for code in rule.allowed)


def test_unknown_fields_and_trs_are_refused() -> None:
    with pytest.raises(KiwoomValidationError, match="unknown field"):
        build_request("ka10004", {"stk_cd": "005930", "stk_code": "005930"})
    with pytest.raises(UnknownTRError):
        build_request("kt99999", {})


def test_quantities_and_prices_accept_ints_and_are_sent_as_strings() -> None:
    order_ = StockBuyOrderRequest(
        dmst_stex_tp="KRX", stk_cd="005930", ord_qty=10, ord_uv=70000, trde_tp="0"
    )
    assert order_.to_body() == {
        "dmst_stex_tp": "KRX",
        "stk_cd": "005930",
        "ord_qty": "10",
        "ord_uv": "70000",
        "trde_tp": "0",
        "cond_uv": "",
    }
    for bad in (-1, True, "1.5", "ten"):
        with pytest.raises(KiwoomValidationError, match="ord_qty"):
            StockBuyOrderRequest(dmst_stex_tp="KRX", stk_cd="005930", ord_qty=bad, trde_tp="3")
    with pytest.raises(KiwoomValidationError, match="expected a string"):
        StockBuyOrderRequest(dmst_stex_tp="KRX", stk_cd=5930, ord_qty=1, trde_tp="3")  # type: ignore[arg-type]


def test_open_ended_code_lists_are_not_enforced() -> None:
    # Sector codes beyond the listed ones exist (see ka10101), so any code is passed on.
    assert build_request("ka20006", {"inds_cd": "013", "base_dt": "20250905"}).to_body() == {
        "inds_cd": "013",
        "base_dt": "20250905",
    }


def test_models_are_frozen() -> None:
    request: TRRequest = build_request("ka10004", {"stk_cd": "005930"})
    response: TRResponse = decode_response("ka10004", example("ka10004"))
    with pytest.raises(AttributeError):
        request.stk_cd = "000660"  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        response.return_code = 1  # type: ignore[misc]


ALIASED = sorted(
    (api_id, key, alias)
    for api_id in IDS
    for key in TRS[api_id]["response"]["lists"]
    for alias, known in RESPONSE_MODELS[api_id].row_keys.items()
    if alias != key and known is RESPONSE_MODELS[api_id].row_keys[key]
)


def test_every_list_the_example_spells_differently_has_an_alias() -> None:
    # result_lsit (US TRs), prm_trde_trnsn (ka90003), inds_dt_pole_qry (ka20005).
    # A table list the example lacks while it sends another list instead (the fact base lists
    # ka20005's only as example_only_top).
    spelled = {
        api_id
        for api_id in IDS
        if any(k not in TRS[api_id]["example_response"] for k in TRS[api_id]["response"]["lists"])
        and any(
            isinstance(TRS[api_id]["example_response"].get(k), list)
            for k in TRS[api_id].get("spec_vs_example_mismatch", {}).get("example_only_top") or []
        )
    }
    assert spelled == {api_id for api_id, _, _ in ALIASED}
    assert len(spelled) == 13


@pytest.mark.parametrize(("api_id", "key", "alias"), ALIASED)
def test_rows_under_either_spelling_decode_into_the_tables_attribute(
    api_id: str, key: str, alias: str
) -> None:
    body = example(api_id)
    rows = body.get(alias) or body.get(key)
    assert rows, "the official example carries rows under one of the spellings"
    envelope = {"return_code": 0, "return_msg": ""}
    under_table = decode_response(api_id, {**envelope, key: rows})
    under_alias = decode_response(api_id, {**envelope, alias: rows})
    assert getattr(under_table, key) == getattr(under_alias, key)
    assert len(getattr(under_alias, key)) == len(rows)


def marked_values(model: object) -> list[tuple[str, object]]:
    """(name, value) of every attribute that has a direction marker beside it, rows included."""
    found: list[tuple[str, object]] = []
    for name in type(model).__struct_fields__:  # type: ignore[attr-defined]
        value = getattr(model, name)
        if isinstance(value, list):
            for row in value:
                if hasattr(row, "__struct_fields__"):
                    found += marked_values(row)
        elif f"{name}_dir" in type(model).__struct_fields__:  # type: ignore[attr-defined]
            found.append((name, value))
    return found


@pytest.mark.parametrize("api_id", IDS)
def test_prices_and_index_levels_are_magnitudes_in_every_example(api_id: str) -> None:
    # A leading sign on a price or an index level is a direction, never a negative value.
    model = decode_response(api_id, example(api_id))
    negative = [
        (name, v) for name, v in marked_values(model) if isinstance(v, (int, float)) and v < 0
    ]
    assert negative == []
