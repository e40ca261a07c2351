"""The REST side of the simulator: one POST handler per URL, routed by the ``api-id`` header.

Order of checks for a TR request, each failure answering at once:

1. routing: missing ``api-id`` (1501), unknown TR (1505), TR not served at this URL (1504);
2. faults drawn from the seeded RNG: latency, HTTP 500 with a non-JSON body, a truncated body;
3. ``authorization: Bearer <token>`` (1513-1516 when the header is unusable; an unknown, expired,
   revoked or invalidated token per ``SimConfig.token_error_style``);
4. the rate limiter (``return_code`` 5 with ``[1700:...]``; a refused request uses no budget);
5. the JSON body (with ``SimConfig.validate_requests``: a required field missing or empty
   answers 1511, a stock code the exchange does not list by its shape answers 1902), then the
   continuation headers (a wrong ``next-key`` answers 1517);
6. the TR itself: an order; an account view built from the app key's own orders and
   positions (ka10075/ka10076/kt00007, gold kt50031/kt50075, kt00004/kt00018); or a query
   answered from the official example body.

Token issue and revoke skip the token check, the rate limiter and the continuation headers.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec
from aiohttp import web

from ..registry import REGISTRY, TRSpec
from ._accounts import ACCOUNT_VIEWS, BALANCE_VIEWS, DEPOSIT_VIEWS, AccountViews, envelope
from ._examples import EXAMPLES, example_response
from ._market import (
    KST,
    Book,
    Tick,
    marked,
    normalize_code,
    sign_code,
    signed,
    signed_rate,
)
from ._orders import OrderError
from ._state import SimState

__all__ = ["add_rest_routes"]

log = logging.getLogger(__name__)

_OK_MSG = "정상적으로 처리되었습니다"
_TOKEN_PATH = "/oauth2/token"
_REVOKE_PATH = "/oauth2/revoke"
_AUTH_IDS = {_TOKEN_PATH: "au10001", _REVOKE_PATH: "au10002"}
# Quote TRs under these URLs show the market model's price for the requested stk_cd.
_QUOTE_PATHS = frozenset({"/api/dostk/mrkcond", "/api/dostk/stkinfo"})
# The spec lists 보통/보통(IOC)/보통(FOK) for gold orders, but its kt50031/kt50075 examples show
# a plain gold limit order as 지정가; the IOC/FOK names follow that pattern.
_DATE_KEYS = frozenset({"dt", "date", "trde_dt", "deal_dt", "base_dt", "setl_dt"})
_TIME_KEYS = frozenset({"tm", "cntr_tm"})
_BOOK_LEVEL = re.compile(r"^(sel|buy)_(fpr|\d+th_pre)_(bid|req)$")
_BOOK_LEVEL_7 = re.compile(r"^(sel|buy)_(\d+)bid(_req)?$")
_AUTH_MESSAGES = {
    8001: "App Key와 Secret Key 검증에 실패했습니다",
    8005: "Token이 유효하지 않습니다",
    8011: "Access Token을 발급하는데 실패했습니다. 입력값에 grant_type이 들어오지 않았습니다",
    8012: "Access Token을 발급하는데 실패했습니다. grant_type의 값이 맞지 않습니다",
    8015: "Access Token을 폐기하는데 실패했습니다. 실패사유=유효하지 않은 Token입니다",
    8016: "Access Token을 폐기하는데 실패했습니다. 입력값에 Token이 들어오지 않았습니다",
    8020: "입력파라미터로 appkey 또는 secretkey가 들어오지 않았습니다.",
}
_JSON = "application/json;charset=UTF-8"
_TRUNCATED = '{"return_code":0,"return_msg":"정상적으로 처'.encode()


class _Reply(Exception):
    """Answer the request with this response right away."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__()
        self.response = response


