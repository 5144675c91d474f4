"""The bounded memo behind repeated polls: computes once per key, stays
bounded, and never remembers a failure."""

from __future__ import annotations

import pytest

from flask_indox_media import memo
from flask_indox_media.memo import Memo


def test_a_value_is_computed_once_per_key() -> None:
    calls: list[int] = []
    square = Memo(lambda n: calls.append(n) or n * n)
    assert [square(3), square(3), square(4)] == [9, 9, 16]
    assert calls == [3, 4]


def test_it_forgets_everything_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "MEMO_SIZE", 3)
    calls: list[int] = []
    double = Memo(lambda n: calls.append(n) or 2 * n)
    for n in (1, 2, 3, 4, 1):
        double(n)
    assert calls == [1, 2, 3, 4, 1]  # 4 emptied it: 1 is computed again
    assert len(double._values) == 2


def test_a_failure_is_not_remembered() -> None:
    attempts: list[str] = []

    def parse(text: str) -> int:
        attempts.append(text)
        return int(text)

    number = Memo(parse)
    for _ in range(2):
        with pytest.raises(ValueError):
            number("x")
    assert attempts == ["x", "x"]
