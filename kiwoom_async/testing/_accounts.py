"""The simulator's account views: the TRs that read back what the app key's own orders and
positions did (ka10075 open orders, ka10076 fills, kt00007/kt50031 order history, kt50075
gold open orders, kt00004/kt00018 balance), built from the simulator's state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._examples import example_response
from ._market import KST, marked, normalize_code
from ._orders import TRADE_TYPE_TEXT, OrderRecord
from ._state import SimState

__all__ = ["ACCOUNT_VIEWS", "BALANCE_VIEWS", "DEPOSIT_VIEWS", "AccountViews", "envelope"]
# Deposit fields that read the account's cash, and those that read what it may still order.
_CASH_FIELDS = ("entr", "d1_entra", "d2_entra")
_ORDERABLE_FIELDS = ("ord_alow_amt", "pymn_alow_amt", "d2_pymn_alow_amt")

QUERY_OK_MSG = "조회가 완료되었습니다"
ACCOUNT_VIEWS = frozenset({"ka10075", "ka10076", "kt00007", "kt50031", "kt50075"})
BALANCE_VIEWS = frozenset({"kt00004", "kt00018"})
DEPOSIT_VIEWS = frozenset({"kt00001"})
_GOLD_VIEWS = frozenset({"kt50031", "kt50075"})
_GOLD_TRADE_TYPE_TEXT = {"00": "지정가", "10": "지정가(IOC)", "20": "지정가(FOK)"}
_EXCHANGE_CODE = {"KRX": ("1", "KRX", "N"), "NXT": ("2", "NXT", "N"), "SOR": ("0", "SOR", "Y")}
_AMEND_TEXT = {"new": "", "modify": "정정", "cancel": "취소"}


class AccountViews:
    """The account TRs of one simulator, answered from its orders and positions."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def reconciliation(
        self, appkey: str, api_id: str, body: Mapping[str, Any], page: int
    ) -> tuple[dict[str, Any], bool]:
        gold = api_id in _GOLD_VIEWS
        orders = [o for o in self.state.orders if o.appkey == appkey and o.is_gold == gold]
        if api_id == "ka10075":
            key, rows = "oso", self._open_rows(orders, body)
        elif api_id == "ka10076":
            key, rows = "cntr", self._fill_rows(orders, body)
        elif api_id == "kt50075":
            selected = self._history(orders, body, unfilled_only=True)
            key, rows = "acnt_ord_oso_prst", [_gold_open_row(order) for order in selected]
        else:
            selected = self._history(orders, body)
            key, rows = "acnt_ord_cntr_prps_dtl", [_detail_row(order) for order in selected]
        size = max(1, self.state.config.recon_page_size)
        chunk = rows[page * size : (page + 1) * size]
        more = (page + 1) * size < len(rows)
        return envelope({key: chunk}, QUERY_OK_MSG), more

    def _open_rows(
        self, orders: list[OrderRecord], body: Mapping[str, Any]
    ) -> list[dict[str, str]]:
        """ka10075 (미체결): orders with quantity still working, newest first."""
        only = (
            normalize_code(str(body.get("stk_cd") or "")) if body.get("all_stk_tp") == "1" else ""
        )
        side = _side_filter(str(body.get("trde_tp") or "0"))
        stex = str(body.get("stex_tp") or "0")
        account = self.state.account_no(orders[0].appkey) if orders else ""
        rows: list[dict[str, str]] = []
        for order in reversed(orders):
            if order.status != "open" or order.remaining_qty <= 0:
                continue
            if not _selected(order, only, side, stex):
                continue
            tick = self.state.market.snapshot(order.stk_cd)
            ref = tick.prev_close
            rows.append(
                {
                    "acnt_no": account,
                    "ord_no": order.ord_no,
                    "mang_empno": "",
                    "stk_cd": order.stk_cd,
                    "tsk_tp": "",
                    "ord_stt": "접수" if order.action == "new" else "확인",
                    "stk_nm": order.stk_nm,
                    "ord_qty": str(order.qty),
                    "ord_pric": str(order.price),
                    "oso_qty": str(order.remaining_qty),
                    "cntr_tot_amt": str(order.fill_amount),
                    "orig_ord_no": order.orig_ord_no or "0000000",
                    "io_tp_nm": _io_name(order, signed_side=True),
                    "trde_tp": TRADE_TYPE_TEXT.get(order.trde_tp, "보통"),
                    "tm": order.ord_time,
                    "cntr_no": "",
                    "cntr_pric": str(order.fill_price),
                    "cntr_qty": str(order.filled_qty),
                    "cur_prc": marked(tick.price, ref),
                    "sel_bid": marked(tick.best_ask, ref),
                    "buy_bid": marked(tick.best_bid, ref),
                    "unit_cntr_pric": str(order.last_fill_price) if order.filled_qty else "",
                    "unit_cntr_qty": str(order.last_fill_qty) if order.filled_qty else "",
                    "tdy_trde_cmsn": "0",
                    "tdy_trde_tax": "0",
                    "ind_invsr": "",
                }
                | _exchange_fields(order)
            )
        return rows

    @staticmethod
    def _fill_rows(orders: list[OrderRecord], body: Mapping[str, Any]) -> list[dict[str, str]]:
        """ka10076 (체결): orders with at least one execution, newest first."""
        only = normalize_code(str(body.get("stk_cd") or "")) if body.get("qry_tp") == "1" else ""
        side = _side_filter(str(body.get("sell_tp") or "0"))
        stex = str(body.get("stex_tp") or "0")
        anchor = str(body.get("ord_no") or "").strip()
        rows: list[dict[str, str]] = []
        for order in reversed(orders):
            if order.filled_qty <= 0:
                continue
            if not _selected(order, only, side, stex):
                continue
            if anchor.isdigit() and int(order.ord_no) >= int(anchor):
                continue
            rows.append(
                {
                    "ord_no": order.ord_no,
                    "stk_nm": order.stk_nm,
                    "io_tp_nm": _io_name(order, signed_side=True),
                    "ord_pric": str(order.price),
                    "ord_qty": str(order.qty),
                    "cntr_pric": str(order.fill_price),
                    "cntr_qty": str(order.filled_qty),
                    "oso_qty": str(order.remaining_qty),
                    "tdy_trde_cmsn": "0",
                    "tdy_trde_tax": "0",
                    "ord_stt": "체결",
                    "trde_tp": TRADE_TYPE_TEXT.get(order.trde_tp, "보통"),
                    "orig_ord_no": order.orig_ord_no or "0000000",
                    "ord_tm": order.ord_time,
                    "stk_cd": order.stk_cd,
                }
                | _exchange_fields(order)
            )
        return rows

    @staticmethod
    def _history(
        orders: list[OrderRecord], body: Mapping[str, Any], *, unfilled_only: bool = False
    ) -> list[OrderRecord]:
        """The orders an order-history query selects, in the order it asks for.

        kt00007, kt50031 and kt50075 share these request fields (kt50075 lists unfilled orders
        only and has no qry_tp 3/4)."""
        qry_tp = str(body.get("qry_tp") or "1")
        side = _side_filter(str(body.get("sell_tp") or "0"))
        only = normalize_code(str(body.get("stk_cd") or ""))
        start = str(body.get("fr_ord_no") or "").strip()
        stex = str(body.get("dmst_stex_tp") or "%")
        # kt50075 lists the orders still working, whatever day they were placed.
        day = "" if unfilled_only else str(body.get("ord_dt") or "").strip()
        unfilled = unfilled_only or qry_tp == "3"
        selected: list[OrderRecord] = []
        for order in orders:
            if (only and order.stk_cd != only) or (side and order.side != side):
                continue
            if day and _kst_date(order.received_at) != day:
                continue
            if start.isdigit() and int(order.ord_no) < int(start):
                continue
            if stex not in ("%", "") and order.dmst_stex_tp != stex:
                continue
            if unfilled and not (order.status == "open" and order.remaining_qty > 0):
                continue
            if qry_tp == "4" and order.filled_qty <= 0:
                continue
            selected.append(order)
        if qry_tp == "2":
            selected.reverse()
        return selected

    def fill_cash(self, payload: dict[str, Any], appkey: str, *, width: int) -> None:
        """Write the account's cash and what open buys leave of it into the deposit fields of
        ``payload`` (kt00001 예수금상세, kt00004); the others keep the example's values."""
        if self.state.config.cash is None:
            return
        desk = self.state.desk
        for name, amount in (
            *((f, desk.cash(appkey)) for f in _CASH_FIELDS),
            *((f, desk.orderable(appkey)) for f in _ORDERABLE_FIELDS),
        ):
            if name in payload:
                payload[name] = f"{amount:0{width}d}"

    def balance(self, appkey: str, api_id: str) -> dict[str, Any]:
        """kt00004/kt00018 with the account's positions; totals that the simulator does not
        model (deposits, loans) keep the example's values."""
        payload = example_response(api_id) or {}
        market = self.state.market
        rows: list[dict[str, str]] = []
        tot_pur = tot_evlt = 0
        for code, position in sorted(self.state.positions(appkey).items()):
            tick = market.snapshot(code)
            evlt = position.qty * tick.price
            profit = evlt - position.pur_amt
            rate = profit / position.pur_amt * 100 if position.pur_amt else 0.0
            tot_pur += position.pur_amt
            tot_evlt += evlt
            if api_id == "kt00018":
                rows.append(
                    {
                        "stk_cd": f"A{code}",
                        "stk_nm": position.stk_nm,
                        "evltv_prft": f"{profit:015d}",
                        "prft_rt": f"{rate:.2f}",
                        "pur_pric": f"{position.avg_price:015d}",
                        "pred_close_pric": f"{tick.prev_close:012d}",
                        "rmnd_qty": f"{position.qty:015d}",
                        "trde_able_qty": f"{position.qty:015d}",
                        "cur_prc": f"{tick.price:012d}",
                        "pred_buyq": f"{0:015d}",
                        "pred_sellq": f"{0:015d}",
                        "tdy_buyq": f"{position.tdy_buy_qty:015d}",
                        "tdy_sellq": f"{position.tdy_sell_qty:015d}",
                        "pur_amt": f"{position.pur_amt:015d}",
                        "pur_cmsn": f"{0:015d}",
                        "evlt_amt": f"{evlt:015d}",
                        "sell_cmsn": f"{0:015d}",
                        "tax": f"{0:015d}",
                        "sum_cmsn": f"{0:015d}",
                        "poss_rt": "0.00",
                        "crd_tp": "00",
                        "crd_tp_nm": "",
                        "crd_loan_dt": "",
                    }
                )
            else:
                rows.append(
                    {
                        "stk_cd": f"A{code}",
                        "stk_nm": position.stk_nm,
                        "rmnd_qty": f"{position.qty:012d}",
                        "avg_prc": f"{position.avg_price:012d}",
                        "cur_prc": f"{tick.price:012d}",
                        "evlt_amt": f"{evlt:012d}",
                        "pl_amt": f"{profit:012d}",
                        "pl_rt": f"{rate:.4f}",
                        "loan_dt": "",
                        "pur_amt": f"{position.pur_amt:012d}",
                        "setl_remn": f"{position.qty:012d}",
                        "pred_buyq": f"{0:012d}",
                        "pred_sellq": f"{0:012d}",
                        "tdy_buyq": f"{position.tdy_buy_qty:012d}",
                        "tdy_sellq": f"{position.tdy_sell_qty:012d}",
                    }
                )
        if api_id == "kt00018":
            payload["acnt_evlt_remn_indv_tot"] = rows
            payload["tot_pur_amt"] = f"{tot_pur:015d}"
            payload["tot_evlt_amt"] = f"{tot_evlt:015d}"
            payload["tot_evlt_pl"] = f"{tot_evlt - tot_pur:015d}"
            rate = (tot_evlt - tot_pur) / tot_pur * 100 if tot_pur else 0.0
            payload["tot_prft_rt"] = f"{rate:.2f}"
        else:
            payload["stk_acnt_evlt_prst"] = rows
            payload["tot_pur_amt"] = f"{tot_pur:012d}"
            payload["tot_est_amt"] = f"{tot_evlt:012d}"
            self.fill_cash(payload, appkey, width=12)
        return envelope(payload, QUERY_OK_MSG)


