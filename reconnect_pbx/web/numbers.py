"""The numbers free in the pool of the account's centre (every centre's, for an admin)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from reconnect_pbx.services import scope
from reconnect_pbx.web.common import account, now, transaction

bp = Blueprint("numbers", __name__)


@bp.route("/numbers")
@login_required
def free():  # type: ignore[no-untyped-def]
    with transaction() as db:
        me = account(db)
        wanted = request.args.get("centre")
        centre = scope.centre(db, me, wanted) if wanted else None
        rows = scope.free_numbers(db, me, now(), centre)
        centres = scope.centres(db, me)
    return render_template("numbers/free.html", rows=rows, centres=centres, centre=centre)
