"""The people of the account's centre: list and search, enrol, a person's page and its actions."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from reconnect_pbx.models import BeneficiaryStatus, Language, MessageState
from reconnect_pbx.services import cards, current_phone, outbound, people, scope, staff
from reconnect_pbx.services.destination_policy import masked
from reconnect_pbx.services.errors import Conflict, InvalidInput, PoolExhausted
from reconnect_pbx.web.common import account, now, settings, transaction

log = logging.getLogger(__name__)

bp = Blueprint("people", __name__)

# The PIN travels from the POST to the page after the redirect in the signed session cookie, and
# is removed from it by that page: shown once, never stored on the server.
_SHOWN_ONCE = "shown_once"


class EnrolForm(FlaskForm):
    submission = HiddenField()
    display_name = StringField(
        _l("Nom (comme l'équipe le reconnaîtra)"),
        validators=[
            DataRequired(_l("Indiquez le nom de la personne.")),
            Length(max=people.NAME_MAX_LENGTH, message=_l("Le nom a plus de %(max)d caractères.")),
        ],
    )
    language = SelectField(_l("Langue du répondeur"), choices=[("fr", "Français"), ("en", "English")], default="fr")
    # Not checked against the choices here: scope decides, and answers 404 for a forged value.
    centre = SelectField(_l("Centre"), choices=[], validate_choice=False)
    number = SelectField(_l("Numéro"), choices=[], validate_choice=False)


class ActionForm(FlaskForm):
    """A button: only the CSRF token."""


class PhoneForm(FlaskForm):
    # "phone", not "number": the page's facts already have an element "number".
    phone = StringField(
        _l("Nouveau téléphone (portable ou fixe français)"),
        validators=[DataRequired(_l("Indiquez le numéro du téléphone.")), Length(max=32)],
    )


class CloseForm(FlaskForm):
    confirm = BooleanField(
        _l("Je confirme la fermeture : la personne ne pourra plus recevoir de messages sur ce numéro."),
        validators=[DataRequired(_l("Cochez la case pour confirmer la fermeture."))],
    )


@bp.route("/")
def root():  # type: ignore[no-untyped-def]
    return redirect(url_for("people.index"))


@bp.route("/people")
@login_required
def index():  # type: ignore[no-untyped-def]
    query = request.args.get("q", "")[:100]
    with transaction() as db:
        rows = scope.search_people(db, account(db), query, settings().numbers.default_region)
    return render_template("people/list.html", rows=rows, query=query)


@bp.route("/people/new", methods=["GET", "POST"])
@login_required
def enrol():  # type: ignore[no-untyped-def]
    form = EnrolForm()
    with transaction() as db:
        me = account(db)
        centres = scope.centres(db, me)
        form.centre.choices = [(str(c.id), c.name) for c in centres]
        # A centre forged into the form by a staff member answers 404, like a forged URL.
        centre = scope.centre(db, me, form.centre.data if request.method == "POST" else None)
        free = scope.free_numbers(db, me, now(), centre)
    form.number.choices = [("", _("Le premier numéro libre"))] + [(row.e164, row.national) for row in free]
    if request.method == "GET":
        form.submission.data = scope.new_form_token()
        form.centre.data = str(centre.id)
    if form.validate_on_submit():
        try:
            with transaction() as db:
                enrolment, person_id = scope.enrol(
                    db,
                    account(db),
                    form_token=form.submission.data or "",
                    centre_id=form.centre.data,
                    display_name=form.display_name.data,
                    language=Language(form.language.data if form.language.data in ("fr", "en") else "fr"),
                    number=form.number.data or None,
                    pin_length=settings().pin.length,
                    region=settings().numbers.default_region,
                    actor=staff.actor_of(account(db)),
                    now=now(),
                )
        except PoolExhausted:
            form.number.errors.append(_("Plus aucun numéro libre dans la réserve du centre : demandez-en à l'association."))
        except Conflict:
            form.number.errors.append(_("Ce numéro n'est plus libre : choisissez-en un autre."))
        except InvalidInput:
            form.display_name.errors.append(_("Ce nom n'est pas accepté (vide ou trop long)."))
        else:
            if enrolment is None:
                flash(_("Ce formulaire a déjà été envoyé : la personne est inscrite une seule fois."), "info")
                return redirect(url_for("people.show", person_id=person_id) if person_id else url_for("people.index"))
            session[_SHOWN_ONCE] = {"person": person_id, "pin": enrolment.pin, "kind": "enrol"}
            return redirect(url_for("people.show", person_id=person_id))
        return render_template("people/enrol.html", form=form, free=free), 400
    status = 400 if request.method == "POST" else 200
    return render_template("people/enrol.html", form=form, free=free), status


@bp.route("/people/<int:person_id>")
@login_required
def show(person_id: int):  # type: ignore[no-untyped-def]
    with transaction() as db:
        person = scope.person(db, account(db), person_id)
        found = people.details(db, person, now())
        calls_suspended = outbound.is_suspended(db, person.id)
        # Dates only: never the callers' numbers (third parties' data), never the audio.
        messages = people.messages_of(db, person)
        phone = _phone_facts(current_phone.get_phone(db, person.id))
    latest = {
        state.value: max((m.received_at for m in messages if m.state == state), default=None)
        for state in (MessageState.NEW, MessageState.SAVED)
    }
    shown = session.get(_SHOWN_ONCE)
    pin = None
    if shown and shown.get("person") == person_id:
        session.pop(_SHOWN_ONCE)
        pin = shown
    return render_template(
        "people/show.html",
        person=found,
        calls_suspended=calls_suspended,
        latest=latest,
        shown=pin,
        action=ActionForm(),
        phone=phone,
        phone_form=PhoneForm(formdata=None),
        closed=found.status == BeneficiaryStatus.CLOSED,
        suspended=found.status == BeneficiaryStatus.SUSPENDED,
    )


def _act(person_id: int, work, done: str, after=None):  # type: ignore[no-untyped-def]
    """An action button: CSRF-checked form, the person within reach, one service call, redirect.
    ``after(result)`` runs once the transaction is committed."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with transaction() as db:
            me = account(db)
            person = scope.person(db, me, person_id, lock=True)
            result = work(db, person, staff.actor_of(me))
    except Conflict as exc:
        flash(_("Action impossible : %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("people.show", person_id=person_id))
    if after is not None:
        after(result)
    flash(done, "success")
    return redirect(url_for("people.show", person_id=person_id))


@bp.route("/people/<int:person_id>/pin", methods=["POST"])
@login_required
def reset_pin(person_id: int):  # type: ignore[no-untyped-def]
    def show_once(result: people.PinReset) -> None:
        # Only after the commit: the PIN shown is the PIN stored.
        session[_SHOWN_ONCE] = {"person": person_id, "pin": result.pin, "kind": "reset"}

    return _act(
        person_id,
        lambda db, p, actor: people.reset_pin(db, p, actor=actor, pin_length=settings().pin.length, now=now()),
        _("Nouveau code donné."),
        show_once,
    )


@bp.route("/people/<int:person_id>/suspend", methods=["POST"])
@login_required
def suspend(person_id: int):  # type: ignore[no-untyped-def]
    return _act(person_id, lambda db, p, actor: people.suspend(db, p, actor=actor), _("Compte suspendu."))


@bp.route("/people/<int:person_id>/resume", methods=["POST"])
@login_required
def resume(person_id: int):  # type: ignore[no-untyped-def]
    return _act(person_id, lambda db, p, actor: people.resume(db, p, actor=actor), _("Compte réactivé."))


@bp.route("/people/<int:person_id>/calls-resume", methods=["POST"])
@login_required
def calls_resume(person_id: int):  # type: ignore[no-untyped-def]
    return _act(
        person_id,
        lambda db, p, actor: outbound.resume_outbound(db, p.id, actor=actor),
        _("Appels sortants de nouveau autorisés."),
    )


# -- the current phone (services/current_phone.py) ----------------------------------------------


def _phone_facts(phone) -> dict | None:  # type: ignore[no-untyped-def]
    """What the page says of the current phone: the number masked as in the audit log (where calls
    go is the classic voicemail-fraud target: staff see that one is set and its first digits, the
    person knows the rest)."""
    if phone is None:
        return None
    return {
        "number": masked(phone.e164),
        "confirmed_at": phone.confirmed_at,
        "outcome": phone.confirmation_outcome,
        "follow": phone.follow,
        "alerts": phone.alerts,
    }


@bp.route("/people/<int:person_id>/phone", methods=["POST"])
@login_required
def phone_set(person_id: int):  # type: ignore[no-untyped-def]
    form = PhoneForm()
    valid = form.validate_on_submit()
    if "csrf_token" in form.errors:
        abort(400)
    with transaction() as db:
        scope.person(db, account(db), person_id)  # another centre's person: 404 before anything
    if not valid:
        flash(_("Téléphone non enregistré : indiquez le numéro."), "error")
        return redirect(url_for("people.show", person_id=person_id))
    try:
        with transaction() as db:
            me = account(db)
            person = scope.person(db, me, person_id, lock=True)
            actor = staff.actor_of(me)
            phone = current_phone.set_phone(
                db, person.id, form.phone.data, actor=actor, rules=settings().callback, now=now()
            )
            number = phone.e164
    except current_phone.PhoneRefused as refused:
        flash(_("Téléphone refusé : %(reason)s", reason=_refusal_text(refused)), "error")
        return redirect(url_for("people.show", person_id=person_id))
    except Conflict as exc:
        flash(_("Action impossible : %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("people.show", person_id=person_id))
    # Where calls go changed: the classic voicemail-fraud step, so always a warning (as the CLI).
    log.warning("current phone of person %s set to %s by %s", person_id, masked(number), actor)
    flash(_("Téléphone enregistré. Un appel de confirmation part maintenant : la personne tape 1."), "success")
    return redirect(url_for("people.show", person_id=person_id))


def _refusal_text(refused: current_phone.PhoneRefused) -> str:
    category = refused.decision.category.value
    return {
        "premium": _("les numéros surtaxés sont refusés"),
        "shared-cost": _("les numéros spéciaux sont refusés"),
        "short": _("les numéros courts sont refusés"),
        "emergency": _("les numéros d'urgence et sociaux sont refusés"),
        "overseas": _("les numéros d'outre-mer sont refusés (portables et fixes de métropole seulement)"),
        "international": _("les numéros étrangers sont refusés (portables et fixes français seulement)"),
        "free": _("les numéros verts (0800) sont refusés"),
    }.get(category, _("ce n'est pas un numéro de portable ou de fixe français valable, ou c'est un numéro du service"))


def _phone_act(person_id: int, work, done: str, what: str):  # type: ignore[no-untyped-def]
    """An action on the current phone: as ``_act``, and a warning in the log (as the CLI)."""

    def guarded(db, person, actor):  # type: ignore[no-untyped-def]
        if current_phone.get_phone(db, person.id) is None:
            raise Conflict(_("la personne n'a pas de téléphone actuel"))
        work(db, person, actor)
        return actor

    def logged(actor: str) -> None:
        log.warning("%s for person %s by %s", what, person_id, actor)

    return _act(person_id, guarded, done, logged)


@bp.route("/people/<int:person_id>/phone/clear", methods=["POST"])
@login_required
def phone_clear(person_id: int):  # type: ignore[no-untyped-def]
    return _phone_act(
        person_id,
        lambda db, p, actor: current_phone.clear_phone(db, p.id, actor=actor),
        _("Téléphone oublié : les appels vont au répondeur."),
        "current phone cleared",
    )


def _switch(person_id: int, setter, on: bool, name: str, done: str):  # type: ignore[no-untyped-def]
    return _phone_act(
        person_id, lambda db, p, actor: setter(db, p.id, on, actor=actor), done, f"{name} {'on' if on else 'off'}"
    )


@bp.route("/people/<int:person_id>/phone/follow-on", methods=["POST"])
@login_required
def follow_on(person_id: int):  # type: ignore[no-untyped-def]
    return _switch(person_id, current_phone.set_follow, True, "follow", _("Le téléphone sonne d'abord."))


@bp.route("/people/<int:person_id>/phone/follow-off", methods=["POST"])
@login_required
def follow_off(person_id: int):  # type: ignore[no-untyped-def]
    return _switch(person_id, current_phone.set_follow, False, "follow", _("Les appels vont droit au répondeur."))


@bp.route("/people/<int:person_id>/phone/alerts-on", methods=["POST"])
@login_required
def alerts_on(person_id: int):  # type: ignore[no-untyped-def]
    return _switch(person_id, current_phone.set_alerts, True, "alerts", _("Alertes de nouveau message activées."))


@bp.route("/people/<int:person_id>/phone/alerts-off", methods=["POST"])
@login_required
def alerts_off(person_id: int):  # type: ignore[no-untyped-def]
    return _switch(person_id, current_phone.set_alerts, False, "alerts", _("Alertes de nouveau message coupées."))


@bp.route("/people/<int:person_id>/close", methods=["GET", "POST"])
@login_required
def close(person_id: int):  # type: ignore[no-untyped-def]
    form = CloseForm()
    with transaction() as db:
        found = people.details(db, scope.person(db, account(db), person_id), now())
    quarantine_days = settings().numbers.quarantine_days
    if form.validate_on_submit():
        try:
            with transaction() as db:
                me = account(db)
                person = scope.person(db, me, person_id, lock=True)
                people.close(db, person, actor=staff.actor_of(me), quarantine_days=quarantine_days, now=now())
        except Conflict as exc:
            flash(_("Action impossible : %(reason)s", reason=str(exc)), "error")
        else:
            flash(_("Compte fermé. Le numéro est mis de côté %(days)d jours.", days=quarantine_days), "success")
        return redirect(url_for("people.show", person_id=person_id))
    status = 400 if request.method == "POST" else 200
    return render_template("people/close.html", form=form, person=found, quarantine_days=quarantine_days), status


@bp.route("/people/<int:person_id>/cards.pdf")
@login_required
def cards_pdf(person_id: int):  # type: ignore[no-untyped-def]
    return _printed(person_id, lambda details: cards.render_cards(details, with_name=False), "cartes")


@bp.route("/people/<int:person_id>/leaflet.pdf")
@login_required
def leaflet_pdf(person_id: int):  # type: ignore[no-untyped-def]
    return _printed(person_id, cards.render_leaflet, "notice")


def _printed(person_id: int, render, name: str):  # type: ignore[no-untyped-def]
    try:
        with transaction() as db:
            person = scope.person(db, account(db), person_id)
            details = cards.printed_details(db, person, settings())
    except Conflict as exc:
        flash(_("Impression impossible : %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("people.show", person_id=person_id))
    response = Response(render(details), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{person_id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/people/<int:person_id>/audit")
@login_required
def audit(person_id: int):  # type: ignore[no-untyped-def]
    with transaction() as db:
        me = account(db)
        found = people.details(db, scope.person(db, me, person_id), now())
        events = scope.audit_trail(db, me, person_id)
    return render_template("people/audit.html", person=found, events=events)
