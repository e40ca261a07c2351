"""Order commands: ``buy``, ``sell`` and ``cancel``. On the real environment each needs
``--allow-real-orders`` and a typed confirmation; the library's own checks (and the
optional tick check) run before anything is sent, and an order is never sent twice."""

from __future__ import annotations

import argparse
from typing import Any

from ..ledger import OrderAck
from ._common import add_json_option, confirm_real_money, open_client
from ._output import print_json, print_table

__all__ = ["register"]


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    for side in ("buy", "sell"):
        order = commands.add_parser(
            side,
            parents=parents,
            help=f"place a cash {side} order (kt1000{0 if side == 'buy' else 1})",
        )
        order.add_argument("code", metavar="CODE")
        order.add_argument("qty", type=int, metavar="QTY", help="shares")
        order.add_argument(
            "--price", type=int, metavar="KRW", help="limit price (without it: a market order)"
        )
        order.add_argument("--key", metavar="KEY", help="idempotency key: a repeat is not resent")
        add_json_option(order)
        order.set_defaults(handler=order_command, side=side)

    cancel = commands.add_parser("cancel", parents=parents, help="cancel an open order (kt10003)")
    cancel.add_argument("order_no", metavar="ORDER_NO")
    cancel.add_argument("code", metavar="CODE")
    cancel.add_argument("--qty", type=int, default=0, help="shares to cancel (0: all left)")
    add_json_option(cancel)
    cancel.set_defaults(handler=cancel_command)


async def order_command(args: argparse.Namespace) -> int:
    what = f"{args.side} {args.qty} x {args.code} at " + (
        f"{args.price:,} KRW" if args.price is not None else "market"
    )
    allowed = confirm_real_money(args, what)
    async with open_client(args, allow_real_orders=allowed) as kw:
        place = kw.order.buy if args.side == "buy" else kw.order.sell
        ack = await place(
            args.code,
            qty=args.qty,
            price=args.price,
            trde_tp="3" if args.price is None else "0",
            idempotency_key=args.key,
        )
    _print_ack(args, what, ack)
    return 0


async def cancel_command(args: argparse.Namespace) -> int:
    what = f"cancel order {args.order_no} ({args.code})"
    allowed = confirm_real_money(args, what)
    async with open_client(args, allow_real_orders=allowed) as kw:
        ack = await kw.order.cancel(args.order_no, args.code, qty=args.qty)
    _print_ack(args, what, ack)
    return 0


def _print_ack(args: argparse.Namespace, what: str, ack: OrderAck) -> None:
    if args.json:
        print_json(ack)
        return
    print_table(
        ("order", "order no", "exchange", "server says"),
        [(what, ack.ord_no, ack.dmst_stex_tp or "-", ack.return_msg)],
    )