def _json(
    body: Mapping[str, Any],
    *,
    status: int = 200,
    api_id: str = "",
    cont_yn: str = "N",
    next_key: str = "",
) -> web.Response:
    headers = {"api-id": api_id, "cont-yn": cont_yn, "next-key": next_key}
    return web.Response(
        status=status,
        body=msgspec.json.encode(body),
        headers={**headers, "Content-Type": _JSON},
    )


def _error(return_code: int, return_msg: str, *, api_id: str = "", status: int = 200) -> _Reply:
    return _Reply(
        _json({"return_code": return_code, "return_msg": return_msg}, status=status, api_id=api_id)
    )


def add_rest_routes(app: web.Application, state: SimState) -> None:
    """Register the REST handler on every URL a registry TR lives at."""
    handler = _RestHandler(state)
    for path in sorted({spec.path for spec in REGISTRY.values()}):
        app.router.add_post(path, handler.handle)


class _RestHandler:
    def __init__(self, state: SimState) -> None:
        self.state = state
        self.accounts = AccountViews(state)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except _Reply as reply:
            return reply.response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        # The window counts arrivals, so injected latency must not shift a request's slot.
        arrived = time.monotonic()
        spec = self._route(request)
        state.stats.requests_by_api_id[spec.api_id] += 1
        await self._faults()
        if spec.category == "auth":
            body = await self._body(request, spec.api_id)
            if spec.api_id == "au10001":
                return self._issue(body)
            return self._revoke(body)
        appkey = self._authorize(request)
        if not state.admit(appkey, spec.api_id, now=arrived):
            state.stats.rate_limit_rejections += 1
            message = (
                "허용된 요청 개수를 초과하였습니다"
                f"[1700:허용된 요청 개수를 초과하였습니다. API ID={spec.api_id}]"
            )
            status = 429 if state.config.rate_limit_style == "http429" else 200
            raise _error(5, message, api_id=spec.api_id, status=status)
        body = await self._body(request, spec.api_id)
        if state.config.validate_requests:
            _check_fields(spec, body)
        page = self._page(request, appkey, spec)
        if spec.category == "order":
            return await self._order(request, appkey, spec, body)
        payload, more = self._query(appkey, spec, body, page)
        next_key = state.issue_next_key(appkey, spec.api_id, page + 1) if more else ""
        return _json(payload, api_id=spec.api_id, cont_yn="Y" if more else "N", next_key=next_key)

    # --- envelope ---

    def _route(self, request: web.Request) -> TRSpec:
        path = request.path
        api_id = request.headers.get("api-id", "").strip()
        if path in _AUTH_IDS:
            # The official client sends no api-id when it asks for a token.
            expected = _AUTH_IDS[path]
            if api_id and api_id != expected:
                self._wrong_place(api_id, path)
            return REGISTRY[expected]
        if not api_id:
            raise _error(1501, "API ID가 Null이거나 값이 없습니다")
        spec = REGISTRY.get(api_id)
        if spec is None:
            raise _error(1505, f"해당 API ID는 존재하지 않습니다. API ID={api_id}", api_id=api_id)
        if spec.path != path:
            self._wrong_place(api_id, path)
        return spec

    @staticmethod
    def _wrong_place(api_id: str, path: str) -> None:
        if api_id not in REGISTRY:
            raise _error(1505, f"해당 API ID는 존재하지 않습니다. API ID={api_id}", api_id=api_id)
        raise _error(
            1504,
            f"해당 URI에서는 지원하는 API ID가 아닙니다. API ID={api_id}, URI={path}",
            api_id=api_id,
        )

    async def _faults(self) -> None:
        config = self.state.config
        rng = self.state.rng
        if config.latency > 0:
            await asyncio.sleep(config.latency)
        # Draw only when a knob is on, so turning one on does not shift the others' sequence.
        if config.http500_rate > 0 and rng.random() < config.http500_rate:
            self.state.stats.http500s += 1
            raise _Reply(
                web.Response(status=500, text="<html><body>500 Internal Server Error</body></html>")
            )
        if config.malformed_rate > 0 and rng.random() < config.malformed_rate:
            self.state.stats.malformed_bodies += 1
            raise _Reply(web.Response(status=200, body=_TRUNCATED, headers={"Content-Type": _JSON}))

    @staticmethod
    async def _body(request: web.Request, api_id: str) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            body = None
        if not isinstance(body, dict):
            raise _error(
                1517,
                "입력 값 형식이 올바르지 않습니다. 파라미터=body 실패사유= JSON 객체가 아닙니다",
                api_id=api_id,
            )
        return cast("dict[str, Any]", body)

    def _auth_error(self, code: int, *, api_id: str = "") -> _Reply:
        style = self.state.config.token_error_style
        message = _AUTH_MESSAGES[code]
        if style == "top":
            return _error(code, message, api_id=api_id)
        status = 401 if style == "http401" else 200
        return _error(3, f"인증에 실패했습니다[{code}:{message}]", api_id=api_id, status=status)

    def _authorize(self, request: web.Request) -> str:
        header = request.headers.get("authorization")
        if header is None:
            raise _error(1513, "Http Header에 authorization 필드가 설정되어 있어야 합니다")
        scheme, _, token = header.strip().partition(" ")
        if not scheme:
            raise _error(
                1514, "입력으로 들어온 Http Header의 authorization 필드 형식이 맞지 않습니다"
            )
        if scheme.lower() != "bearer":
            raise _error(
                1515, "Http Header의 authorization 필드 내 Grant Type이 미리 정의된 형식이 아닙니다"
            )
        if not token.strip():
            raise _error(1516, "Http Header의 authorization 필드 내 Token이 정의되어 있지 않습니다")
        appkey = self.state.appkey_for_token(token.strip())
        if appkey is None:
            raise self._auth_error(8005, api_id=request.headers.get("api-id", ""))
        return appkey

    def _page(self, request: web.Request, appkey: str, spec: TRSpec) -> int:
        if request.headers.get("cont-yn", "").strip().upper() != "Y":
            return 0
        key = request.headers.get("next-key", "").strip()
        page = self.state.redeem_next_key(appkey, spec.api_id, key) if key else None
        if page is None:
            self.state.stats.bad_next_keys += 1
            raise _error(
                1517,
                "입력 값 형식이 올바르지 않습니다. 파라미터=next-key "
                "실패사유= 유효하지 않은 연속조회키입니다",
                api_id=spec.api_id,
            )
        return page

    # --- token issue / revoke ---

    def _credentials(self, body: Mapping[str, Any]) -> str:
        appkey = str(body.get("appkey") or "")
        secretkey = str(body.get("secretkey") or "")
        if not appkey or not secretkey:
            raise self._auth_error(8020)
        if not self.state.check_credentials(appkey, secretkey):
            raise self._auth_error(8001)
        return appkey

    def _issue(self, body: Mapping[str, Any]) -> web.Response:
        grant = body.get("grant_type")
        if not grant:
            raise self._auth_error(8011)
        if grant != "client_credentials":
            raise self._auth_error(8012)
        appkey = self._credentials(body)
        token, expires_at = self.state.issue_token(appkey)
        expires_dt = datetime.fromtimestamp(expires_at, UTC).replace(tzinfo=None) + KST
        payload = {
            "expires_dt": expires_dt.strftime("%Y%m%d%H%M%S"),
            "token_type": "Bearer",
            "token": token,
            "return_code": 0,
            "return_msg": _OK_MSG,
        }
        return _json(payload, api_id="au10001")

    def _revoke(self, body: Mapping[str, Any]) -> web.Response:
        appkey = self._credentials(body)
        token = str(body.get("token") or "").strip()
        if not token:
            raise self._auth_error(8016)
        if not self.state.revoke_token(appkey, token):
            raise self._auth_error(8015)
        return _json({"return_code": 0, "return_msg": _OK_MSG}, api_id="au10002")

    # --- orders ---

    async def _order(
        self, request: web.Request, appkey: str, spec: TRSpec, body: Mapping[str, Any]
    ) -> web.StreamResponse:
        desk = self.state.desk
        if desk.models(spec.api_id):
            try:
                payload = desk.submit(appkey, spec.api_id, body)
            except OrderError as exc:
                raise _error(exc.return_code, exc.return_msg, api_id=spec.api_id) from None
        else:
            # US orders and currency exchange: accepted with the official example, no book kept.
            payload = envelope(example_response(spec.api_id) or {}, _OK_MSG)
        if self.state.config.drop_after_order:
            self.state.stats.dropped_connections += 1
            transport = request.transport
            if transport is not None:
                transport.abort()
            # The handler must not answer: aiohttp drops a handler that raises this quietly.
            raise asyncio.CancelledError
        return _json(payload, api_id=spec.api_id)

    # --- queries ---

    def _query(
        self, appkey: str, spec: TRSpec, body: Mapping[str, Any], page: int
    ) -> tuple[dict[str, Any], bool]:
        """The body of one page and whether another page follows."""
        pages = max(1, self.state.config.pages)
        more = spec.paginates and page + 1 < pages
        api_id = spec.api_id
        if api_id in ACCOUNT_VIEWS:
            return self.accounts.reconciliation(appkey, api_id, body, page)
        if api_id in BALANCE_VIEWS:
            return self.accounts.balance(appkey, api_id), False
        if api_id == "ka00001":
            return {
                "acctNo": self.state.account_no(appkey),
                "return_code": 0,
                "return_msg": _OK_MSG,
            }, False
        payload: dict[str, Any] | None = example_response(api_id)
        if payload is None:
            entry = EXAMPLES.get(api_id)
            payload = {key: [] for key in (entry.list_keys if entry else [])}
            if api_id == "ka10001":
                payload.update(_stock_basic_fields())
        code = normalize_code(str(body.get("stk_cd") or ""))
        if spec.path in _QUOTE_PATHS and code and code.isalnum():
            market = self.state.market
            _apply_quote(payload, market.snapshot(code), market.book(code), market.name(code))
            if "stk_cd" in payload:
                payload["stk_cd"] = str(body.get("stk_cd"))
        if spec.paginates:
            for key, value in payload.items():
                if isinstance(value, list):
                    payload[key] = _page_rows(cast("list[object]", value), page)
        if api_id in DEPOSIT_VIEWS:
            self.accounts.fill_cash(payload, appkey, width=15)
        return envelope(payload, _OK_MSG), more


