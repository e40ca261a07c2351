from __future__ import annotations

import pytest

from kiwoom_async._codes import Outcome, classify, detail_code, return_code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, 0), ("0", 0), ("0000", 0), (" 5 ", 5), (3, 3), (None, -1), ("x", -1), (True, -1)],
)
def test_return_code_is_normalised(raw: object, expected: int) -> None:
    assert return_code(raw) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("인증에 실패했습니다[8005:Token이 유효하지 않습니다]", 8005),
        ("허용된 요청 개수를 초과하였습니다[1700:허용된 ... API ID=kt00001]", 1700),
        ("허용된 요청 개수를 초과하였습니다[1634]", 1634),
        ("[2000](RC4058:모의투자 장종료)", 2000),
        ("LOGIN failed CODE=8005 token", 8005),
        ("정상적으로 처리되었습니다", None),
    ],
)
def test_detail_code_is_found_in_every_documented_form(message: str, expected: int | None) -> None:
    assert detail_code(message) == expected


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("", Outcome.RATE_LIMIT),
        ("허용된 요청 개수를 초과하였습니다", Outcome.RATE_LIMIT),
        ("요청 유량 초과", Outcome.RATE_LIMIT),
        ("종목코드 오류", Outcome.API),
        ("조회할 자료가 없습니다", Outcome.API),
    ],
)
def test_return_code_5_without_a_detail_is_rate_limiting_only_in_the_limits_words(
    message: str, outcome: Outcome
) -> None:
    assert classify(200, 5, None, message) is outcome


@pytest.mark.parametrize(
    ("status", "code", "detail", "outcome"),
    [
        (200, 0, None, Outcome.OK),
        (401, -1, None, Outcome.TOKEN),
        (200, 3, 8005, Outcome.TOKEN),
        (200, 3, 8031, Outcome.TOKEN),
        (200, 3, 8103, Outcome.TOKEN),
        (200, 3, None, Outcome.TOKEN),
        (200, 8005, None, Outcome.TOKEN),
        (200, 3, 8001, Outcome.AUTH),
        (200, 8030, None, Outcome.AUTH),
        (200, 5, 1700, Outcome.RATE_LIMIT),
        (200, 5, 1701, Outcome.RATE_LIMIT),
        (200, 5, 1702, Outcome.RATE_LIMIT),
        (200, 5, None, Outcome.RATE_LIMIT),
        (200, 1700, None, Outcome.RATE_LIMIT),
        (429, 5, 1700, Outcome.RATE_LIMIT),
        (200, 5, 1634, Outcome.API),
        (200, 20, 2000, Outcome.ORDER_REJECTED),
        (200, 1511, None, Outcome.API),
    ],
)
def test_classification_table(status: int, code: int, detail: int | None, outcome: Outcome) -> None:
    assert classify(status, code, detail) is outcome
