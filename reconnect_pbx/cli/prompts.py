"""``prompts``: the association's own voice, as PBXs' "system recordings" (services/prompt_sets.py)."""

from __future__ import annotations

import asyncio
import tempfile
import wave
from pathlib import Path

import click

from reconnect_pbx import prompts as catalogue
from reconnect_pbx.ari.errors import AriError
from reconnect_pbx.cli.context import App, InputError, pass_app
from reconnect_pbx.cli.output import json_option, print_json
from reconnect_pbx.config import Settings
from reconnect_pbx.flows import record_prompt
from reconnect_pbx.services import audit, destination_policy, prompt_sets

DEFAULT_SET = "association"


@click.group("prompts")
def prompts_group() -> None:
    """Prompt sets recorded by the association, instead of the synthetic voice."""


@prompts_group.command("import")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--language", type=click.Choice(catalogue.LANGUAGES), default="fr", show_default=True)
@click.option("--set", "set_name", default=DEFAULT_SET, show_default=True, help="The prompt set to make or add to.")
@pass_app
def import_command(app: App, folder: Path, language: str, set_name: str) -> None:
    """Install the recordings in FOLDER, one file per prompt named after it (goodbye.wav,
    main-menu.mp3: any format sox reads), as set SET.

    Each is converted to 8 kHz mono 16-bit, its silence trimmed, its level set as the shipped
    voice's. Prompts not recorded yet keep the synthetic voice. Files whose name is no prompt, or
    whose audio cannot be read, are refused one line each (exit 2) and nothing is written for them.
    Play the set with voicemail.prompt_set = "SET"; `prompts status` says what is left to record.
    """
    sounds_dir = Path(app.settings.asterisk.sounds_dir)
    result = prompt_sets.import_recordings(sounds_dir, set_name, language, folder)
    for refusal in result.refused:
        click.echo(f"refused {refusal.file}: {refusal.reason}", err=True)
    made = "made" if result.created else "updated"
    if result.imported:
        click.echo(f"set {set_name} {made} in {result.folder}: {len(result.imported)} {language} prompt(s) imported")
    if result.refused:
        raise InputError(f"{len(result.refused)} file(s) refused, {len(result.imported)} imported")


@prompts_group.command("record")
@click.argument("name")
@click.option("--number", required=True, help="The operator's phone: the service calls it (callback rules apply).")
@click.option("--language", type=click.Choice(catalogue.LANGUAGES), default="fr", show_default=True)
@click.option("--set", "set_name", default=DEFAULT_SET, show_default=True, help="The prompt set to make or add to.")
@pass_app
def record_command(app: App, name: str, number: str, language: str, set_name: str) -> None:
    """Record prompt NAME by phone: the service calls --number, plays the prompt as it is now,
    then a beep; say it, then press # (or stop talking). Installed as with `prompts import`.

    Only from the server (it needs the service's ARI password). The number must be one the
    callback rules allow (no premium, short or international number); the call is cut after
    three minutes.
    """
    settings = app.settings
    if name not in catalogue.CATALOGUE:
        raise InputError(f"no prompt named {name!r} in the catalogue")
    sounds_dir = Path(settings.asterisk.sounds_dir)
    folder = prompt_sets.own_set_folder(sounds_dir, set_name, language)
    decision = destination_policy.decide(number, is_callback=False, rules=settings.callback)
    if not decision.allowed:
        raise InputError(f"{number} cannot be called ({decision.code}): give a landline or mobile number in France")
    with app.transaction() as session:  # every call the service pays for is on record, before it is made
        audit.record(
            session, app.operator, "prompts.record", prompt=name, language=language, prompt_set=set_name,
            destination=destination_policy.masked(decision.e164),
        )  # fmt: skip
    current = set_name if (folder / language / f"{name}.wav").is_file() else prompt_sets.SHIPPED_SET
    reference = [catalogue.media(name, language, current)]
    audio = asyncio.run(_record(settings, decision.dial_endpoint(settings.callback.trunk_endpoint), reference))
    with tempfile.NamedTemporaryFile(suffix=".wav") as recording:
        Path(recording.name).write_bytes(audio)
        installed = prompt_sets.install_recording(sounds_dir, set_name, language, name, Path(recording.name))
    with wave.open(str(installed), "rb") as made:
        seconds = made.getnframes() / made.getframerate()
    click.echo(f"recorded {name} ({language}, {seconds:.1f} s) into set {set_name}: {installed}")


async def _record(settings: Settings, endpoint: str, reference: list[str]) -> bytes:
    ari = settings.ari
    client = record_prompt.make_client(ari.url, ari.username, ari.password, ari.request_timeout_seconds)
    events = None
    try:
        events = await record_prompt.connected(client, ari.request_timeout_seconds)
        caller_id = settings.access.access_number or None
        return await record_prompt.record_by_phone(client, endpoint, reference, caller_id=caller_id)
    except record_prompt.RecordingNotMade as error:
        raise click.ClickException(f"nothing recorded: {error}") from None
    except AriError as error:
        raise click.ClickException(f"nothing recorded: ARI at {ari.url}: {error}") from None
    finally:
        await client.close()
        if events is not None:
            events.cancel()
            await asyncio.gather(events, return_exceptions=True)


@prompts_group.command("status")
@click.option("--set", "set_name", help="The prompt set (default: voicemail.prompt_set).")
@json_option
@pass_app
def status_command(app: App, set_name: str | None, as_json: bool) -> None:
    """Per language, which prompts the association recorded and which still use the synthetic
    voice (or are missing), and the sentences joined at run time that would mix two voices."""
    set_name = set_name or app.settings.voicemail.prompt_set
    languages = prompt_sets.status(Path(app.settings.asterisk.sounds_dir), set_name)
    if as_json:
        print_json({"set": set_name, "languages": [vars(language) for language in languages]})
        return
    for s in languages:
        click.echo(
            f"{s.language}: {len(s.recorded)} of {len(catalogue.CATALOGUE)} prompts recorded by the association,"
            f" {len(s.outdated)} recorded for an older text, {len(s.synthetic)} synthetic, {len(s.missing)} missing"
        )
        for label, names in (
            ("recorded", s.recorded), ("older text", s.outdated), ("synthetic", s.synthetic), ("missing", s.missing),
        ):  # fmt: skip
            if names:
                click.echo(f"  {label}: {', '.join(names)}")
        if not s.mixed:
            click.echo("  one voice in every sentence")
        for sentence, voices in s.mixed.items():
            said = "; ".join(f"{voice}: {_some(names)}" for voice, names in sorted(voices.items()))
            click.echo(f"  mixes voices in the {sentence}: {said}")


def _some(names: list[str], shown: int = 6) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