# The shapes of a stock code as the exchange lists it, prefix letter and exchange suffix
# removed: KRX short codes (newer ones carry letters: 0009K0), the gold spot codes, and US
# tickers.
_DOMESTIC_CODE = re.compile(r"[0-9][0-9A-Z]{5}|M0402[0-9]{4}")
_US_CODE = re.compile(r"[A-Z0-9][A-Z0-9./-]{0,11}")


def _check_fields(spec: TRSpec, body: Mapping[str, Any]) -> None:
    """Refuse what the server refuses before it looks at a TR: a required field missing or
    empty (1511), a stock code no exchange lists by its shape (1902)."""
    entry = EXAMPLES.get(spec.api_id)
    if entry is None:
        return
    missing = [name for name in entry.required if not str(body.get(name) or "").strip()]
    if missing:
        raise _error(
            1511,
            f"필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터={missing[0]}",
            api_id=spec.api_id,
        )
    code = body.get("stk_cd")
    sample = entry.request.get("stk_cd")
    # Only where the TR takes one code (some US watchlist TRs take a JSON list in stk_cd).
    if not code or not isinstance(sample, str) or sample.startswith("["):
        return
    shape = _US_CODE if spec.market == "us" else _DOMESTIC_CODE
    if not isinstance(code, str) or not shape.fullmatch(normalize_code(code)):
        raise _error(
            1902,
            f"종목 정보가 없습니다. 입력한 종목코드 값을 확인바랍니다. 종목코드={code}",
            api_id=spec.api_id,
        )


