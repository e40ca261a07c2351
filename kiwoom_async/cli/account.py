"""Account commands: ``orders`` (open orders, ka10075) and ``balance`` (cash totals and
holdings, kt00018)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_json_option, open_client
from ._output import print_json, print_table, typed_fields

__all__ = ["register"]


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    orders = commands.add_parser(
        "orders", parents=parents, help="open (unfilled) orders of the account (ka10075)"
    )
    orders.add_argument("--code", default="", metavar="CODE", help="only this stock")
    add_json_option(orders)
    orders.set_defaults(handler=orders_command)

    balance = commands.add_parser(
        "balance", parents=parents, help="account totals and holdings (kt00018)"
    )
    add_json_option(balance)
    balance.set_defaults(handler=balance_command)


async def orders_command(args: argparse.Namespace) -> int:
    async with open_client(args) as kw:
        pages = await kw.account.open_orders(all_stk_tp="1" if args.code else "0", stk_cd=args.code)
    rows = [row for page in pages for row in page.oso]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print_table(("open orders",), [("none",)])
        return 0
    print_table(
        ("order no", "code", "name", "side 구분", "qty", "price", "left", "filled", "time"),
        [
            (
                row.ord_no,
                row.stk_cd,
                row.stk_nm,
                row.io_tp_nm,
                row.ord_qty,
                row.ord_pric,
                row.oso_qty,
                row.cntr_qty,
                row.tm,
            )
            for row in rows
        ],
    )
    return 0


async def balance_command(args: argparse.Namespace) -> int:
    async with open_client(args) as kw:
        pages = await kw.account.balance()
    holdings = [row for page in pages for row in page.acnt_evlt_remn_indv_tot]
    totals = typed_fields(pages[0]) if pages else {}
    totals.pop("acnt_evlt_remn_indv_tot", None)
    if args.json:
        print_json({"totals": totals, "holdings": holdings})
        return 0
    first = pages[0] if pages else None
    print_table(
        ("total", "KRW"),
        [
            ("estimated assets 추정예탁자산", first.prsm_dpst_aset_amt if first else None),
            ("purchase amount 총매입금액", first.tot_pur_amt if first else None),
            ("evaluation 총평가금액", first.tot_evlt_amt if first else None),
            ("P/L 총평가손익", first.tot_evlt_pl if first else None),
            ("return % 수익률", first.tot_prft_rt if first else None),
        ],
    )
    sys.stdout.write("\n")
    print_table(
        ("code", "name", "qty", "avg price", "price", "P/L", "return %"),
        [
            (h.stk_cd, h.stk_nm, h.rmnd_qty, h.pur_pric, h.cur_prc, h.evltv_prft, h.prft_rt)
            for h in holdings
        ]
        or [("none", "", None, None, None, None, None)],
    )
    return 0
