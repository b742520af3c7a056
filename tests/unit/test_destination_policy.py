"""The destination policy: where an outgoing call may go, for every range of the French plan."""

from __future__ import annotations

import pytest

from reconnect_pbx import prompts
from reconnect_pbx.config import CallbackSettings, ConfigError, load_settings
from reconnect_pbx.services.destination_policy import (
    REFUSAL_PROMPTS,
    Category,
    decide,
    masked,
)

DEFAULTS = CallbackSettings()

# (destination as given, is_callback, expected decision, expected E.164 or None)
CASES = [
    # Geographic 01-05, in every written form.
    ("0142685300", False, "allowed:geographic", "+33142685300"),
    ("0299123456", False, "allowed:geographic", "+33299123456"),
    ("0381234567", False, "allowed:geographic", "+33381234567"),
    ("0491123456", False, "allowed:geographic", "+33491123456"),
    ("0556123456", False, "allowed:geographic", "+33556123456"),
    ("+33142685300", True, "allowed:geographic", "+33142685300"),
    ("0033142685300", False, "allowed:geographic", "+33142685300"),
    # Non-geographic 09.
    ("0912345678", False, "allowed:non-geographic", "+33912345678"),
    ("+33987654321", True, "allowed:non-geographic", "+33987654321"),
    # Free 0800-0805.
    ("0800123456", False, "allowed:free", "+33800123456"),
    ("0805123456", True, "allowed:free", "+33805123456"),
    # Mobiles: callbacks yes, dialled no (defaults).
    ("+33612345678", True, "allowed:mobile", "+33612345678"),
    ("+33756123456", True, "allowed:mobile", "+33756123456"),
    ("0612345678", False, "refused:mobile", "+33612345678"),
    ("0756123456", False, "refused:mobile", "+33756123456"),
    # Shared cost and premium 08.
    ("0806123456", False, "refused:shared-cost", "+33806123456"),
    ("0809123456", False, "refused:shared-cost", "+33809123456"),
    ("0810123456", False, "refused:shared-cost", "+33810123456"),
    ("0811123456", True, "refused:shared-cost", "+33811123456"),
    ("0884123456", False, "refused:shared-cost", "+33884123456"),
    ("0820123456", False, "refused:premium", "+33820123456"),
    ("0825123456", False, "refused:premium", "+33825123456"),
    ("0836123456", False, "refused:premium", "+33836123456"),
    ("0890123456", False, "refused:premium", "+33890123456"),
    ("0899123456", True, "refused:premium", "+33899123456"),
    ("+33899123456", True, "refused:premium", "+33899123456"),
    # Short numbers, whatever the number library thinks they cost.
    ("3949", False, "refused:short", None),
    ("3646", False, "refused:short", None),
    ("1016", False, "refused:short", None),
    ("1099", False, "refused:short", None),
    ("118712", False, "refused:short", None),
    ("118218", True, "refused:short", None),
    ("116123", False, "refused:short", None),
    ("36", False, "refused:short", None),
    # Emergency and social numbers: the advice to dial directly.
    ("15", False, "refused:emergency", None),
    ("17", False, "refused:emergency", None),
    ("18", False, "refused:emergency", None),
    ("112", False, "refused:emergency", None),
    ("114", False, "refused:emergency", None),
    ("115", False, "refused:emergency", None),
    ("119", False, "refused:emergency", None),
    ("3919", False, "refused:emergency", None),
    ("3114", False, "refused:emergency", None),
    ("116117", False, "refused:emergency", None),
    ("+33115", True, "refused:emergency", None),
    # International.
    ("0044207946000", False, "refused:international", "+44207946000"),
    ("00442079460000", False, "refused:international", "+442079460000"),
    ("+442079460000", True, "refused:international", "+442079460000"),
    ("+12025550123", True, "refused:international", "+12025550123"),
    ("003222222222", False, "refused:international", "+3222222222"),
    # Overseas departments, in the national plan and in their own country codes.
    ("0262201234", False, "refused:overseas", "+33262201234"),
    ("0269601234", False, "refused:overseas", "+33269601234"),
    ("0590201234", False, "refused:overseas", "+33590201234"),
    ("0594201234", False, "refused:overseas", "+33594201234"),
    ("0596123456", False, "refused:overseas", "+33596123456"),
    ("0639101234", True, "refused:overseas", "+33639101234"),
    ("0690001234", True, "refused:overseas", "+33690001234"),
    ("0692001234", True, "refused:overseas", "+33692001234"),
    ("0694201234", True, "refused:overseas", "+33694201234"),
    ("0696001234", True, "refused:overseas", "+33696001234"),
    ("0976201234", False, "refused:overseas", "+33976201234"),
    ("+262262201234", True, "refused:overseas", "+262262201234"),
    ("+590590201234", True, "refused:overseas", "+590590201234"),
    ("+687201234", True, "refused:overseas", "+687201234"),
    # Withheld callers.
    (None, True, "refused:withheld", None),
    ("", True, "refused:withheld", None),
    ("anonymous", True, "refused:withheld", None),
    # Malformed, or not a number once normalised.
    (None, False, "refused:invalid", None),
    ("0142685300&PJSIP/0899123456@trunk", False, "refused:invalid", None),
    ("0142685300&PJSIP/0899123456@trunk", True, "refused:invalid", None),
    ("0142685300,PJSIP/x", True, "refused:invalid", None),
    ("01 42 68 53 00", False, "refused:invalid", None),
    ("0142685300\n", True, "allowed:geographic", "+33142685300"),
    ("sip:0142685300@evil", True, "refused:invalid", None),
    ("++33142685300", True, "refused:invalid", None),
    ("0142", False, "refused:invalid", None),
    ("01426853", False, "refused:invalid", None),
    ("014268530012", False, "refused:invalid", None),
    ("142685300", False, "refused:invalid", None),
    ("0712345678", False, "refused:invalid", "+33712345678"),
    ("0012345678", False, "refused:international", "+12345678"),
    ("0", False, "refused:invalid", None),
    ("*", False, "refused:invalid", None),
    ("+999123456789", True, "refused:invalid", None),
]


