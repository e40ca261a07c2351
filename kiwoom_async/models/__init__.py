"""msgspec models: typed TR requests and responses, realtime events, number parsing.

Every TR model class is reachable here by name (``kiwoom_async.models.OrderBook``); its
group's module is imported on first use, so importing the package stays cheap.

Models never import sessions: data flows from the sessions into these types, not back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kiwoom_async._generated.models import CLASS_MODULES
from kiwoom_async.models._convert import ResponseDecodeError, TRRequest, TRResponse
from kiwoom_async.models.tr import REQUEST_MODELS, RESPONSE_MODELS, build_request, decode_response

if TYPE_CHECKING:
    from kiwoom_async._generated.models import *  # noqa: F403  (typed names for checkers)

__all__ = [
    "REQUEST_MODELS",
    "RESPONSE_MODELS",
    "ResponseDecodeError",
    "TRRequest",
    "TRResponse",
    "build_request",
    "decode_response",
]


def __getattr__(name: str) -> Any:
    module = CLASS_MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"kiwoom_async._generated.models.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *CLASS_MODULES})
