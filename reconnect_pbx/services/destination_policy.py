"""Where an outgoing call may go: one policy for callbacks and for dialled numbers.

Pure: no database, no ARI, no clock. ``decide`` reads the destination as the person gave it (the
digits typed in the main menu, or the stored caller number of a message) and the settings
(``CallbackSettings``), and returns a ``Decision``: allowed or refused, the category, and the E.164
number. The dial string is built from that E.164 alone (``Decision.dial_endpoint``): it comes out of
``phonenumbers.format_number``, never out of the text the caller supplied, and is checked against
``^\\+[1-9][0-9]{6,14}$`` once more before use.

Defaults, for France (the national plan of ``NATIONAL_REGION``)::

    destination                                   decision          category
    01-05 geographic (metropolitan)               allowed           geographic
    09 non-geographic (VoIP)                      allowed           non-geographic
    0800-0805 free numbers                        allowed           free
    06, 07 mobiles, calling back a message        allowed*          mobile           (*allow_mobile_callbacks)
    06, 07 mobiles, dialled from the menu         refused*          mobile           (*allow_mobile_calls)
    0806-0809, 081, 084, 088 (shared cost)        refused           shared-cost
    082, 089, 0836 and any other 08 (premium)     refused           premium
    3xxx, 10xx, 118xxx, 116xxx... (short numbers) refused           short
    15 17 18 112 114 115 119 191 196 116xxx       refused, advice   emergency
      3114 3919 (callback.emergency_numbers)
    overseas: 0262 0263 0269 0590 0594 0596        refused*          overseas         (*allow_overseas)
      0639 069x 0939 0947 0976, +262 +590 ...
    any other country                             refused*          international    (*allowed_international_prefixes)
    no number (withheld caller)                   refused           withheld
    anything else: letters, '&', too short or     refused           invalid
      too long, a range that does not exist

Decisions worth writing down:

- Short numbers are recognised by their form (dialled without a leading 0 or +, at most 6 digits),
  never by the number library's cost data: it calls 3919, a free helpline, premium. Every short
  number is refused; those in ``callback.emergency_numbers`` get the advice instead of a refusal.
- Emergency and social numbers are never connected through the service, on purpose: a call through
  our trunk presents the person's service number and reaches the emergency centre of the trunk's
  area, not the one where the person stands, and the handset's location (AML) is lost; our limits
  (quota, per-call cut, suspension) must never end an emergency call; and every phone reaches these
  numbers for free, even without credit or SIM card (112). So the person hears "hang up and dial it
  directly from your phone, it is free". The attempt is recorded as refused (``refused:emergency``)
  but does not count towards the suspension for repeated refusals, nor do withheld callers and
  mobiles dialled from the menu: those are not signs of fraud.
- Overseas departments share the French national plan (0262 ...) but are billed as international
  by carriers: refused unless ``allow_overseas``; then they are dialled in their own country code
  (+262 262 ...), which is their real E.164 form. The prefixes are listed explicitly (fail closed):
  the number library counts some of them (0596...) as metropolitan.
- A national number is 10 digits with its 0; a shorter or longer one, or 7+ digits without the 0,
  is invalid rather than guessed at.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from reconnect_pbx.config import CallbackSettings

# The national numbering plan the table above describes.
NATIONAL_REGION = "FR"
NATIONAL_COUNTRY_CODE = 33

# What a destination may look like at all: digits, with one leading + at most.
_DESTINATION_FORM = re.compile(r"\+?[0-9]{1,20}")
# The only form a number may have in a dial string.
E164_FORM = re.compile(r"\+[1-9][0-9]{6,14}")
_ENDPOINT_FORM = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What a caller ID says when there is no number.
_WITHHELD_WORDS = frozenset({"", "anonymous", "unknown", "withheld", "private", "restricted", "unavailable"})

# Overseas departments and territories: their own country codes...
OVERSEAS_REGIONS = frozenset({"RE", "YT", "GP", "BL", "MF", "GF", "MQ", "PM", "WF", "PF", "NC"})
# ...which the French national plan reaches with these national prefixes (NSN, without the 0).
OVERSEAS_NATIONAL_PREFIXES = (
    "262", "263", "269", "590", "594", "596",  # fixed lines: Réunion, Mayotte, Antilles, Guyane
    "639", "690", "691", "692", "693", "694", "696", "697",  # mobiles
    "7090", "7091", "7092", "7093",  # mobiles (new ranges)
    "939", "947", "976",  # VoIP
)  # fmt: skip
# The overseas regions whose numbers the national plan reaches, to dial them in their own code.
_NATIONAL_PLAN_OVERSEAS = ("RE", "YT", "GP", "BL", "MF", "GF", "MQ")

FREE_PREFIXES = ("800", "801", "802", "803", "804", "805")
SHARED_COST_PREFIXES = ("806", "807", "808", "809", "81", "84", "88")


class Category(str, enum.Enum):
    GEOGRAPHIC = "geographic"
    NON_GEOGRAPHIC = "non-geographic"
    FREE = "free"
    MOBILE = "mobile"
    INTERNATIONAL = "international"
    OVERSEAS = "overseas"
    PREMIUM = "premium"
    SHARED_COST = "shared-cost"
    SHORT = "short"
    EMERGENCY = "emergency"
    WITHHELD = "withheld"
    INVALID = "invalid"


# What the person hears when a destination is refused.
REFUSAL_PROMPTS: dict[Category, str] = {
    Category.MOBILE: "destination-refused-mobile",
    Category.INTERNATIONAL: "destination-refused-international",
    Category.OVERSEAS: "destination-refused-overseas",
    Category.PREMIUM: "destination-refused-premium",
    Category.SHARED_COST: "destination-refused-special",
    Category.SHORT: "destination-refused-short",
    Category.EMERGENCY: "emergency-dial-directly",
    Category.WITHHELD: "destination-refused-withheld",
    Category.INVALID: "destination-refused-invalid",
}
# Refusals that are no sign of fraud: they never count towards the suspension.
INNOCENT_REFUSALS = frozenset({Category.EMERGENCY, Category.WITHHELD, Category.MOBILE})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    category: Category
    # The number in E.164 when it is one (also for some refusals, for the call record).
    e164: str | None = None

    @property
    def code(self) -> str:
        """What the call record keeps: ``allowed:geographic``, ``refused:premium``..."""
        return f"{'allowed' if self.allowed else 'refused'}:{self.category.value}"

    @property
    def prompt(self) -> str | None:
        """The prompt that says why it is refused; None when allowed."""
        return None if self.allowed else REFUSAL_PROMPTS[self.category]

    @property
    def counts_towards_suspension(self) -> bool:
        return not self.allowed and self.category not in INNOCENT_REFUSALS

    def dial_endpoint(self, trunk: str) -> str:
        """``PJSIP/<E.164>@<trunk>``: the only way a dial string is made."""
        if not self.allowed or self.e164 is None or not E164_FORM.fullmatch(self.e164):
            raise ValueError(f"no dial string for a {self.code} decision")
        if not _ENDPOINT_FORM.fullmatch(trunk):
            raise ValueError(f"{trunk!r} is not a PJSIP endpoint name")
        return f"PJSIP/{self.e164}@{trunk}"


def decide(destination: str | None, *, is_callback: bool, rules: CallbackSettings) -> Decision:
    """Where ``destination`` may be called: typed digits (``is_callback`` False) or the E.164
    number of a message's caller (True; None when the caller withheld the number)."""
    if destination is None:
        return _refused(Category.WITHHELD if is_callback else Category.INVALID)
    text = destination.strip()
    if is_callback and text.lower() in _WITHHELD_WORDS:
        return _refused(Category.WITHHELD)
    if not _DESTINATION_FORM.fullmatch(text):
        return _refused(Category.INVALID)
    if text in rules.emergency_numbers:
        return _refused(Category.EMERGENCY)
    if not text.startswith(("0", "+")):
        # Dialled as a short number (3949, 1016, 118712, 116117...); 7 digits or more without the
        # national 0 is a number typed wrong.
        return _refused(Category.SHORT if len(text) <= 6 else Category.INVALID)
    try:
        parsed = phonenumbers.parse(text, NATIONAL_REGION)
    except phonenumbers.NumberParseException:
        return _refused(Category.INVALID)
    if parsed.country_code == NATIONAL_COUNTRY_CODE:
        return _national(parsed, is_callback=is_callback, rules=rules)
    return _foreign(parsed, is_callback=is_callback, rules=rules)


