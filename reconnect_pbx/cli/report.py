"""``report``: figures for centres and funders."""

from __future__ import annotations

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import print_json, print_table
from reconnect_pbx.services import centres, reports

_HEADERS = {
    "centre": "CENTRE",
    "people_active": "ACTIVE",
    "messages_received": "RECEIVED",
    "messages_heard": "HEARD",
    "calls_made": "CALLS",
    "minutes_used": "MINUTES",
    "minutes_quota": "QUOTA",
    "people_at_quota": "AT QUOTA",
    "refused_destinations": "REFUSED",
    "lockouts": "LOCKOUTS",
    "calls_followed": "FOLLOWED",
    "followed_answered": "ON PHONE",
    "followed_to_voicemail": "TO VOICEMAIL",
    "alerts_sent": "ALERTS",
    "alerts_answered": "ALERTS ANSWERED",
}


@click.group()
def report() -> None:
    """Reports."""


@report.command()
@click.option("--month", required=True, metavar="YYYY-MM", help="The calendar month, Europe/Paris time.")
@click.option("--centre", "centre_ref", help="Only this centre (name or id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one line per centre).")
@pass_app
def usage(app: App, month: str, centre_ref: str | None, as_json: bool, as_csv: bool) -> None:
    """Usage of one month per centre: people active, messages received and heard, calls made,
    minutes used against the quota (callback.monthly_minutes a person), refused destinations, PIN
    lockouts, and calls that rang a person's current phone first (FOLLOWED), taken there (ON
    PHONE) or gone on to the voicemail (TO VOICEMAIL), new-message alert calls (ALERTS) and those
    answered with 1 (ALERTS ANSWERED).

    A person counts as active when enrolled at some point of the month (enrolled before its end,
    not closed before its start). Calls refused by the destination policy are counted under
    REFUSED, not CALLS; CALLS counts the calls people placed, MINUTES every outgoing minute
    (calls to current phones included).
    """
    if as_json and as_csv:
        raise click.UsageError("--json and --csv cannot be used together")
    wanted = reports.Month.parse(month)
    with app.transaction() as session:
        centre = centres.find_centre(session, centre_ref) if centre_ref else None
        result = reports.usage_report(session, wanted, app.settings.callback.monthly_minutes, centre)
    if as_json:
        print_json(result.as_dict())
    elif as_csv:
        click.echo(reports.csv_text(result), nl=False)
    else:
        click.echo(
            f"Usage for {result.month} (Europe/Paris); quota {result.monthly_minutes} minutes a person a month"
        )
        rows = [list(row.as_dict().values()) for row in result.centres]
        if len(result.centres) > 1:
            rows.append(list(result.totals.as_dict().values()))
        print_table(list(_HEADERS.values()), rows, empty="no centre")