def envelope(payload: dict[str, Any], default_msg: str) -> dict[str, Any]:
    """Put return_code (int 0) and return_msg last, as Kiwoom does."""
    message = payload.pop("return_msg", default_msg)
    payload.pop("return_code", None)
    payload["return_code"] = 0
    payload["return_msg"] = message
    return payload


def _side_filter(code: str) -> str:
    return {"1": "sell", "2": "buy"}.get(code, "")


def _io_name(order: OrderRecord, *, signed_side: bool) -> str:
    side = "매수" if order.side == "buy" else "매도"
    mark = ("+" if order.side == "buy" else "-") if signed_side else ""
    if order.action == "modify":
        return f"{mark}{side}정정"
    if order.action == "cancel":
        return f"{side}취소"
    if signed_side:
        return f"{mark}{'신용' if order.credit else ''}{side}"
    if order.is_gold:
        # Gold spot has no cash/credit split; its rows name the side alone.
        return side
    return f"{'신용' if order.credit else '현금'}{side}"


def _trade_type_text(order: OrderRecord) -> str:
    if order.is_gold:
        return _GOLD_TRADE_TYPE_TEXT.get(order.trde_tp, "지정가")
    return TRADE_TYPE_TEXT.get(order.trde_tp, "보통")


def _selected(order: OrderRecord, only: str, side: str, stex: str) -> bool:
    """The stock, side and exchange filters the open/filled-orders TRs share."""
    if (only and order.stk_cd != only) or (side and order.side != side):
        return False
    code = _EXCHANGE_CODE.get(order.dmst_stex_tp, ("1", "KRX", "N"))[0]
    return stex not in ("1", "2") or code == stex


