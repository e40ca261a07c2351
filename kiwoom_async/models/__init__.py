"""msgspec models: typed TR requests and responses, realtime events, number parsing.

Models never import sessions: data flows from the sessions into these types, not back.
"""

from kiwoom_async.models._convert import ResponseDecodeError, TRRequest, TRResponse
from kiwoom_async.models.tr import REQUEST_MODELS, RESPONSE_MODELS, build_request, decode_response

__all__ = [
    "REQUEST_MODELS",
    "RESPONSE_MODELS",
    "ResponseDecodeError",
    "TRRequest",
    "TRResponse",
    "build_request",
    "decode_response",
]
