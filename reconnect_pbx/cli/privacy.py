"""Data protection: ``purge`` (retention) and ``export`` (subject access requests)."""

from __future__ import annotations

import click

from reconnect_pbx.cli.cards import write_output
from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_fields, print_json
from reconnect_pbx.services import people, privacy
from reconnect_pbx.storage import PostgresAudioStore

_LABELS = {
    "people_erased": "Closed people erased",
    "person_messages_erased": "Their messages",
    "greetings_erased": "Their greetings",
    "credentials_erased": "Their credentials",
    "call_records_scrubbed": "Call records without numbers",
    "messages_expired": "Messages past retention",
    "deleted_message_audio_erased": "Deleted messages' audio",
    "audio_erased": "Audio files erased",
    "call_records_expired": "Call records past retention, without numbers",
    "audit_events_expired": "Audit events past retention",
}


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
@json_option
@pass_app
def purge(app: App, dry_run: bool, as_json: bool) -> None:
    """Erase what may no longer be kept (run daily from a timer).

    Deleted messages lose their audio; messages older than retention.message_retention_days are
    deleted; closed people are erased retention.closed_erase_after_days after closing (default: the
    number's quarantine): messages, greetings, PIN hash gone, name replaced by "erased", numbers
    removed from their call records. Everyone's call records lose their numbers after
    retention.call_record_retention_days, and audit events are deleted after
    retention.audit_retention_days. Writes one audit event with the counts (not with --dry-run).
    """
    policy = privacy.RetentionPolicy.from_settings(app.settings)
    with app.transaction() as session:
        counts = privacy.purge(session, PostgresAudioStore(), policy, app.now(), actor=app.operator, dry_run=dry_run)
    if as_json:
        print_json({"dry_run": dry_run, **counts.as_dict()})
        return
    click.echo("Dry run: nothing was erased. Would erase:" if dry_run else "Erased:")
    print_fields([(label, getattr(counts, key)) for key, label in _LABELS.items()])


@click.command()
@click.argument("ref", metavar="ID|NUMBER")
@click.option(
    "--out",
    required=True,
    metavar="FILE",
    help="FILE.zip: data.json plus the audio (audio/message-<id>.wav, audio/greeting-<kind>.wav); "
    "any other name, or - for standard output: data.json alone.",
)
@pass_app
def export(app: App, ref: str, out: str) -> None:
    """Everything held about one person, for a subject access request (never the PIN hash).

    ID is the person's id; NUMBER is their number in any form (a closed person's last number works).
    The export is audited; the file is readable by its owner only.
    """
    with_audio = out.lower().endswith(".zip")
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region)
        result = privacy.export_person(
            session, PostgresAudioStore(), person, app.now(), actor=app.operator, with_audio=with_audio
        )
        # Written inside the transaction: if the file cannot be written, the audit event is not kept.
        write_output(out, result.to_zip() if with_audio else result.to_json(), private=True)
        person_id = person.id
    if out != "-":
        count = len(result.audio)
        audio = f", {count} audio file{'' if count == 1 else 's'}" if with_audio else ""
        click.echo(f"person {person_id} exported to {out} ({len(result.data['messages'])} messages{audio})")
