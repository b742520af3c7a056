"""Logging in and out, one-time password links, the account page, session timeouts."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, Length

from reconnect_pbx.models import Language, StaffAccount, StaffRole
from reconnect_pbx.services import staff
from reconnect_pbx.services.errors import InvalidInput
from reconnect_pbx.web.common import LANGUAGES, account, now, settings, transaction

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Connectez-vous pour continuer.")
login_manager.session_protection = "basic"


class StaffUser(UserMixin):
    """What a request knows of its account, loaded from the database at every request."""

    def __init__(self, account: StaffAccount) -> None:
        self.account_id = account.id
        self.email = account.email
        self.role = account.role
        self.centre_id = account.centre_id
        self.centre_name = account.centre.name
        self.language = account.language.value
        self.key = staff.session_key(account)

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.ADMIN

    def get_id(self) -> str:
        # The key changes with the password: a password change ends the account's other sessions.
        return f"{self.account_id}:{self.key}"


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    account_id, _sep, key = user_id.partition(":")
    with transaction() as db:
        found = db.get(StaffAccount, int(account_id)) if account_id.isdigit() else None
        if found is None or found.disabled or found.password_hash is None or staff.session_key(found) != key:
            return None
        return StaffUser(found)


def locale_for_request() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.language
    return request.accept_languages.best_match(LANGUAGES) or "fr"


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.before_request(_enforce_timeouts)

    @app.context_processor
    def page_helpers():  # type: ignore[no-untyped-def]
        from reconnect_pbx import phone
        from reconnect_pbx.web.common import local

        return {"national": phone.national_format, "local": local}


def _enforce_timeouts():  # type: ignore[no-untyped-def]
    """Idle and absolute session timeouts, checked against the server's clock at every request."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    web = settings().web
    moment = now().timestamp()
    started = session.get("started", 0)
    seen = session.get("seen", 0)
    if moment - started > web.absolute_timeout_hours * 3600 or moment - seen > web.idle_timeout_minutes * 60:
        logout_user()
        session.clear()
        flash(_("Votre session a expiré : reconnectez-vous."), "info")
        return redirect(url_for("auth.login", next=request.path if request.method == "GET" else None))
    session["seen"] = int(moment)
    return None


# -- forms --------------------------------------------------------------------------------------


class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(_l("Indiquez votre adresse e-mail."))])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(_l("Indiquez votre mot de passe."))])


def _password_field(label):  # type: ignore[no-untyped-def]
    return PasswordField(
        label,
        validators=[
            DataRequired(_l("Choisissez un mot de passe.")),
            Length(min=staff.PASSWORD_MIN_LENGTH, max=staff.PASSWORD_MAX_LENGTH,
                   message=_l("Le mot de passe doit avoir de %(min)d à %(max)d caractères.")),
        ],
    )


class SetPasswordForm(FlaskForm):
    token = HiddenField()
    password = _password_field(_l("Nouveau mot de passe (12 caractères au moins)"))
    confirm = PasswordField(
        _l("Le même mot de passe, une seconde fois"),
        validators=[EqualTo("password", _l("Les deux mots de passe ne sont pas identiques."))],
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(_l("Mot de passe actuel"), validators=[DataRequired(_l("Indiquez votre mot de passe actuel."))])


class LanguageForm(FlaskForm):
    language = SelectField(_l("Langue des pages"), choices=[("fr", "Français"), ("en", "English")])


# -- views --------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("people.index"))
    form = LoginForm()
    if form.validate_on_submit():
        web = settings().web
        rules = staff.LoginRules(web.login_failures_per_account, web.login_failures_per_address, web.login_window_minutes)
        outcome: StaffAccount | Exception
        # The attempt is recorded (committed) whatever the outcome: throttling counts it.
        with transaction() as db:
            try:
                outcome = staff.log_in(db, form.email.data, form.password.data, address=request.remote_addr or "", rules=rules, now=now())
                user = StaffUser(outcome)
            except (staff.LoginRefused, staff.LoginThrottled) as exc:
                outcome = exc
        if isinstance(outcome, staff.LoginThrottled):
            form.password.errors.append(_("Trop d'essais manqués : attendez %(minutes)d minutes avant de réessayer.", minutes=rules.window_minutes))
        elif isinstance(outcome, staff.LoginRefused):
            form.password.errors.append(_("Adresse e-mail ou mot de passe incorrect."))
        else:
            session.clear()
            login_user(user)
            moment = int(now().timestamp())
            session["started"] = moment
            session["seen"] = moment
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        return render_template("auth/login.html", form=form), 200
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    session.clear()
    flash(_("Vous êtes déconnecté."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/set", methods=["GET", "POST"])
def set_password():  # type: ignore[no-untyped-def]
    """The one-time link: ``/password/set?t=TOKEN``. The token travels in the query string, which
    neither gunicorn's nor nginx's access log keeps (deploy/), and then in the form, never in a path."""
    form = SetPasswordForm()
    token = (form.token.data if request.method == "POST" else request.args.get("t")) or ""
    with transaction() as db:
        found = staff.account_for_token(db, token, now())
        email = found.email if found else None
    if email is None:
        return render_template("auth/link_expired.html"), 404
    form.token.data = token
    if form.validate_on_submit():
        try:
            with transaction() as db:
                staff.set_password_with_token(db, token, form.password.data, now())
        except InvalidInput as exc:
            form.password.errors.append(_password_message(exc))
        else:
            logout_user()
            session.clear()
            flash(_("Votre mot de passe est enregistré : connectez-vous."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", form=form, email=email), (400 if form.errors else 200)


@bp.route("/account")
@login_required
def account_page():  # type: ignore[no-untyped-def]
    return _account_page(ChangePasswordForm(prefix="pw"), LanguageForm(prefix="lang", language=current_user.language))


def _account_page(password_form: ChangePasswordForm, language_form: LanguageForm, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("auth/account.html", password_form=password_form, language_form=language_form), status


@bp.route("/account/language", methods=["POST"])
@login_required
def change_language():  # type: ignore[no-untyped-def]
    form = LanguageForm(prefix="lang")
    if not form.validate_on_submit():
        return _account_page(ChangePasswordForm(prefix="pw", formdata=None), form, 400)
    with transaction() as db:
        staff.set_language(db, account(db), Language(form.language.data))
    flash(_("Langue enregistrée."), "success")
    return redirect(url_for("auth.account_page"))


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    form = ChangePasswordForm(prefix="pw")
    language_form = LanguageForm(prefix="lang", formdata=None, language=current_user.language)
    if form.validate_on_submit():
        try:
            with transaction() as db:
                me = account(db)
                staff.change_password(db, me, form.current.data, form.password.data, now())
                user = StaffUser(me)
        except InvalidInput as exc:
            field = form.current if "current password" in str(exc) else form.password
            field.errors.append(_password_message(exc))
        else:
            # This session goes on with the new key; the account's other sessions end.
            login_user(user)
            flash(_("Mot de passe changé."), "success")
            return redirect(url_for("auth.account_page"))
    return _account_page(form, language_form, 400)


def _password_message(exc: InvalidInput) -> str:
    text = str(exc)
    if "current password" in text:
        return _("Le mot de passe actuel est faux.")
    if "too well known" in text:
        return _("Ce mot de passe est trop courant : choisissez-en un autre.")
    if "e-mail" in text:
        return _("Le mot de passe ne doit pas être votre adresse e-mail.")
    return _("Le mot de passe doit avoir de %(min)d à %(max)d caractères.", min=staff.PASSWORD_MIN_LENGTH, max=staff.PASSWORD_MAX_LENGTH)


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never an open redirect to another host.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("people.index")

