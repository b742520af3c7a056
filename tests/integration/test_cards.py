"""Business cards and leaflet: rendered by the CLI, read back with pdftotext."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx import phone
from reconnect_pbx.db import transaction
from reconnect_pbx.models import (
    AuditEvent,
    Beneficiary,
    Centre,
    Credential,
    Language,
    Mailbox,
    NumberAssignment,
    PhoneNumber,
)
from reconnect_pbx.services import cards, centres, people

ACCESS_NUMBER = "01 84 80 12 34"
WITH_ACCESS_NUMBER = {"RECONNECT_ACCESS_ACCESS_NUMBER": "+33184801234"}


@dataclass(frozen=True)
class Enrolled:
    id: int
    name: str
    national: str
    centre: str
    pin: str


@pytest.fixture
def enrol(session_factory: sessionmaker[Session], unique_name: Any, number_block: Any) -> Iterator[Any]:
    """``enrol(language)`` -> an enrolled person of a centre of their own; all removed afterwards."""
    centre_ids: list[int] = []

    def make(language: Language = Language.FR, name: str = "Zoé Lefèvre-Garçon") -> Enrolled:
        with transaction(session_factory) as session:
            centre = centres.add_centre(session, unique_name("Accueil Saint-Éloi"), actor="pytest")
            centre_ids.append(centre.id)
            e164 = number_block() + "00"
            session.add(PhoneNumber(e164=e164, centre_id=centre.id))
            session.flush()
            enrolment = people.enrol(
                session, centre=centre, display_name=name, language=language, pin_length=6, actor="pytest", number=e164
            )
        return Enrolled(enrolment.beneficiary_id, name, phone.national_format(e164), centre.name, enrolment.pin)

    yield make
    with transaction(session_factory) as session:
        _delete_centres(session, centre_ids)


def _delete_centres(session: Session, centre_ids: list[int]) -> None:
    person_ids = select(Beneficiary.id).where(Beneficiary.centre_id.in_(centre_ids))
    session.execute(delete(AuditEvent).where(AuditEvent.beneficiary_id.in_(person_ids)))
    session.execute(
        delete(AuditEvent).where(AuditEvent.details["centre_id"].as_integer().in_(centre_ids))
    )
    session.execute(delete(Mailbox).where(Mailbox.beneficiary_id.in_(person_ids)))
    session.execute(delete(Credential).where(Credential.beneficiary_id.in_(person_ids)))
    session.execute(delete(NumberAssignment).where(NumberAssignment.beneficiary_id.in_(person_ids)))
    session.execute(delete(Beneficiary).where(Beneficiary.centre_id.in_(centre_ids)))
    session.execute(delete(PhoneNumber).where(PhoneNumber.centre_id.in_(centre_ids)))
    session.execute(delete(Centre).where(Centre.id.in_(centre_ids)))


def pdf_text(path: Path) -> str:
    """The PDF's text with whitespace collapsed (lines wrap where the layout decides)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def pdf_info(path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.stdout.splitlines())}


