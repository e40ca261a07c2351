"""Market data commands: ``quote`` (order books), ``chart`` (candles over a date range, every
page) and ``call`` (any TR by id, raw JSON in and out)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import msgspec

from .._kst import KST
from ..dataframes import MissingExtraError, table, to_polars
from ..registry import REGISTRY
from ._common import (
    CommandError,
    add_json_option,
    confirm_real_money,
    open_client,
)
from ._output import print_json, print_table, typed_fields

__all__ = ["register"]


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    quote = commands.add_parser(
        "quote", parents=parents, help="order book of one or more stocks (ka10004)"
    )
    quote.add_argument("codes", nargs="+", metavar="CODE", help="six-character stock codes")
    quote.add_argument(
        "--depth", type=int, default=1, choices=range(1, 11), metavar="N", help="levels (1-10)"
    )
    add_json_option(quote)
    quote.set_defaults(handler=quote_command)

    chart = commands.add_parser(
        "chart", parents=parents, help="candles of a stock over a date range, every page"
    )
    chart.add_argument("code", metavar="CODE")
    chart.add_argument("--from", dest="start", metavar="YYYYMMDD", help="first date (inclusive)")
    chart.add_argument(
        "--to", dest="end", metavar="YYYYMMDD", help="last date (inclusive; default today, KST)"
    )
    chart.add_argument(
        "--period", choices=tuple(_PERIODS), default="day", help="candle length (default: day)"
    )
    chart.add_argument(
        "--unadjusted", action="store_true", help="raw prices (default: adjusted, 수정주가)"
    )
    chart.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE: .csv, or .parquet (needs polars)"
    )
    chart.add_argument("--max-pages", type=int, metavar="N", help="stop after N pages")
    chart.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_option(chart)
    chart.set_defaults(handler=chart_command)

    call = commands.add_parser(
        "call", parents=parents, help="call any TR by id with a JSON body; prints the answer"
    )
    call.add_argument("api_id", metavar="API_ID", help="TR id, e.g. ka10001")
    call.add_argument(
        "body", nargs="?", default="{}", metavar="JSON", help="request body ('-': stdin)"
    )
    pages = call.add_mutually_exclusive_group()
    pages.add_argument("--all", action="store_true", help="follow cont-yn/next-key to the end")
    pages.add_argument("--max-pages", type=int, metavar="N", help="follow at most N pages")
    call.add_argument("--next-key", default="", metavar="KEY", help="resume from this next-key")
    add_json_option(call)
    call.set_defaults(handler=call_command)


# --- quote ------------------------------------------------------------------------------


async def quote_command(args: argparse.Namespace) -> int:
    async with open_client(args) as kw:
        books = await asyncio.gather(*(kw.quote.orderbook(code) for code in args.codes))
    if args.json:
        print_json([{"code": c, **typed_fields(b)} for c, b in zip(args.codes, books, strict=True)])
        return 0
    if args.depth == 1:
        print_table(
            ("code", "ask 매도호가", "ask qty", "bid 매수호가", "bid qty", "spread", "time"),
            [_top_of_book(code, book) for code, book in zip(args.codes, books, strict=True)],
        )
        return 0
    for index, (code, book) in enumerate(zip(args.codes, books, strict=True)):
        if index:
            sys.stdout.write("\n")
        sys.stdout.write(f"{code}  (at {_hms(book.bid_req_base_tm)})\n")
        levels = [
            (level, *_level(book, "sel", level), *_level(book, "buy", level))
            for level in range(1, args.depth + 1)
        ]
        print_table(("level", "ask 매도호가", "ask qty", "bid 매수호가", "bid qty"), levels)
    return 0


def _top_of_book(code: str, book: Any) -> list[Any]:
    ask, bid = book.sel_fpr_bid, book.buy_fpr_bid
    spread = ask - bid if ask and bid else None
    return [code, ask, book.sel_fpr_req, bid, book.buy_fpr_req, spread, _hms(book.bid_req_base_tm)]


def _level(book: Any, side: str, level: int) -> tuple[Any, Any]:
    prefix = f"{side}_fpr" if level == 1 else f"{side}_{level}th_pre"
    return getattr(book, f"{prefix}_bid", None), getattr(book, f"{prefix}_req", None)


def _hms(text: str) -> str:
    return f"{text[:2]}:{text[2:4]}:{text[4:6]}" if len(text) == 6 and text.isdigit() else text


# --- chart ------------------------------------------------------------------------------

_PERIODS = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}


async def chart_command(args: argparse.Namespace) -> int:
    end = _date_arg("--to", args.end) or datetime.now(KST).strftime("%Y%m%d")
    start = _date_arg("--from", args.start) or ""
    if start and start > end:
        raise CommandError(f"--from {start} is after --to {end}")
    suffix = args.out.suffix.lower() if args.out else ""
    if args.out and suffix not in (".csv", ".parquet"):
        raise CommandError(f"--out must end in .csv or .parquet, not {args.out.name!r}")
    progress = _Progress(args.code, quiet=args.quiet)
    pages: list[Any] = []
    async with open_client(args) as kw:
        method = getattr(kw.chart, _PERIODS[args.period])
        pager = method(
            args.code,
            base_dt=end,
            upd_stkpc_tp="0" if args.unadjusted else "1",
            max_pages=args.max_pages,
        )
        async for page in pager:
            rows = _rows_of(page)
            kept = [row for row in rows if start <= row.dt <= end]
            pages.append(msgspec.structs.replace(page, **{_list_key(page): kept}))
            oldest = min((row.dt for row in rows if row.dt), default="")
            progress.page(sum(len(_rows_of(p)) for p in pages), oldest)
            if start and oldest and oldest < start:
                break  # newest first: every later page is older still
    progress.done()
    return _write_chart(args, pages, suffix)


def _write_chart(args: argparse.Namespace, pages: list[Any], suffix: str) -> int:
    if args.json:
        print_json(table(pages).records())
    elif suffix == ".parquet":
        try:
            to_polars(pages).write_parquet(args.out)
        except MissingExtraError:
            raise MissingExtraError("polars", "polars") from None
    elif args.out:
        with args.out.open("w", encoding="utf-8", newline="") as file:
            _write_csv(pages, file)
    else:
        _write_csv(pages, sys.stdout)
    if args.out:
        sys.stderr.write(f"wrote {len(table(pages))} rows to {args.out}\n")
    return 0


def _write_csv(pages: list[Any], file: Any) -> None:
    import csv

    data = table(pages)
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(data.columns)
    for record in data.records():
        writer.writerow(["" if v is None else _csv_value(v) for v in record.values()])


def _csv_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows_of(page: Any) -> list[Any]:
    rows: list[Any] = getattr(page, _list_key(page))
    return rows


def _list_key(page: Any) -> str:
    for field in msgspec.structs.fields(cast("type[msgspec.Struct]", type(page))):
        if field.name.endswith("_chart_qry"):
            return field.name
    raise CommandError(f"{type(page).__name__} has no candles")  # pragma: no cover


def _date_arg(flag: str, text: str | None) -> str | None:
    if text is None:
        return None
    plain = text.replace("-", "")
    try:
        datetime.strptime(plain, "%Y%m%d")
    except ValueError:
        raise CommandError(
            f"{flag} expects a date as YYYYMMDD or YYYY-MM-DD, not {text!r}"
        ) from None
    return plain


class _Progress:
    """Pages fetched, on stderr: redrawn in place on a terminal, one line each otherwise."""

    def __init__(self, code: str, *, quiet: bool) -> None:
        self.code = code
        self.quiet = quiet
        self.pages = 0
        self.live = sys.stderr.isatty()

    def page(self, rows: int, oldest: str) -> None:
        self.pages += 1
        if self.quiet:
            return
        back = f", back to {oldest[:4]}-{oldest[4:6]}-{oldest[6:8]}" if oldest else ""
        text = f"{self.code}: page {self.pages}, {rows} rows{back}"
        sys.stderr.write(f"\r{text}\x1b[K" if self.live else text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.live and self.pages and not self.quiet:
            sys.stderr.write("\n")


# --- call -------------------------------------------------------------------------------


async def call_command(args: argparse.Namespace) -> int:
    spec = REGISTRY.get(args.api_id)
    if spec is None:
        raise CommandError(
            f"unknown TR id {args.api_id!r}: see the TR table (kiwoom_async.REGISTRY)"
        )
    body = _body_arg(args.body)
    paginate = args.all or args.max_pages is not None
    if spec.is_order and (paginate or args.next_key):
        raise CommandError(f"{args.api_id} is an order: orders are never paginated")
    allow_real = spec.is_order and confirm_real_money(args, f"{args.api_id} ({spec.path})")
    async with open_client(args, allow_real_orders=allow_real) as kw:
        if not paginate:
            response = await kw.rest.call(
                args.api_id, body, cont_yn=bool(args.next_key), next_key=args.next_key
            )
            _print_page(args, response.api_id, response.body, response.cont_yn, response.next_key)
            return 0
        pager = kw.rest.paginate(
            args.api_id, body, max_pages=args.max_pages, next_key=args.next_key
        )
        async for page in pager:
            _print_page(args, page.api_id, page.body, page.cont_yn, page.next_key)
    return 0


def _print_page(args: argparse.Namespace, api_id: str, body: Any, more: bool, key: str) -> None:
    if args.json:
        print_json({"api_id": api_id, "cont_yn": more, "next_key": key, "body": body})
        return
    print_json(body, indent=2)
    if more:
        sys.stderr.write(f"more pages: --next-key {key}\n")


def _body_arg(text: str) -> dict[str, Any]:
    source = sys.stdin.read() if text == "-" else text
    try:
        body = json.loads(source)
    except json.JSONDecodeError as exc:
        raise CommandError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CommandError('the body must be a JSON object, e.g. \'{"stk_cd": "005930"}\'')
    return cast("dict[str, Any]", body)