def _exchange_fields(order: OrderRecord) -> dict[str, str]:
    """The exchange and stop-price fields that close ka10075 and ka10076 rows."""
    code, text, sor = _EXCHANGE_CODE.get(order.dmst_stex_tp, ("1", "KRX", "N"))
    return {
        "stex_tp": code,
        "stex_tp_txt": text,
        "sor_yn": sor,
        "stop_pric": str(order.cond_price) if order.cond_price else "",
    }


def _order_state(order: OrderRecord) -> dict[str, str]:
    """The fields that kt00007/kt50031 rows and kt50075 rows both carry, under the same names."""
    return {
        "ord_no": order.ord_no,
        # Stock rows carry the A-prefixed code; gold codes appear as ordered.
        "stk_cd": order.stk_cd if order.is_gold else f"A{order.stk_cd}",
        "trde_tp": _trade_type_text(order),
        "ord_qty": f"{order.qty:010d}",
        "ord_uv": f"{order.price:010d}",
        "cnfm_qty": f"{order.qty if order.action != 'new' else 0:010d}",
        "rsrv_tp": "",
        "stk_nm": order.stk_nm,
        "io_tp_nm": _io_name(order, signed_side=False),
        "cntr_qty": f"{order.filled_qty:010d}",
        "cntr_uv": f"{order.fill_price:010d}",
        "ord_remnq": f"{order.remaining_qty:010d}",
        "comm_ord_tp": "REST API",
        "dmst_stex_tp": order.dmst_stex_tp,
        "cond_uv": f"{order.cond_price:010d}",
    }