def assert_one_line_error(result: Any, fragment: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0, result.output
    assert fragment in result.output


def test_card_sheet_holds_ten_cards_with_number_in_groups_access_number_and_centre(cli_runner, enrol, tmp_path):
    person = enrol(Language.FR)
    out = tmp_path / "cards.pdf"

    result = cli_runner("card", str(person.id), "--out", str(out), env=WITH_ACCESS_NUMBER)

    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert person.national.count(" ") == 4  # "09 12 34 56 00"
    assert text.count(person.national) == 10
    assert text.count(f"Mes messages : appeler le {ACCESS_NUMBER}, ou appeler mon numéro et taper *") == 10
    assert text.count(person.centre) == 10
    assert person.name not in text
    info = pdf_info(out)
    assert info["Pages"] == "1"
    assert info["Page size"].startswith("595.276 x 841.89")  # A4


def test_card_shows_the_name_only_when_asked(cli_runner, enrol, tmp_path):
    person = enrol(Language.FR)
    out = tmp_path / "cards.pdf"

    result = cli_runner("card", person.national, "--out", str(out), "--with-name")

    assert result.exit_code == 0, result.output
    assert pdf_text(out).count(person.name) == 10


def test_card_without_access_number_says_to_call_your_own_number_and_press_star(cli_runner, enrol, tmp_path):
    person = enrol(Language.FR)
    out = tmp_path / "cards.pdf"

    result = cli_runner("card", str(person.id), "--out", str(out))

    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert "Mes messages : appeler mon numéro et taper *" in text
    assert "appeler le" not in text


def test_card_is_in_english_for_an_english_speaker(cli_runner, enrol, tmp_path):
    person = enrol(Language.EN)
    out = tmp_path / "cards.pdf"

    result = cli_runner("card", str(person.id), "--out", str(out), env=WITH_ACCESS_NUMBER)

    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert text.count(f"My messages: call {ACCESS_NUMBER}, or call my number and press *") == 10
    assert "Mes messages" not in text


def test_card_prints_the_configured_display_of_the_access_number(cli_runner, enrol, tmp_path):
    person = enrol(Language.FR)
    out = tmp_path / "cards.pdf"

    result = cli_runner(
        "card", str(person.id), "--out", str(out), env={**WITH_ACCESS_NUMBER, "RECONNECT_CARDS_ACCESS_NUMBER_DISPLAY": "3600"}
    )

    assert result.exit_code == 0, result.output
    assert "appeler le 3600," in pdf_text(out)


def test_leaflet_explains_listening_calling_back_calling_out_and_the_pin_but_never_shows_it(cli_runner, enrol, tmp_path):
    person = enrol(Language.FR)
    out = tmp_path / "leaflet.pdf"

    result = cli_runner("leaflet", str(person.id), "--out", str(out), env=WITH_ACCESS_NUMBER)

    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert person.national in text
    assert f"Appelez le {ACCESS_NUMBER}, tapez les 10 chiffres de votre numéro, puis votre code secret." in text
    assert "pendant l’annonce, tapez *" in text
    assert "Pendant ou après le message, tapez 2" in text
    assert "Dans le menu principal, tapez 2, puis le numéro, puis #." in text
    assert "jusqu’à 120 minutes par mois" in text
    assert "Dans le menu principal, tapez 4" in text
    assert "Touche 6 : votre téléphone du moment sonne d’abord" in " ".join(text.split())
    assert person.centre in text
    assert person.pin not in text.replace(" ", "")
    assert pdf_info(out)["Pages"] == "1"


def test_leaflet_shows_the_key_map_on_its_one_page(cli_runner, enrol, tmp_path):
    for language, expected in (
        (Language.FR, ["Les touches", "Pas besoin de # après le numéro ni après le code.",
                       "Partout : 0 menu principal, * revenir en arrière, répéter ou annuler, # valider ou passer.",
                       "5 date et numéro", "0 menu principal", "* aide et # message suivant",
                       "Menu principal : 1 écouter, 2 appeler, * aide, 5 English", "# deux fois pour raccrocher"]),
        (Language.EN, ["The keys", "No # needed after the number or the code.",
                       "Everywhere: 0 main menu, * go back, repeat or cancel, # confirm or skip.",
                       "5 date and number", "0 main menu", "* help and # next message",
                       "Main menu: 1 listen, 2 call, * help, 5 French", "# twice to hang up"]),
    ):  # fmt: skip
        person = enrol(language)
        out = tmp_path / f"leaflet-{language.value}.pdf"
        result = cli_runner("leaflet", str(person.id), "--out", str(out), env=WITH_ACCESS_NUMBER)
        assert result.exit_code == 0, result.output
        text = pdf_text(out)
        assert [line for line in expected if line not in text] == []
        assert pdf_info(out)["Pages"] == "1"


def test_leaflet_is_in_english_for_an_english_speaker(cli_runner, enrol, tmp_path):
    person = enrol(Language.EN)
    out = tmp_path / "leaflet.pdf"

    result = cli_runner("leaflet", str(person.id), "--out", str(out))

    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert "Your personal number" in text
    assert "Call your own number: during the greeting, press *" in text
    assert "During or after the message, press 2" in text
    assert "press 4" in text
    assert "Votre numéro" not in text
    assert person.pin not in text.replace(" ", "")


def test_leaflet_asks_for_the_last_digits_when_only_some_are_typed(cli_runner, enrol, tmp_path):
    person = enrol(Language.EN)
    out = tmp_path / "leaflet.pdf"

    env = {**WITH_ACCESS_NUMBER, "RECONNECT_ACCESS_PERSONAL_NUMBER_DIGITS": "4"}
    result = cli_runner("leaflet", str(person.id), "--out", str(out), env=env)

    assert result.exit_code == 0, result.output
    assert f"Call {ACCESS_NUMBER}, type the last 4 digits of your number" in pdf_text(out)


def test_card_to_standard_output_is_a_pdf(cli_runner, enrol):
    person = enrol(Language.FR)

    result = cli_runner("card", str(person.id), "--out", "-")

    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(b"%PDF-")


def test_card_for_an_unknown_person_is_one_line_and_writes_nothing(cli_runner, tmp_path):
    out = tmp_path / "cards.pdf"

    result = cli_runner("card", "99999999", "--out", str(out))

    assert result.exit_code == 2
    assert_one_line_error(result, "no person with id 99999999")
    assert not out.exists()


def test_leaflet_for_a_closed_person_is_refused_in_one_line(cli_runner, enrol, session_factory, tmp_path):
    person = enrol(Language.FR)
    with transaction(session_factory) as session:
        people.close(session, session.get(Beneficiary, person.id), actor="pytest", quarantine_days=90)
    out = tmp_path / "leaflet.pdf"

    result = cli_runner("leaflet", str(person.id), "--out", str(out))

    assert result.exit_code == 2
    assert_one_line_error(result, "is closed")
    assert not out.exists()


def test_card_into_a_missing_directory_is_one_line(cli_runner, enrol, tmp_path):
    person = enrol(Language.FR)

    result = cli_runner("card", str(person.id), "--out", str(tmp_path / "missing" / "cards.pdf"))

    assert result.exit_code == 1
    assert_one_line_error(result, "cannot write")


def test_every_printed_text_exists_in_every_language():
    keys = {language: set(texts) for language, texts in cards.TEXTS.items()}
    assert set(keys) == set(Language)
    assert keys[Language.FR] == keys[Language.EN]


def test_french_accents_survive_the_built_in_font(tmp_path):
    details = cards.PrintedDetails(
        language=Language.FR,
        number="01 42 68 53 00",
        display_name="Françoise Œuvray-Gaëlle",
        centre_name="Cœur à Cœur — Saint-Éloi",
        access_number=None,
        personal_number_digits=10,
        number_digit_count=10,
        monthly_minutes=120,
        service_name="Reconnect",
    )
    out = tmp_path / "cards.pdf"
    out.write_bytes(cards.render_cards(details, with_name=True))

    text = pdf_text(out)
    assert "Françoise Œuvray-Gaëlle" in text
    assert "Cœur à Cœur — Saint-Éloi" in text
    assert "Mon numéro" in text
