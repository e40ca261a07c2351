"""Keys from the environment: the mock keys for mock, the plain ones for real, and an error
that names what is missing without ever showing a value."""

from __future__ import annotations

import pytest

from kiwoom_async import CredentialsError, Kiwoom, KiwoomError
from kiwoom_async._credentials import credentials_from_env
from kiwoom_async.testing import Simulator

REAL = {"KIWOOM_APPKEY": "real-app-0123", "KIWOOM_SECRETKEY": "real-secret-0123"}
MOCK = {"KIWOOM_APPKEY_MOCK": "mock-app-4567", "KIWOOM_SECRETKEY_MOCK": "mock-secret-4567"}


@pytest.mark.parametrize(
    ("environ", "env", "expected"),
    [
        ({**REAL, **MOCK}, None, ("mock-app-4567", "mock-secret-4567", "mock")),
        (
            {**REAL, **MOCK, "KIWOOM_ENV": "real"},
            None,
            ("real-app-0123", "real-secret-0123", "real"),
        ),
        (
            {**REAL, **MOCK, "KIWOOM_ENV": "REAL"},
            "mock",
            ("mock-app-4567", "mock-secret-4567", "mock"),
        ),
        (REAL, "mock", ("real-app-0123", "real-secret-0123", "mock")),  # mock keys only, unsuffixed
    ],
)
def test_the_keys_of_the_chosen_environment_are_read(
    environ: dict[str, str], env: str | None, expected: tuple[str, str, str]
) -> None:
    assert tuple(credentials_from_env(env, environ)) == expected


def test_real_never_falls_back_to_the_mock_keys() -> None:
    with pytest.raises(CredentialsError, match="KIWOOM_APPKEY, KIWOOM_SECRETKEY") as info:
        credentials_from_env("real", MOCK)
    assert "_MOCK" not in str(info.value)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "KIWOOM_APPKEY_MOCK or KIWOOM_APPKEY, KIWOOM_SECRETKEY_MOCK or KIWOOM_SECRETKEY"),
        ({"KIWOOM_APPKEY_MOCK": "mock-app-4567"}, "KIWOOM_SECRETKEY_MOCK or KIWOOM_SECRETKEY"),
        ({"KIWOOM_APPKEY_MOCK": "mock-app-4567", "KIWOOM_SECRETKEY": "  "}, "KIWOOM_SECRETKEY"),
    ],
)
def test_a_missing_key_is_named_and_no_value_is_shown(environ: dict[str, str], named: str) -> None:
    with pytest.raises(CredentialsError) as info:
        credentials_from_env("mock", environ)
    assert isinstance(info.value, KiwoomError)
    assert named in str(info.value)
    assert "mock-app-4567" not in str(info.value)


def test_a_bad_environment_name_is_refused() -> None:
    with pytest.raises(CredentialsError, match="KIWOOM_ENV"):
        credentials_from_env(None, {**REAL, "KIWOOM_ENV": "paper"})


def test_credentials_do_not_show_their_keys() -> None:
    credentials = credentials_from_env("real", REAL)
    assert "real-app-0123" not in repr(credentials) and "real-secret" not in repr(credentials)


async def test_from_env_builds_a_working_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in MOCK.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KIWOOM_ENV", raising=False)
    async with Simulator() as sim:
        async with Kiwoom.from_env(base_url=sim.base_url, requests_per_second=None) as kw:
            assert kw.env == "mock"
            book = await kw.quote.orderbook("005930")
            assert book.return_code == 0
        assert sim.stats.token_issues == 1
