"""What every typed TR group shares: the call/paginate helpers and the typed pager.

The groups are thin: a method builds the generated request model (which checks the fields
before anything is sent), hands its body to :class:`~kiwoom_async.rest.RestSession`, and
decodes the answer into the generated response model. HTTP, retries, rate limits and error
mapping all stay in the session.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import InvalidStockCodeError
from ..models._convert import ResponseDecodeError, TRRequest, TRResponse, UnknownFields
from ..rest import Pager, Response, RestSession

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["TRGroup", "TypedPager", "check_stock_code", "decode"]

ModelT = TypeVar("ModelT", bound=TRResponse)

# KRX short codes are six characters; numbers ran short, so newer listings carry letters
# (e.g. 0009K0). The first character is always a digit.
_STOCK_CODE = re.compile(r"[0-9][0-9A-Z]{5}")
_EXCHANGE_SUFFIXES = ("_NX", "_AL")


def check_stock_code(api_id: str, code: object, *, suffix_allowed: bool) -> str:
    """Return ``code`` if it names a stock the way TR ``api_id`` expects, else raise
    :class:`InvalidStockCodeError`. Quote and chart TRs take ``_NX`` (Nextrade) and ``_AL``
    (combined) suffixes; orders take a plain code and choose the exchange with
    ``dmst_stex_tp``."""
    if not isinstance(code, str):
        raise InvalidStockCodeError(api_id, code, "must be a string")
    plain = code
    for suffix in _EXCHANGE_SUFFIXES:
        if code.endswith(suffix):
            if not suffix_allowed:
                raise InvalidStockCodeError(
                    api_id, code, "must be a plain code: choose the exchange with dmst_stex_tp"
                )
            plain = code[: -len(suffix)]
            break
    if not _STOCK_CODE.fullmatch(plain):
        shape = "six digits, optionally _NX or _AL" if suffix_allowed else "six digits"
        raise InvalidStockCodeError(api_id, code, f"is not a KRX stock code ({shape})")
    return code


def decode(model: type[ModelT], response: Response, unknown: UnknownFields) -> ModelT:
    """The typed model of one answer; a field that is not what the spec promises raises
    :class:`ResponseDecodeError` naming the TR and the field. Keys the model does not know
    are counted in ``unknown`` (they stay in ``.raw``)."""
    try:
        typed = model.from_raw(response.body)
    except ResponseDecodeError as exc:
        raise exc.for_tr(response.api_id) from None
    unknown.record(model, response.body)
    return typed


class TypedPager(Generic[ModelT]):
    """Pages of one TR as typed models: ``async for page in pager`` fetches them as you go,
    ``await pager`` gives the list.

    ``next_key`` and ``has_more`` come from the underlying :class:`~kiwoom_async.rest.Pager`:
    after a walk stopped by ``max_pages``, pass ``next_key`` back to the same method to
    resume where it stopped.
    """

    __slots__ = ("_model", "pager")

    def __init__(self, pager: Pager, model: type[ModelT]) -> None:
        self.pager = pager
        self._model = model

    def __repr__(self) -> str:
        return (
            f"<TypedPager {self._model.api_id} {self._model.__name__} "
            f"pages_fetched={self.pages_fetched} has_more={self.has_more}>"
        )

    @property
    def next_key(self) -> str:
        """The key to resume from; empty once the server said there is nothing more."""
        return self.pager.next_key

    @property
    def has_more(self) -> bool:
        """Whether the server has pages this walk has not fetched."""
        return self.pager.has_more

    @property
    def pages_fetched(self) -> int:
        return self.pager.pages_fetched

    def __aiter__(self) -> AsyncIterator[ModelT]:
        return self._walk()

    def __await__(self) -> Generator[Any, None, list[ModelT]]:
        return self.all().__await__()

    async def all(self) -> list[ModelT]:
        return [page async for page in self]

    async def _walk(self) -> AsyncIterator[ModelT]:
        async for response in self.pager:
            yield decode(self._model, response, self.pager.session.stats.unknown)

    async def to_pandas(self, rows: str | None = None) -> pandas.DataFrame:
        """Fetch the pages (as ``await pager`` does) and return their rows as one pandas
        DataFrame (``pip install 'kiwoom-async[pandas]'``)."""
        from ..dataframes import to_pandas

        return to_pandas(await self.all(), rows, model=self._model)

    async def to_polars(self, rows: str | None = None) -> polars.DataFrame:
        """Fetch the pages (as ``await pager`` does) and return their rows as one polars
        DataFrame (``pip install 'kiwoom-async[polars]'``)."""
        from ..dataframes import to_polars

        return to_polars(await self.all(), rows, model=self._model)


class TRGroup:
    """Base of ``kw.quote`` / ``kw.order`` / ``kw.account`` / ``kw.chart``."""

    def __init__(self, rest: RestSession) -> None:
        self.rest = rest

    def __repr__(self) -> str:
        return f"<{type(self).__name__} env={self.rest.tokens.env!r}>"

    async def _call(self, request: TRRequest, model: type[ModelT]) -> ModelT:
        response = await self.rest.call(request.api_id, request.to_body())
        return decode(model, response, self.rest.stats.unknown)

    def _paginate(
        self,
        request: TRRequest,
        model: type[ModelT],
        *,
        max_pages: int | None,
        next_key: str,
    ) -> TypedPager[ModelT]:
        pager = self.rest.paginate(
            request.api_id, request.to_body(), max_pages=max_pages, next_key=next_key
        )
        return TypedPager(pager, model)
