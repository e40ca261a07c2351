"""What the generators call every TR and group: module, class and method names.

The fact base's own English titles where it has them; tools/tr_names.py for the TRs it
leaves untitled. The registry, the models and the wrappers all take their names from here,
so they cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Any

from tools.tr_names import TR_NAMES

# spec section -> (module, title). Module names say what the guide's group holds.
SECTIONS: dict[str, tuple[str, str]] = {
    "mrkcond": ("quote", "Quote TRs (시세, /api/dostk/mrkcond)"),
    "ordr": ("order", "Order TRs (주문, /api/dostk/ordr)"),
    "acnt": ("account", "Account TRs (계좌, /api/dostk/acnt)"),
    "chart": ("chart", "Chart TRs (차트, /api/dostk/chart)"),
    "stkinfo": ("stock", "Stock information TRs (종목정보, /api/dostk/stkinfo)"),
    "rkinfo": ("ranking", "Ranking TRs (순위정보, /api/dostk/rkinfo)"),
    "sect": ("sector", "Sector TRs (업종, /api/dostk/sect)"),
    "frgnistt": ("investor", "Investor TRs (기관/외국인, /api/dostk/frgnistt)"),
    "elw": ("elw", "ELW TRs (ELW, /api/dostk/elw)"),
    "etf": ("etf", "ETF TRs (ETF, /api/dostk/etf)"),
    "thme": ("theme", "Theme TRs (테마, /api/dostk/thme)"),
    "shsa": ("short", "Short selling TRs (공매도, /api/dostk/shsa)"),
    "slb": ("lending", "Securities lending TRs (대차거래, /api/dostk/slb)"),
    "crdordr": ("credit", "Credit order TRs (신용주문, /api/dostk/crdordr)"),
    "watchlist": ("watchlist", "Watchlist TRs (관심종목, /api/dostk/watchlist)"),
    "us_mrkcond": ("us_quote", "US quote TRs (미국주식 시세, /api/us/mrkcond)"),
    "us_stkinfo": ("us_stock", "US stock information TRs (미국주식 종목정보, /api/us/stkinfo)"),
    "us_rkinfo": ("us_ranking", "US ranking TRs (미국주식 순위정보, /api/us/rkinfo)"),
    "us_chart": ("us_chart", "US chart TRs (미국주식 차트, /api/us/chart)"),
    "us_sect": ("us_sector", "US sector TRs (미국주식 업종, /api/us/sect)"),
    "us_invtinfo": ("us_invest", "US investment TRs (미국주식 투자정보, /api/us/invtinfo)"),
    "us_watchlist": ("us_watchlist", "US watchlist TRs (미국주식 관심종목, /api/us/watchlist)"),
    "us_acnt": ("us_account", "US account TRs (미국주식 계좌, /api/us/acnt)"),
    "us_ordr": ("us_order", "US order TRs (미국주식 주문, /api/us/ordr)"),
    "us_exchange": ("us_exchange", "Currency exchange TRs (환전, /api/us/exchange)"),
}

# Class names where the English name does not make a short or unique CamelCase name.
NAMES: dict[str, str] = {
    "ka10004": "OrderBook",
    "ka10005": "StockPeriodPrices",
    "ka10006": "StockTimeSnapshot",
    "ka10007": "QuoteBoard",
    "ka10011": "SubscriptionRightsQuotes",
    "ka10072": "RealizedPnlByStockOnDate",
    "ka10073": "RealizedPnlByStockForPeriod",
    "ka10088": "UnfilledSplitOrderDetail",
    "kt00007": "AccountOrderExecutionDetail",
    "kt00009": "AccountOrderExecutionStatus",
    "kt00010": "OrderableWithdrawableAmount",
    "kt00011": "OrderableQtyByMarginRate",
    "kt00012": "OrderableQtyByCreditDepositRate",
    "kt50030": "GoldSpotAllOrdersExecutions",
    "kt50031": "GoldSpotOrdersExecutions",
    "ka10060": "InvestorInstitutionChart",
}

# The hand-written order group's methods (kiwoom_async/api/order.py).
ORDER_METHODS: dict[str, str] = {
    "kt10000": "buy",
    "kt10001": "sell",
    "kt10002": "modify",
    "kt10003": "cancel",
    "kt50000": "gold_buy",
    "kt50001": "gold_sell",
    "kt50002": "gold_modify",
    "kt50003": "gold_cancel",
}

# Method names: what the TR returns, in English, short enough to read at the call site.
METHODS: dict[str, str] = {
    # quote
    "ka10004": "orderbook",
    "ka10005": "period_prices",
    "ka10006": "time_snapshot",
    "ka10007": "quote_board",
    "ka10011": "subscription_rights_quotes",
    "ka10044": "daily_institutional_trading",
    "ka10045": "institutional_trading_trend",
    "ka10046": "execution_strength_by_time",
    "ka10047": "execution_strength_by_day",
    "ka10063": "intraday_investor_trading",
    "ka10066": "after_close_investor_trading",
    "ka10078": "broker_trading_trend",
    "ka10086": "daily_prices",
    "ka10087": "after_hours_single_price",
    "ka50010": "gold_execution_trend",
    "ka50012": "gold_daily_trend",
    "ka50087": "gold_expected_execution",
    "ka50100": "gold_quote",
    "ka50101": "gold_orderbook",
    "ka90005": "program_trading_by_time",
    "ka90006": "program_arbitrage_balance",
    "ka90007": "program_trading_accumulated",
    "ka90008": "stock_program_trading_by_time",
    "ka90010": "program_trading_by_day",
    "ka90013": "stock_program_trading_by_day",
    # account
    "ka00001": "account_numbers",
    "ka01690": "daily_balance_return",
    "ka10072": "realized_pnl_by_stock_on_date",
    "ka10073": "realized_pnl_by_stock_for_period",
    "ka10074": "realized_pnl_by_date",
    "ka10075": "open_orders",
    "ka10076": "filled_orders",
    "ka10077": "today_realized_pnl_detail",
    "ka10085": "returns",
    "ka10088": "open_split_order_detail",
    "ka10170": "trading_journal",
    "kt00001": "deposit_detail",
    "kt00002": "daily_estimated_assets",
    "kt00003": "estimated_assets",
    "kt00004": "evaluation",
    "kt00005": "execution_balance",
    "kt00007": "order_history",
    "kt00008": "next_day_settlements",
    "kt00009": "order_status",
    "kt00010": "orderable_amount",
    "kt00011": "orderable_qty_by_margin_rate",
    "kt00012": "orderable_qty_by_credit_deposit_rate",
    "kt00013": "margin_detail",
    "kt00015": "transaction_history",
    "kt00016": "daily_return_detail",
    "kt00017": "today_status",
    "kt00018": "balance",
    "kt50020": "gold_balance",
    "kt50021": "gold_deposit",
    "kt50030": "gold_all_orders",
    "kt50031": "gold_order_history",
    "kt50032": "gold_transaction_history",
    "kt50075": "gold_open_orders",
    # chart
    "ka10060": "investor_institution",
    "ka10064": "intraday_investor_trading",
    "ka10079": "ticks",
    "ka10080": "minutes",
    "ka10081": "daily",
    "ka10082": "weekly",
    "ka10083": "monthly",
    "ka10094": "yearly",
    "ka20004": "sector_ticks",
    "ka20005": "sector_minutes",
    "ka20006": "sector_daily",
    "ka20007": "sector_weekly",
    "ka20008": "sector_monthly",
    "ka20019": "sector_yearly",
    "ka50079": "gold_ticks",
    "ka50080": "gold_minutes",
    "ka50081": "gold_daily",
    "ka50082": "gold_weekly",
    "ka50083": "gold_monthly",
    "ka50091": "gold_today_ticks",
    "ka50092": "gold_today_minutes",
}


def fill_titles(spec: dict[str, Any]) -> None:
    """Give every TR of ``spec`` an English title (``name_en``), in place."""
    for section in spec["sections"].values():
        for api_id, tr in section["trs"].items():
            if not tr.get("name_en"):
                tr["name_en"] = _in_sentence(TR_NAMES[api_id][0])


def _in_sentence(title: str) -> str:
    """The title as the fact base writes its own: lower case but for acronyms (ETF, US)."""
    first = title.split(" ", 1)[0]
    return title if sum(ch.isupper() for ch in first) > 1 else title[:1].lower() + title[1:]


def camel(text: str) -> str:
    text = re.sub(r"\([^)]*\)", " ", text).replace("P/L", "pnl")
    words = re.split(r"[^A-Za-z0-9]+", text)
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def class_name(api_id: str, tr: dict[str, Any]) -> str:
    """The response model's class name (its request model adds ``Request``)."""
    if api_id in NAMES:
        return NAMES[api_id]
    if api_id in TR_NAMES:
        return TR_NAMES[api_id][1]
    return camel(tr["name_en"])


def method_name(api_id: str) -> str:
    """The wrapper method of ``api_id`` in its group."""
    for table in (METHODS, ORDER_METHODS):
        if api_id in table:
            return table[api_id]
    return TR_NAMES[api_id][2]


def module_of(section: str) -> str:
    """The models (and wrappers) module of a fact base section: ``us_stkinfo`` -> ``us_stock``."""
    return SECTIONS[section][0]


def wrapper_path(section: str, api_id: str) -> str:
    """Where a TR's method lives on the client: ``quote.orderbook``, ``us.stock.basic_info``."""
    module = module_of(section)
    group = "us." + module[3:] if module.startswith("us_") else module
    return f"{group}.{method_name(api_id)}"
