"""App keys from the environment: ``KIWOOM_APPKEY``, ``KIWOOM_SECRETKEY``, ``KIWOOM_ENV``.

Real and mock need separate keys, so the mock environment reads ``KIWOOM_APPKEY_MOCK`` and
``KIWOOM_SECRETKEY_MOCK`` first and falls back to the plain names (a user with mock keys
only). The real environment reads the plain names only: a mock key must never be sent to
the real server by accident. An error names the variables it looked for, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from ._env import Env, check_env
from .errors import KiwoomValidationError

__all__ = ["Credentials", "CredentialsError", "credentials_from_env"]


class CredentialsError(KiwoomValidationError):
    """The environment lacks an app key or secret key (or names no valid environment)."""


class Credentials(NamedTuple):
    appkey: str
    secretkey: str
    env: Env

    def __repr__(self) -> str:
        return f"Credentials(env={self.env!r}, appkey=***, secretkey=***)"


def credentials_from_env(
    env: str | None = None, environ: Mapping[str, str] | None = None
) -> Credentials:
    """The keys for ``env`` (default: ``KIWOOM_ENV``, else ``"mock"``)."""
    source = os.environ if environ is None else environ
    chosen = env if env is not None else source.get("KIWOOM_ENV", "").strip() or "mock"
    try:
        checked = check_env(chosen.lower())
    except KiwoomValidationError:
        raise CredentialsError(f'KIWOOM_ENV must be "real" or "mock", not {chosen!r}') from None
    suffixes = ("_MOCK", "") if checked == "mock" else ("",)
    found: dict[str, str] = {}
    for name in ("APPKEY", "SECRETKEY"):
        for suffix in suffixes:
            value = source.get(f"KIWOOM_{name}{suffix}", "").strip()
            if value:
                found[name] = value
                break
    missing = [name for name in ("APPKEY", "SECRETKEY") if name not in found]
    if missing:
        wanted = " or ".join(f"KIWOOM_{missing[0]}{s}" for s in suffixes)
        names = ", ".join(" or ".join(f"KIWOOM_{m}{s}" for s in suffixes) for m in missing)
        raise CredentialsError(
            f"no {checked} app key in the environment: set {names}"
            + ("" if len(missing) > 1 else f" ({wanted} is empty or unset)")
        )
    return Credentials(found["APPKEY"], found["SECRETKEY"], checked)
