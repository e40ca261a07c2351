"""The environment label and the host must agree: the label decides the real-money guard."""

from __future__ import annotations

import pytest

from kiwoom_async import Kiwoom


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ("mock", "https://api.kiwoom.com"),
        ("mock", "https://API.kiwoom.com:443/"),
        ("real", "https://mockapi.kiwoom.com"),
    ],
)
def test_a_kiwoom_host_of_the_other_environment_is_refused(env: str, url: str) -> None:
    with pytest.raises(ValueError):
        Kiwoom("k", "s", env=env, base_url=url)
    with pytest.raises(ValueError):
        Kiwoom("k", "s", env=env, ws_url=url.replace("https", "wss"))


def test_the_environment_hosts_and_other_hosts_are_accepted() -> None:
    assert Kiwoom("k", "s", env="real").rest.base_url == "https://api.kiwoom.com"
    assert Kiwoom("k", "s", env="real", base_url="http://127.0.0.1:1").ws_url.startswith("ws://")
    assert Kiwoom("k", "s", env="mock", base_url="https://mockapi.kiwoom.com").env == "mock"
