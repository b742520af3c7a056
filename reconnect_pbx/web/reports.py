"""The monthly usage report of the account's centre (every centre, for an admin), and its CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from reconnect_pbx.services import reports, scope
from reconnect_pbx.services.errors import InvalidInput
from reconnect_pbx.web.common import account, now, settings, transaction

bp = Blueprint("reports", __name__)


def _usage() -> tuple[reports.Month | None, reports.UsageReport | None, str | None]:
    text = request.args.get("month") or now().astimezone(reports.REPORT_TIMEZONE).strftime("%Y-%m")
    try:
        month = reports.Month.parse(text)
    except InvalidInput:
        return None, None, _("Le mois doit s'écrire AAAA-MM, par exemple 2026-11.")
    result = reports.UsageReport(month, settings().callback.monthly_minutes, [])
    with transaction() as db:
        for centre in scope.centres(db, account(db)):
            result.centres.extend(reports.usage_report(db, month, settings().callback.monthly_minutes, centre).centres)
    return month, result, None


@bp.route("/reports/usage")
@login_required
def usage():  # type: ignore[no-untyped-def]
    month, result, error = _usage()
    return render_template(
        "reports/usage.html", month=month, report=result, error=error, month_text=request.args.get("month", "")
    ), (400 if error else 200)


@bp.route("/reports/usage.csv")
@login_required
def usage_csv():  # type: ignore[no-untyped-def]
    month, result, error = _usage()
    if error or result is None:
        return Response(error or "", status=400, mimetype="text/plain")
    response = Response(reports.csv_text(result), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="usage-{result.month}.csv"'
    return response
