"""``prompts``: the association's own voice, as PBXs' "system recordings" (services/prompt_sets.py)."""

from __future__ import annotations

from pathlib import Path

import click

from reconnect_pbx import prompts as catalogue
from reconnect_pbx.cli.context import App, InputError, pass_app
from reconnect_pbx.cli.output import json_option, print_json
from reconnect_pbx.services import prompt_sets

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