@pytest.mark.parametrize(("destination", "is_callback", "expected", "e164"), CASES)
def test_each_range_gets_its_decision(destination: str | None, is_callback: bool, expected: str, e164: str | None) -> None:
    decision = decide(destination, is_callback=is_callback, rules=DEFAULTS)
    assert decision.code == expected
    assert decision.e164 == e164


@pytest.mark.parametrize(("destination", "is_callback", "expected", "e164"), CASES)
def test_only_allowed_decisions_make_a_dial_string_and_it_is_the_e164_number(
    destination: str | None, is_callback: bool, expected: str, e164: str | None
) -> None:
    decision = decide(destination, is_callback=is_callback, rules=DEFAULTS)
    if decision.allowed:
        assert decision.dial_endpoint("trunk") == f"PJSIP/{e164}@trunk"
        assert decision.prompt is None
    else:
        with pytest.raises(ValueError):
            decision.dial_endpoint("trunk")
        assert decision.prompt in prompts.CATALOGUE


def test_every_refusal_has_a_prompt_in_the_catalogue() -> None:
    refused = {c for c in Category} - {Category.GEOGRAPHIC, Category.NON_GEOGRAPHIC, Category.FREE}
    assert set(REFUSAL_PROMPTS) == refused
    assert all(name in prompts.CATALOGUE for name in REFUSAL_PROMPTS.values())


def test_the_dial_string_refuses_a_trunk_name_that_is_not_an_endpoint() -> None:
    decision = decide("0142685300", is_callback=False, rules=DEFAULTS)
    with pytest.raises(ValueError):
        decision.dial_endpoint("trunk&PJSIP/other")


def test_mobile_callbacks_can_be_switched_off() -> None:
    rules = CallbackSettings(allow_mobile_callbacks=False)
    assert decide("+33612345678", is_callback=True, rules=rules).code == "refused:mobile"