def _national(parsed: phonenumbers.PhoneNumber, *, is_callback: bool, rules: CallbackSettings) -> Decision:
    nsn = phonenumbers.national_significant_number(parsed)
    if nsn in rules.emergency_numbers:
        return _refused(Category.EMERGENCY)
    if len(nsn) != 9 or parsed.italian_leading_zero:
        return _refused(Category.INVALID)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if nsn.startswith(OVERSEAS_NATIONAL_PREFIXES):
        return _overseas_national(nsn, is_callback=is_callback, rules=rules)
    valid = phonenumbers.is_valid_number(parsed)
    kind = phonenumbers.number_type(parsed)
    first = nsn[0]
    if first in "12345":
        if valid and kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
            return Decision(True, Category.GEOGRAPHIC, e164)
        return _refused(Category.INVALID, e164)
    if first == "9":
        return Decision(True, Category.NON_GEOGRAPHIC, e164) if valid else _refused(Category.INVALID, e164)
    if first in "67":
        if not (valid and kind == PhoneNumberType.MOBILE):
            return _refused(Category.INVALID, e164)
        return Decision(_mobile_allowed(is_callback, rules), Category.MOBILE, e164)
    if first == "8":
        if nsn.startswith(FREE_PREFIXES):
            return Decision(True, Category.FREE, e164) if valid else _refused(Category.INVALID, e164)
        if nsn.startswith(SHARED_COST_PREFIXES):
            return _refused(Category.SHARED_COST, e164)
        # 082, 089, 0836, and any 08 range not listed above: fail closed.
        return _refused(Category.PREMIUM, e164)
    return _refused(Category.INVALID, e164)


