"""The PIN policy: every rule, its reason code, generation, failing closed."""

from __future__ import annotations

import pytest

from reconnect_pbx import pin_policy
from reconnect_pbx.pin_policy import WeakPin, check_pin, generate_pin

OWN_NUMBER = "+33142685300"


@pytest.mark.parametrize(
    ("pin", "length", "reason"),
    [
        ("12345", 6, "length"),
        ("1234567", 6, "length"),
        ("", 6, "not-digits"),
        ("12a456", 6, "not-digits"),
        ("12 456", 6, "not-digits"),
        ("١٢٣٤٥٦", 6, "not-digits"),  # Arabic-Indic digits pass str.isdigit() but not the keypad
        ("000000", 6, "repeated"),
        ("7777", 4, "repeated"),
        ("123456", 6, "sequence"),
        ("654321", 6, "sequence"),
        ("890123", 6, "sequence"),
        ("109876", 6, "sequence"),
        ("3456", 4, "sequence"),
        ("121212", 6, "pairs"),
        ("123123", 6, "pairs"),
        ("9191", 4, "pairs"),
        ("12341234", 8, "pairs"),
        ("1987", 4, "year"),
        ("2024", 4, "year"),
        ("198537", 6, "year"),
        ("831999", 6, "year"),
        ("2412", 4, "date"),
        ("1224", 4, "date"),
        ("250385", 6, "date"),
        ("122585", 6, "date"),
        ("850325", 6, "date"),
        ("290285", 6, "date"),
        ("25031985", 8, "date"),
        ("19850325", 8, "date"),
        ("19851399", 8, "year"),
        ("685300", 6, "own-number"),
        ("426853", 6, "own-number"),
        ("147258", 6, "common"),
        ("2580", 4, "common"),
        ("159753", 6, "common"),
    ],
)
def test_weak_pins_are_refused_with_their_reason(pin: str, length: int, reason: str) -> None:
    with pytest.raises(WeakPin) as refused:
        check_pin(pin, length=length, own_number=OWN_NUMBER)
    assert refused.value.reason_code == reason
    assert str(refused.value)


@pytest.mark.parametrize(("pin", "length"), [("483920", 6), ("7391", 4), ("508317", 6), ("60419382", 8)])
def test_ordinary_pins_are_accepted(pin: str, length: int) -> None:
    check_pin(pin, length=length, own_number=OWN_NUMBER)


def test_impossible_dates_are_not_refused_as_dates() -> None:
    # 31 June and month 13 are not dates; 3106 must then pass (it is not a year either).
    check_pin("3106", length=4)
    check_pin("331385", length=6)


def test_a_length_under_four_is_refused_whatever_the_pin() -> None:
    with pytest.raises(WeakPin) as refused:
        check_pin("739", length=3)
    assert refused.value.reason_code == "length"


def test_the_own_number_rule_only_applies_with_a_number() -> None:
    check_pin("685301", length=6)
    with pytest.raises(WeakPin):
        check_pin("685301", length=6, own_number="+33142685301")


def test_an_unexpected_error_refuses_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(pin: str) -> bool:
        raise ZeroDivisionError

    monkeypatch.setattr(pin_policy, "_is_run", broken)
    with pytest.raises(WeakPin) as refused:
        check_pin("483920", length=6)
    assert refused.value.reason_code == "error"


def test_a_pin_that_is_not_text_is_refused() -> None:
    with pytest.raises(WeakPin):
        check_pin(483920, length=6)  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [4, 6, 8])
def test_generated_pins_pass_the_policy_and_vary(length: int) -> None:
    pins = {generate_pin(length, OWN_NUMBER) for _ in range(200)}
    for pin in pins:
        check_pin(pin, length=length, own_number=OWN_NUMBER)
        assert len(pin) == length
    assert len(pins) > 150


def test_generation_refuses_a_length_under_four() -> None:
    with pytest.raises(ValueError):
        generate_pin(3)


def test_generation_fails_closed_when_nothing_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse_all(pin: str, **kwargs: object) -> None:
        raise WeakPin("common", "no")

    monkeypatch.setattr(pin_policy, "check_pin", refuse_all)
    with pytest.raises(RuntimeError):
        generate_pin(6)


def test_common_list_holds_only_pins_no_rule_catches() -> None:
    for pin in pin_policy.COMMON_PINS:
        with pytest.raises(WeakPin) as refused:
            check_pin(pin, length=len(pin))
        assert refused.value.reason_code == "common", pin