def test_dialled_mobiles_can_be_switched_on() -> None:
    rules = CallbackSettings(allow_mobile_calls=True)
    assert decide("0612345678", is_callback=False, rules=rules).code == "allowed:mobile"


def test_a_configured_international_prefix_allows_landlines_and_still_refuses_premium() -> None:
    rules = CallbackSettings(allowed_international_prefixes=("+32",))
    assert decide("003222222222", is_callback=False, rules=rules).code == "allowed:international"
    assert decide("+3290012345", is_callback=True, rules=rules).code == "refused:premium"
    assert decide("+32450001234", is_callback=False, rules=rules).code == "refused:mobile"
    assert decide("+442079460000", is_callback=True, rules=rules).code == "refused:international"


def test_overseas_when_allowed_are_dialled_in_their_own_country_code() -> None:
    rules = CallbackSettings(allow_overseas=True)
    reunion = decide("0262201234", is_callback=False, rules=rules)
    assert (reunion.code, reunion.e164) == ("allowed:overseas", "+262262201234")
    guyane_mobile = decide("0694201234", is_callback=True, rules=rules)
    assert (guyane_mobile.code, guyane_mobile.e164) == ("allowed:overseas", "+594694201234")
    assert decide("+590590201234", is_callback=True, rules=rules).code == "allowed:overseas"


def test_the_emergency_list_is_configurable() -> None:
    rules = CallbackSettings(emergency_numbers=("15", "112"))
    assert decide("115", is_callback=False, rules=rules).code == "refused:short"
    assert decide("112", is_callback=False, rules=rules).code == "refused:emergency"


def test_emergency_withheld_and_dialled_mobiles_do_not_count_towards_suspension() -> None:
    innocent = ["115", "0612345678"]
    for destination in innocent:
        assert not decide(destination, is_callback=False, rules=DEFAULTS).counts_towards_suspension
    assert not decide(None, is_callback=True, rules=DEFAULTS).counts_towards_suspension
    for destination in ["0899123456", "0810123456", "3949", "0044207946000", "0262201234", "0142"]:
        assert decide(destination, is_callback=False, rules=DEFAULTS).counts_towards_suspension


def test_masked_numbers_hide_the_subscriber_part() -> None:
    assert masked("+33142685300") == "+33142******"
    assert masked(None) == "none"
    assert masked("0142&PJSIP") == "unreadable"


def test_the_policy_settings_come_from_the_environment_as_comma_lists(tmp_path) -> None:
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    settings = load_settings(
        empty,
        environ={
            "RECONNECT_CALLBACK_ALLOWED_INTERNATIONAL_PREFIXES": "+32, +41",
            "RECONNECT_CALLBACK_EMERGENCY_NUMBERS": "15,17,18,112",
            "RECONNECT_CALLBACK_ALLOW_MOBILE_CALLBACKS": "no",
        },
    )
    rules = settings.callback
    assert rules.allowed_international_prefixes == ("+32", "+41")
    assert rules.emergency_numbers == ("15", "17", "18", "112")
    assert rules.allow_mobile_callbacks is False
    assert rules.monthly_minutes == 120 and rules.max_call_seconds == 1200


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("RECONNECT_CALLBACK_ALLOWED_INTERNATIONAL_PREFIXES", "32"),
        ("RECONNECT_CALLBACK_EMERGENCY_NUMBERS", "15,PJSIP/x"),
        ("RECONNECT_CALLBACK_TRUNK_ENDPOINT", "trunk&other"),
        ("RECONNECT_CALLBACK_MAX_CALL_SECONDS", "0"),
        ("RECONNECT_CALLBACK_HANGUP_GRACE_SECONDS", "0"),
    ],
)
def test_policy_settings_that_make_no_sense_are_refused_at_start_up(tmp_path, key: str, value: str) -> None:
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    with pytest.raises(ConfigError, match="callback"):
        load_settings(empty, environ={key: value})