def _stock_basic_fields() -> dict[str, str]:
    """ka10001 has no official example; these are the price fields its live answer carries."""
    return {
        "stk_cd": "",
        "stk_nm": "",
        "base_pric": "",
        "upl_pric": "",
        "lst_pric": "",
        "open_pric": "",
        "high_pric": "",
        "low_pric": "",
        "cur_prc": "",
        "pre_sig": "",
        "pred_pre": "",
        "flu_rt": "",
        "trde_qty": "",
    }


def _apply_quote(payload: dict[str, Any], tick: Tick, book: Book, name: str) -> None:
    """Overwrite the price-ish top-level fields of a quote example with the market's numbers."""
    ref = tick.prev_close
    values: dict[str, str] = {
        "stk_nm": name,
        "cur_prc": marked(tick.price, ref),
        "pred_close_pric": str(ref),
        "base_pric": str(ref),
        "open_pric": marked(tick.open, ref),
        "high_pric": marked(tick.high, ref),
        "low_pric": marked(tick.low, ref),
        "upl_pric": marked(tick.upper_limit, ref),
        "lst_pric": marked(tick.lower_limit, ref),
        "pred_pre": signed(tick.change),
        "flu_rt": signed_rate(tick.rate),
        "pre_sig": sign_code(tick.change),
        "pred_pre_sig": sign_code(tick.change),
        "smbol": sign_code(tick.change),
        "trde_qty": str(tick.cum_volume),
        "tot_sel_req": str(book.total_ask_qty),
        "tot_buy_req": str(book.total_bid_qty),
        "bid_req_base_tm": book.time,
    }
    for key in list(payload):
        if not isinstance(payload[key], str):
            continue
        if key in values:
            payload[key] = values[key]
            continue
        level: int
        side: str
        is_qty: bool
        match = _BOOK_LEVEL.match(key)
        if match is not None:
            side = match.group(1)
            level = 1 if match.group(2) == "fpr" else int(match.group(2).split("th")[0])
            is_qty = match.group(3) == "req"
        else:
            match7 = _BOOK_LEVEL_7.match(key)
            if match7 is None:
                continue
            side, level, is_qty = match7.group(1), int(match7.group(2)), bool(match7.group(3))
        levels = book.asks if side == "sel" else book.bids
        if not 1 <= level <= len(levels):
            payload[key] = "0"
            continue
        price, qty = levels[level - 1]
        payload[key] = str(qty) if is_qty else marked(price, ref)


