"""Which numbers may be a person's current phone (services/current_phone.check_number): French
mobiles and landlines only, whatever the callback settings allow."""

from __future__ import annotations

import pytest

from reconnect_pbx.config import CallbackSettings
from reconnect_pbx.services.current_phone import PhoneRefused, check_number
from reconnect_pbx.services.destination_policy import Category

DEFAULT = CallbackSettings()
# Settings that open callbacks wide: none of it opens the current phone abroad.
WIDE = CallbackSettings(allow_overseas=True, allowed_international_prefixes=("+32", "+44"), allow_mobile_callbacks=False)


@pytest.mark.parametrize("rules", [DEFAULT, WIDE], ids=["default", "wide"])
@pytest.mark.parametrize(
    "typed, e164, category",
    [
        ("06 12 34 56 78", "+33612345678", Category.MOBILE),
        ("07.81.23.45.67", "+33781234567", Category.MOBILE),
        ("+33 1 42 68 53 00", "+33142685300", Category.GEOGRAPHIC),
        ("0972123456", "+33972123456", Category.NON_GEOGRAPHIC),
    ],
)
def test_french_mobiles_and_landlines_are_accepted(rules, typed, e164, category):
    decision = check_number(typed, rules=rules)
    assert (decision.allowed, decision.e164, decision.category) == (True, e164, category)


@pytest.mark.parametrize("rules", [DEFAULT, WIDE], ids=["default", "wide"])
@pytest.mark.parametrize(
    "typed, category",
    [
        ("0899123456", Category.PREMIUM),
        ("0810123456", Category.SHARED_COST),
        ("0800123456", Category.FREE),
        ("3949", Category.SHORT),
        ("112", Category.EMERGENCY),
        ("0262123456", Category.OVERSEAS),
        ("0694123456", Category.OVERSEAS),
        ("+3222123456", Category.INTERNATIONAL),
        ("+447911123456", Category.INTERNATIONAL),
        ("", Category.WITHHELD),
        ("0612", Category.INVALID),
        ("0612345678&", Category.INVALID),
    ],
)
def test_everything_else_is_refused_with_its_category(rules, typed, category):
    with pytest.raises(PhoneRefused) as refused:
        check_number(typed, rules=rules)
    # (With the wide settings, overseas and international numbers are allowed for callbacks: still
    # refused here, and said so.)
    assert not refused.value.decision.allowed
    assert refused.value.decision.category == category
    assert category.value.split("-")[0] in str(refused.value) or category in (Category.WITHHELD, Category.INVALID)
