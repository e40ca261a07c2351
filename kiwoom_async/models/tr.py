"""Every typed TR by api_id: :func:`decode_response`, :func:`build_request` and the model
tables, for code that holds an api_id rather than a model class."""

from kiwoom_async._generated.tr_models import (
    REQUEST_MODELS,
    RESPONSE_MODELS,
    build_request,
    decode_response,
)

__all__ = ["REQUEST_MODELS", "RESPONSE_MODELS", "build_request", "decode_response"]
