"""The typed models by api_id, loaded on first use: importing the package does not import the
model modules of all 304 TRs, only the group a program touches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, Literal, TypeVar

from kiwoom_async.models._convert import TRRequest, TRResponse
from kiwoom_async.registry import REGISTRY

ModelT = TypeVar("ModelT", TRRequest, TRResponse)


class ModelTable(Mapping[str, type[ModelT]], Generic[ModelT]):
    """``api_id`` -> request or response model of every typed TR, read from the registry."""

    def __init__(self, kind: Literal["request", "response"]) -> None:
        self._kind = kind
        self._ids = tuple(api_id for api_id, spec in REGISTRY.items() if spec.group)
        self._loaded: dict[str, type[ModelT]] = {}

    def __repr__(self) -> str:
        return f"<ModelTable {self._kind} models of {len(self._ids)} TRs>"

    def __getitem__(self, api_id: str) -> type[ModelT]:
        loaded = self._loaded.get(api_id)
        if loaded is not None:
            return loaded
        spec = REGISTRY.get(api_id)
        if spec is None or not spec.group:
            raise KeyError(api_id)
        model = spec.request_model if self._kind == "request" else spec.response_model
        self._loaded[api_id] = model  # type: ignore[assignment]
        return model  # type: ignore[return-value]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, api_id: object) -> bool:
        return isinstance(api_id, str) and api_id in REGISTRY and bool(REGISTRY[api_id].group)