def _detail_row(order: OrderRecord) -> dict[str, str]:
    """One acnt_ord_cntr_prps_dtl row (kt00007, kt50031): an order request and its state."""
    hms = order.ord_time
    clock = f"{hms[0:2]}:{hms[2:4]}:{hms[4:6]}"
    return _order_state(order) | {
        "crd_tp": "신용매매" if order.credit else "보통매매",
        "acpt_tp": "접수" if order.action == "new" else "확인",
        "ord_tm": clock,
        "ori_ord": order.orig_ord_no or "0000000",
        "loan_dt": "",
        "mdfy_cncl": _AMEND_TEXT[order.action],
        "cnfm_tm": clock if order.action != "new" else "",
    }


def _gold_open_row(order: OrderRecord) -> dict[str, str]:
    """One acnt_ord_oso_prst row (kt50075): a gold order with quantity still working."""
    return _order_state(order) | {
        "stk_bond_tp": "1",
        "data_send_end_tp": "접수" if order.action == "new" else "확인",
        "mrkt_deal_tp": "5",
        "orig_ord_no": order.orig_ord_no or "0000000",
        "dcd_tp_nm": "당일",
        "crd_deal_tp": "",
        "mdfy_cncl_tp": _AMEND_TEXT[order.action],
    }


def _kst_date(timestamp: float) -> str:
    """YYYYMMDD in Korea of a ``time.time()`` value: the order date history queries filter on."""
    return (datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None) + KST).strftime("%Y%m%d")
