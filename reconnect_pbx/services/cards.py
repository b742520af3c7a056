"""Printed material for a person: a sheet of business cards and a one-page leaflet (PDF).

The cards are what a person hands to employers, landlords and offices: their number in readable
groups, optionally their name, how they check their messages, and their centre. The leaflet is for
the person alone: how to listen to messages, call back, call out and change the PIN. Neither ever
shows the PIN: this module is never given it.

Both are written in the person's language; every text is in ``TEXTS`` (one entry per language,
same keys). The built-in Helvetica (WinAnsi encoding) covers French (é, à, ç, œ, « », ’), so no
font file has to be shipped.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from reconnect_pbx import phone
from reconnect_pbx.config import Settings
from reconnect_pbx.models import Beneficiary, BeneficiaryStatus, Language, NumberAssignment, PhoneNumber
from reconnect_pbx.services.errors import Conflict

# Card geometry: the ISO 7810 ID-1 size most card holders take, 2 x 5 on an A4 sheet.
CARD_WIDTH = 85 * mm
CARD_HEIGHT = 55 * mm
CARD_COLUMNS = 2
CARD_ROWS = 5
_CARD_PADDING = 5 * mm
# Crop marks sit in the page margin, a little away from the cut so no mark shows on a card.
_CROP_GAP = 2 * mm
_CROP_LENGTH = 6 * mm

_FONT = "Helvetica"
_BOLD = "Helvetica-Bold"

TEXTS: Mapping[Language, Mapping[str, str]] = {
    Language.FR: {
        "card.number_label": "Mon numéro",
        "card.leave_message": "Laissez-moi un message à toute heure, je vous rappelle.",
        "card.check_access": "Mes messages : appeler le {access}, ou appeler mon numéro et taper *",
        "card.check_own": "Mes messages : appeler mon numéro et taper *",
        "leaflet.title": "Votre numéro personnel",
        "leaflet.intro": (
            "Ce numéro est à vous. Donnez-le à qui vous voulez : employeur, propriétaire, administration, "
            "famille. Quand vous ne répondez pas, on peut vous laisser un message à toute heure ; vous "
            "l’écoutez gratuitement depuis n’importe quel téléphone."
        ),
        "leaflet.listen.title": "Écouter vos messages",
        "leaflet.listen.access": (
            "Appelez le {access}, tapez {digits} de votre numéro, puis votre code secret."
        ),
        "leaflet.listen.own_after_access": (
            "Ou appelez votre propre numéro : pendant l’annonce, tapez *, puis votre code secret."
        ),
        "leaflet.listen.own": (
            "Appelez votre propre numéro : pendant l’annonce, tapez *, puis votre code secret."
        ),
        "leaflet.digits.all": "les {count} chiffres",
        "leaflet.digits.last": "les {count} derniers chiffres",
        "leaflet.callback.title": "Rappeler quelqu’un qui vous a laissé un message",
        "leaflet.callback.body": (
            "Pendant ou après le message, tapez 2 : vous êtes mis en relation avec la personne "
            "qui l’a laissé."
        ),
        "leaflet.call.title": "Appeler un numéro fixe",
        "leaflet.call.body": (
            "Dans le menu principal, tapez 2, puis le numéro, puis #."
        ),
        "leaflet.call.free": "Vos appels sont gratuits, jusqu’à {minutes} minutes par mois.",
        "leaflet.pin.title": "Changer votre code secret",
        "leaflet.pin.body": "Dans le menu principal, tapez 4, puis suivez les instructions.",
        "leaflet.pin.secret": (
            "Gardez votre code pour vous : ne le donnez à personne et ne l’écrivez pas sur cette feuille."
        ),
        "leaflet.keys.phone": "Touche 6 : votre téléphone du moment sonne d’abord et vous prévient des messages.",
        "leaflet.keys.title": "Les touches",
        "leaflet.keys.start": (
            "Après votre code, vos nouveaux messages sont lus tout de suite, puis vient le menu principal. "
            "Pas besoin de # après le numéro ni après le code."
        ),
        "leaflet.keys.always": (
            "Partout : 0 menu principal, * revenir en arrière, répéter ou annuler, # valider ou passer."
        ),
        "leaflet.keys.message": (
            "Pendant ou après un message : 1 réécouter, 2 rappeler, 3 effacer (encore 3 : récupérer), "
            "4 précédent, 5 date et numéro, 6 suivant, 9 garder, 0 menu principal. Pendant l’écoute, "
            "* recule et # avance de 5 secondes ; après, * aide et # message suivant."
        ),
        "leaflet.keys.menu": (
            "Menu principal : 1 écouter, 2 appeler, * aide, 5 English ; aussi 3 annonce, "
            "4 code secret, # deux fois pour raccrocher."
        ),
        "leaflet.help.title": "Besoin d’aide, code oublié ?",
        "leaflet.help.body": "Adressez-vous à l’équipe de {centre}.",
    },
    Language.EN: {
        "card.number_label": "My number",
        "card.leave_message": "Leave me a message at any time, I will call you back.",
        "card.check_access": "My messages: call {access}, or call my number and press *",
        "card.check_own": "My messages: call my number and press *",
        "leaflet.title": "Your personal number",
        "leaflet.intro": (
            "This number is yours. Give it to anyone you like: employers, landlords, offices, family. "
            "When you do not answer, people can leave you a message at any time; you listen to it for "
            "free from any phone."
        ),
        "leaflet.listen.title": "Listen to your messages",
        "leaflet.listen.access": "Call {access}, type {digits} of your number, then your secret code.",
        "leaflet.listen.own_after_access": (
            "Or call your own number: during the greeting, press *, then type your secret code."
        ),
        "leaflet.listen.own": (
            "Call your own number: during the greeting, press *, then type your secret code."
        ),
        "leaflet.digits.all": "the {count} digits",
        "leaflet.digits.last": "the last {count} digits",
        "leaflet.callback.title": "Call back someone who left you a message",
        "leaflet.callback.body": (
            "During or after the message, press 2: you are put through to the person who left it."
        ),
        "leaflet.call.title": "Call a landline",
        "leaflet.call.body": "In the main menu, press 2, dial the number, then press #.",
        "leaflet.call.free": "Your calls are free, up to {minutes} minutes a month.",
        "leaflet.pin.title": "Change your secret code",
        "leaflet.pin.body": "In the main menu, press 4, then follow the instructions.",
        "leaflet.pin.secret": (
            "Keep your code to yourself: never give it to anyone and never write it on this sheet."
        ),
        "leaflet.keys.phone": "Key 6: the phone you have now rings first and tells you of new messages.",
        "leaflet.keys.title": "The keys",
        "leaflet.keys.start": (
            "After your code, your new messages are played at once, then comes the main menu. "
            "No # needed after the number or the code."
        ),
        "leaflet.keys.always": (
            "Everywhere: 0 main menu, * go back, repeat or cancel, # confirm or skip."
        ),
        "leaflet.keys.message": (
            "During or after a message: 1 replay, 2 call back, 3 delete (3 again: restore), 4 previous, "
            "5 date and number, 6 next, 9 keep, 0 main menu. While it plays, * goes back and # forward "
            "5 seconds; after it, * help and # next message."
        ),
        "leaflet.keys.menu": (
            "Main menu: 1 listen, 2 call, * help, 5 French; also 3 greeting, 4 secret code, "
            "# twice to hang up."
        ),
        "leaflet.help.title": "Need help, forgot your code?",
        "leaflet.help.body": "Ask the team at {centre}.",
    },
}


@dataclass(frozen=True)
class PrintedDetails:
    """Everything printed about a person: deliberately no PIN, no id, no history."""

    language: Language
    # The personal number in national form, in groups: "01 42 68 53 00".
    number: str
    display_name: str
    centre_name: str
    # The access number in readable form, or None when there is none.
    access_number: str | None
    # How many digits of their number a person types at the access number.
    personal_number_digits: int
    number_digit_count: int
    monthly_minutes: int
    service_name: str

    def text(self, key: str, **values: object) -> str:
        """The text ``key`` in the person's language; lines never break inside a phone number,
        nor (in French) before ``:`` or ``?``."""
        text = TEXTS[self.language][key].format(**{k: _unbreakable(str(v)) for k, v in values.items()})
        if self.language == Language.FR:
            text = text.replace(" :", _NBSP + ":").replace(" ?", _NBSP + "?")
        return text


_NBSP = "\u00a0"


def _unbreakable(text: str) -> str:
    return text.replace(" ", _NBSP)


def printed_details(session: Session, beneficiary: Beneficiary, settings: Settings) -> PrintedDetails:
    """What the card and leaflet of ``beneficiary`` show; refused for a closed person or no number."""
    if beneficiary.status == BeneficiaryStatus.CLOSED:
        raise Conflict(f"person {beneficiary.id} is closed: their number is no longer theirs")
    e164 = session.scalar(
        select(PhoneNumber.e164)
        .join(NumberAssignment, NumberAssignment.phone_number_id == PhoneNumber.id)
        .where(NumberAssignment.beneficiary_id == beneficiary.id, NumberAssignment.ended_at.is_(None))
    )
    if e164 is None:
        raise Conflict(f"person {beneficiary.id} holds no number")
    national = phone.national_format(e164)
    return PrintedDetails(
        language=Language(beneficiary.language),
        number=national,
        display_name=beneficiary.display_name,
        centre_name=beneficiary.centre.name,
        access_number=_access_number(settings),
        personal_number_digits=settings.access.personal_number_digits,
        number_digit_count=sum(ch.isdigit() for ch in national),
        monthly_minutes=settings.callback.monthly_minutes,
        service_name=settings.cards.service_name,
    )


def _access_number(settings: Settings) -> str | None:
    if settings.cards.access_number_display.strip():
        return settings.cards.access_number_display.strip()
    raw = settings.access.access_number.strip()
    if not raw:
        return None
    try:
        return phone.national_format(phone.normalise(raw, settings.numbers.default_region))
    except phone.InvalidNumber:
        # An internal DID that is not a public number: print it as configured.
        return raw


# ---------------------------------------------------------------------------------------------
# Business cards


def render_cards(details: PrintedDetails, *, with_name: bool) -> bytes:
    """An A4 PDF of ten identical cards (2 x 5, centred) with crop marks."""
    buffer = io.BytesIO()
    page_width, page_height = A4
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(details.service_name)
    grid_width = CARD_COLUMNS * CARD_WIDTH
    grid_height = CARD_ROWS * CARD_HEIGHT
    left = (page_width - grid_width) / 2
    bottom = (page_height - grid_height) / 2
    for row in range(CARD_ROWS):
        for column in range(CARD_COLUMNS):
            _draw_card(canvas, left + column * CARD_WIDTH, bottom + row * CARD_HEIGHT, details, with_name)
    _draw_crop_marks(canvas, left, bottom, grid_width, grid_height)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_card(canvas: Canvas, x: float, y: float, details: PrintedDetails, with_name: bool) -> None:
    inner_width = CARD_WIDTH - 2 * _CARD_PADDING
    left = x + _CARD_PADDING
    top = y + CARD_HEIGHT - _CARD_PADDING

    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.setFont(_FONT, 7)
    canvas.drawString(left, top - 7, details.service_name)
    cursor = top - 7

    canvas.setFillColor(colors.black)
    if with_name:
        size = _fit(details.display_name, _BOLD, 11, inner_width, minimum=7)
        canvas.setFont(_BOLD, size)
        cursor -= size + 4
        canvas.drawString(left, cursor, _truncate(details.display_name, _BOLD, size, inner_width))

    canvas.setFont(_FONT, 7)
    cursor -= 11
    canvas.drawString(left, cursor, details.text("card.number_label"))
    size = _fit(details.number, _BOLD, 20, inner_width, minimum=12)
    canvas.setFont(_BOLD, size)
    cursor -= size + 1
    canvas.drawString(left, cursor, details.number)

    cursor -= 10
    cursor = _draw_lines(canvas, left, cursor, details.text("card.leave_message"), _FONT, 7.5, inner_width)

    if details.access_number:
        check = details.text("card.check_access", access=details.access_number)
    else:
        check = details.text("card.check_own")
    canvas.setFillColor(colors.HexColor("#333333"))
    _draw_lines(canvas, left, cursor - 2, check, _FONT, 6.5, inner_width)

    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.setFont(_FONT, 6.5)
    canvas.drawString(left, y + _CARD_PADDING, _truncate(details.centre_name, _FONT, 6.5, inner_width))
    canvas.setFillColor(colors.black)


def _draw_lines(canvas: Canvas, x: float, top: float, text: str, font: str, size: float, width: float) -> float:
    """Wrapped text whose first baseline is ``top``; returns the baseline after the last line."""
    canvas.setFont(font, size)
    leading = size * 1.25
    for line in _wrap(text, font, size, width):
        canvas.drawString(x, top, line)
        top -= leading
    return top


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width``, broken at ordinary spaces only (reportlab's simpleSplit also
    breaks at no-break spaces, which would cut a phone number in two)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and stringWidth(lines[-1] + " " + word, font, size) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _fit(text: str, font: str, size: float, width: float, minimum: float) -> float:
    while size > minimum and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _truncate(text: str, font: str, size: float, width: float) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_crop_marks(canvas: Canvas, left: float, bottom: float, width: float, height: float) -> None:
    canvas.setStrokeColor(colors.black)
    canvas.setLineWidth(0.25)
    top, right = bottom + height, left + width
    for column in range(CARD_COLUMNS + 1):
        x = left + column * CARD_WIDTH
        canvas.line(x, top + _CROP_GAP, x, top + _CROP_GAP + _CROP_LENGTH)
        canvas.line(x, bottom - _CROP_GAP, x, bottom - _CROP_GAP - _CROP_LENGTH)
    for row in range(CARD_ROWS + 1):
        y = bottom + row * CARD_HEIGHT
        canvas.line(left - _CROP_GAP, y, left - _CROP_GAP - _CROP_LENGTH, y)
        canvas.line(right + _CROP_GAP, y, right + _CROP_GAP + _CROP_LENGTH, y)


# ---------------------------------------------------------------------------------------------
# Leaflet


def render_leaflet(details: PrintedDetails) -> bytes:
    """One A4 page: the number, then how to listen, call back, call out and change the PIN, and the
    keys (keep ``leaflet.keys.*`` in step with flows/access.py and flows/listening.py)."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=details.service_name,
    )
    styles = _leaflet_styles()

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(escape(text), styles[style])

    def section(title_key: str, *lines: str) -> KeepTogether:
        return KeepTogether([para(details.text(title_key), "heading"), *(para(line, "body") for line in lines)])

    if details.personal_number_digits >= details.number_digit_count:
        digits = details.text("leaflet.digits.all", count=details.number_digit_count)
    else:
        digits = details.text("leaflet.digits.last", count=details.personal_number_digits)
    if details.access_number:
        listen = (
            details.text("leaflet.listen.access", access=details.access_number, digits=digits),
            details.text("leaflet.listen.own_after_access"),
        )
    else:
        listen = (details.text("leaflet.listen.own"),)

    story = [
        para(details.service_name, "service"),
        para(details.text("leaflet.title"), "title"),
        para(details.number, "number"),
        para(details.text("leaflet.intro"), "body"),
        Spacer(1, 3 * mm),
        section("leaflet.listen.title", *listen),
        section("leaflet.callback.title", details.text("leaflet.callback.body")),
        section(
            "leaflet.call.title",
            details.text("leaflet.call.body"),
            details.text("leaflet.call.free", minutes=details.monthly_minutes),
        ),
        section("leaflet.pin.title", details.text("leaflet.pin.body"), details.text("leaflet.pin.secret")),
        KeepTogether(
            [
                para(details.text("leaflet.keys.title"), "heading"),
                *(
                    para(details.text(key), "keys")
                    for key in (
                        "leaflet.keys.start", "leaflet.keys.always", "leaflet.keys.message", "leaflet.keys.menu",
                        "leaflet.keys.phone",
                    )
                ),
            ]
        ),
        section("leaflet.help.title", details.text("leaflet.help.body", centre=details.centre_name)),
    ]
    document.build(story)
    return buffer.getvalue()


def _leaflet_styles() -> dict[str, ParagraphStyle]:
    return {
        "service": ParagraphStyle("service", fontName=_FONT, fontSize=10, leading=12, textColor=colors.HexColor("#555555")),
        "title": ParagraphStyle("title", fontName=_BOLD, fontSize=20, leading=24, spaceBefore=4 * mm),
        # Large enough to read without glasses, and to copy out without a mistake.
        "number": ParagraphStyle("number", fontName=_BOLD, fontSize=34, leading=40, spaceBefore=3 * mm, spaceAfter=5 * mm),
        "heading": ParagraphStyle("heading", fontName=_BOLD, fontSize=14, leading=18, spaceBefore=5 * mm, spaceAfter=1.5 * mm),
        "body": ParagraphStyle("body", fontName=_FONT, fontSize=12, leading=16, spaceAfter=1.5 * mm),
        # The key map: a reminder to keep by the phone, smaller so that the page stays one page.
        "keys": ParagraphStyle("keys", fontName=_FONT, fontSize=10.5, leading=13.5, spaceAfter=1 * mm),
    }