def _page_rows(rows: list[Any], page: int) -> list[Any]:
    """The example rows of one page, with dates/times stepped back so that every row of a later
    page is older than every row of an earlier one (as Kiwoom's newest-first series are)."""
    if not rows:
        return rows
    first = cast("dict[str, Any]", rows[0]) if isinstance(rows[0], dict) else {}
    out: list[Any] = []
    for index, item in enumerate(rows):
        if not isinstance(item, dict):
            out.append(item)
            continue
        row = cast("dict[str, Any]", item)
        step = page * len(rows) + index
        new = copy.copy(row)
        for key, value in row.items():
            base = first.get(key)
            if not isinstance(value, str) or not isinstance(base, str) or not base.isdigit():
                continue
            new[key] = _step_back(key, base, step, value)
        out.append(new)
    return out


def _step_back(key: str, base: str, step: int, value: str) -> str:
    try:
        if key in _DATE_KEYS and len(base) == 8:
            moment = datetime.strptime(base, "%Y%m%d") - timedelta(days=step)
            return moment.strftime("%Y%m%d")
        if key in _TIME_KEYS and len(base) == 14:
            moment = datetime.strptime(base, "%Y%m%d%H%M%S") - timedelta(minutes=step)
            return moment.strftime("%Y%m%d%H%M%S")
        if key in _TIME_KEYS and len(base) == 6:
            moment = datetime.strptime(base, "%H%M%S") - timedelta(seconds=step)
            return moment.strftime("%H%M%S")
    except ValueError:
        return value
    return value