def _overseas_national(nsn: str, *, is_callback: bool, rules: CallbackSettings) -> Decision:
    """0262..., 0694...: an overseas number dialled in the national plan."""
    if not rules.allow_overseas:
        return _refused(Category.OVERSEAS, f"+{NATIONAL_COUNTRY_CODE}{nsn}")
    for region in _NATIONAL_PLAN_OVERSEAS:
        code = phonenumbers.country_code_for_region(region)
        candidate = phonenumbers.parse(f"+{code}{nsn}", None)
        if phonenumbers.is_valid_number_for_region(candidate, region):
            return _foreign(candidate, is_callback=is_callback, rules=rules)
    return _refused(Category.INVALID)


def _foreign(parsed: phonenumbers.PhoneNumber, *, is_callback: bool, rules: CallbackSettings) -> Decision:
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    overseas = region in OVERSEAS_REGIONS
    category = Category.OVERSEAS if overseas else Category.INTERNATIONAL
    configured = rules.allow_overseas if overseas else e164.startswith(tuple(rules.allowed_international_prefixes))
    if not configured:
        return _refused(category, e164 if E164_FORM.fullmatch(e164) else None)
    if not phonenumbers.is_valid_number(parsed):
        return _refused(Category.INVALID)
    kind = phonenumbers.number_type(parsed)
    if kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return Decision(True, category, e164)
    if kind == PhoneNumberType.MOBILE:
        if _mobile_allowed(is_callback, rules):
            return Decision(True, category, e164)
        return _refused(Category.MOBILE, e164)
    if kind == PhoneNumberType.SHARED_COST:
        return _refused(Category.SHARED_COST, e164)
    # Premium, UAN, personal numbers, pagers, VoIP abroad, unknown: whatever may cost more.
    return _refused(Category.PREMIUM, e164)


def _mobile_allowed(is_callback: bool, rules: CallbackSettings) -> bool:
    return rules.allow_mobile_callbacks if is_callback else rules.allow_mobile_calls


def _refused(category: Category, e164: str | None = None) -> Decision:
    return Decision(False, category, e164)


def masked(number: str | None) -> str:
    """A number for log lines: its country and first digits, the rest hidden (``+33142******``)."""
    if not number:
        return "none"
    if not E164_FORM.fullmatch(number):
        return "unreadable"
    return number[:-6] + "******"
