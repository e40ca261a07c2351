"""Sending one order exactly once: the idempotency ledger around the send, and what each
way a send can end means for the order. Every order group (stock, gold, credit, US, currency
exchange) places through one :class:`OrderPlacement`, so they share one ledger and one set of
rules."""

from __future__ import annotations

import logging
import time

from .._ledger_io import LedgerRunner
from ..errors import OrderStatusUnknownError
from ..ledger import OrderAck
from ..models._convert import TRRequest
from ..rest import RestSession

__all__ = ["OrderPlacement"]

log = logging.getLogger("kiwoom_async.order")


class OrderPlacement:
    """Places checked order requests through ``rest``, remembering idempotency keys in the
    ledger behind ``ledger_io``."""

    def __init__(self, rest: RestSession, ledger_io: LedgerRunner) -> None:
        self.rest = rest
        self.ledger_io = ledger_io

    async def place(self, request: TRRequest, idempotency_key: str | None) -> OrderAck:
        """Send ``request`` once. With an ``idempotency_key`` already placed, return its
        acknowledgement without sending; a lost answer raises
        :class:`~kiwoom_async.errors.OrderStatusUnknownError`."""
        api_id = request.api_id
        body = request.to_body()
        ledger = self.ledger_io.ledger
        if idempotency_key is not None:
            first = await self.ledger_io.claim(idempotency_key, api_id, body)
            if first is not None:
                log.info("%s: idempotency key already placed as %s; not sent", api_id, first.ord_no)
                return first
        sent_at = time.time()
        may_have_left = False

        def leaving() -> None:
            nonlocal may_have_left
            may_have_left = True

        try:
            response = await self.rest.call(api_id, body, on_send=leaving)
        except OrderStatusUnknownError as exc:
            exc.sent_at = sent_at
            exc.idempotency_key = idempotency_key
            if idempotency_key is not None:
                await self.ledger_io.run(ledger.mark_unknown, idempotency_key, exc.cause)
            raise
        except Exception as exc:
            # RestSession raises OrderStatusUnknownError whenever the request may have left;
            # every other error means the server placed nothing.
            if idempotency_key is not None:
                await self.ledger_io.run(ledger.reject, idempotency_key, str(exc))
            raise
        except BaseException:
            # Cancelled. Once the request may be on the wire its fate is unknown; before that
            # nothing was placed and the key is free again. Not awaited: this task may not get
            # to await anything more.
            if idempotency_key is not None:
                if may_have_left:
                    self.ledger_io.record_soon(
                        ledger.mark_unknown,
                        idempotency_key,
                        "cancelled while the order was sent",
                    )
                else:
                    self.ledger_io.record_soon(
                        ledger.reject, idempotency_key, "cancelled before the order was sent"
                    )
            raise
        answer = response.body
        ack = OrderAck(
            api_id=api_id,
            ord_no=_text(answer.get("ord_no")),
            dmst_stex_tp=_text(answer.get("dmst_stex_tp")),
            base_orig_ord_no=_text(answer.get("base_orig_ord_no")),
            return_msg=response.return_msg,
            raw=answer,
        )
        if not ack.ord_no:
            log.warning("%s: the server accepted the order but sent no ord_no", api_id)
        if idempotency_key is not None:
            await self.ledger_io.run(ledger.finish, idempotency_key, ack)
        return ack


def _text(value: object) -> str:
    return "" if value is None else str(value)
