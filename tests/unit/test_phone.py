"""Number normalisation: one stored form, the reasons for refusals."""

from __future__ import annotations

import pytest

from reconnect_pbx.phone import InvalidNumber, caller_e164, digit_forms, national_format, normalise, stored_caller
from reconnect_pbx.services.errors import InvalidInput


@pytest.mark.parametrize(
    "written",
    ["01 42 68 53 00", "0142685300", "0033142685300", "+33 1 42 68 53 00", "+33142685300", "01.42.68.53.00", "(0)1-42-68-53-00"],
)
def test_every_written_form_gives_the_same_e164(written: str) -> None:
    assert normalise(written, "FR", ("FR",)) == "+33142685300"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("01 42 CALL ME", "only digits"),
        ("12", "not a valid number"),
        ("01 42 68 53 00 00 00", "not a valid number"),
        ("+999 1234567", "not a phone number"),
        ("+", "not a phone number"),
    ],
)
def test_malformed_numbers_are_refused_with_a_reason(written: str, reason: str) -> None:
    with pytest.raises(InvalidNumber, match=reason):
        normalise(written, "FR", ("FR",))


def test_a_foreign_number_is_refused_unless_its_region_is_allowed() -> None:
    with pytest.raises(InvalidNumber, match="region BE"):
        normalise("+32 2 555 12 12", "FR", ("FR",))
    assert normalise("+32 2 555 12 12", "FR", ("FR", "BE")) == "+3225551212"


def test_no_allowed_regions_means_any_region() -> None:
    assert normalise("+44 20 7946 0000", "FR", None) == "+442079460000"


def test_the_default_region_reads_national_numbers() -> None:
    assert normalise("02 555 12 12", "BE", None) == "+3225551212"


def test_an_invalid_number_is_a_domain_input_error() -> None:
    assert issubclass(InvalidNumber, InvalidInput)


def test_national_format_is_readable() -> None:
    assert national_format("+33142685300") == "01 42 68 53 00"
    assert national_format("not a number") == "not a number"


def test_digit_forms_are_national_and_international() -> None:
    assert digit_forms("+33142685300") == ["33142685300", "0142685300"]


@pytest.mark.parametrize(
    ("stored", "kept"),
    [
        ("+33142685300", "+33142685300"),
        ("+442079460000", "+442079460000"),
        (None, None),
        ("anonymous", None),
        ("0142685300", None),
        ("01 42 68 53 00", None),
        ("+33 1 42 68 53 00", None),
        ("sip:someone@example.invalid", None),
        ("+0142685300", None),
        ("+1234567890123456", None),
        ("", None),
    ],
)
def test_a_stored_caller_is_kept_only_in_e164_else_it_counts_as_withheld(stored, kept) -> None:
    assert stored_caller(stored) == kept


@pytest.mark.parametrize(
    ("raw", "presentation", "caller"),
    [
        ("0142685300", "allowed", "+33142685300"),
        ("+33 1 42 68 53 00", "allowed_not_screened", "+33142685300"),
        ("01.42.68.53.00", "allowed", "+33142685300"),
        ("0142685300", "prohib", None),
        ("anonymous", "allowed", None),
        ("", "allowed", None),
        ("01 42 CALL ME", "allowed", None),
        ("1" * 40, "allowed", None),
        ("+33+142685300", "allowed", None),
    ],
)
def test_a_caller_id_is_e164_or_withheld(raw, presentation, caller) -> None:
    assert caller_e164(raw, presentation, "FR") == caller
    assert caller is None or stored_caller(caller) == caller
