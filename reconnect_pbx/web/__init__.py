"""The staff web application (``reconnect-pbx web``): server-rendered pages for centre staff.

``create_app(settings)`` builds it from the same settings object as the CLI. One blueprint per
noun (``auth``, ``people``, ``numbers``, ``reports``), each a module with its views and forms, and
its templates in ``templates/<noun>/``. Views are thin: they parse a form, call ``services/`` in
one transaction and redirect (post/redirect/get). Authorisation is ``services/scope.py``: every
person, number or centre named by a request is looked up through it, and what lies outside the
account's centre raises NotFound, which the handler below turns into the same 404 page as for
something that does not exist.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from reconnect_pbx.config import ConfigError, Settings
from reconnect_pbx.db import make_engine, make_session_factory
from reconnect_pbx.services import credentials
from reconnect_pbx.services.errors import NotFound
from reconnect_pbx.web.common import LANGUAGES

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


def create_app(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Flask:
    web = settings.web
    if len(web.secret_key) < 32:
        raise ConfigError(
            "web.secret_key must be set (at least 32 characters), e.g. the output of"
            " `python3 -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    # Enrolment and PIN reset hash PINs: refuse to start without the PIN pepper (as `serve` does)
    # rather than answer 500 on the first enrolment.
    credentials.use_pepper_file(settings.pin.pepper_file)
    credentials.load_pepper()
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=web.secret_key,
        SESSION_COOKIE_NAME="reconnect_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=web.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=web.absolute_timeout_hours),
        # The CSRF token lives as long as the session (whose timeouts are checked in auth.py).
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=web.cookie_secure,
        MAX_CONTENT_LENGTH=64 * 1024,
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_TRANSLATION_DIRECTORIES=str(_compiled_translations()),
        RECONNECT_SETTINGS=settings,
        RECONNECT_CLOCK=clock or (lambda: datetime.now(timezone.utc)),
    )
    if web.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=web.trusted_proxies, x_proto=web.trusted_proxies)  # type: ignore[method-assign]
    if session_factory is None:
        engine = make_engine(settings.database.url, pool_size=4, max_overflow=4)
        session_factory = make_session_factory(engine)
    app.extensions["reconnect_sessions"] = session_factory

    CSRFProtect(app)
    from reconnect_pbx.web import auth, numbers, people, reports

    Babel(app, locale_selector=auth.locale_for_request)
    auth.init_app(app)
    for module in (auth, people, numbers, reports):
        app.register_blueprint(module.bp)

    @app.errorhandler(NotFound)
    @app.errorhandler(404)
    def not_found(_exc: Exception):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=404), 404

    @app.errorhandler(CSRFError)
    def csrf_refused(_exc: CSRFError):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=400, csrf=True), 400

    @app.errorhandler(405)
    def method_not_allowed(_exc: Exception):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=405), 405

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none';"
            " form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def _compiled_translations() -> Path:
    """The .po catalogues compiled to .mo in a private temporary folder (no binary in the repo)."""
    target = Path(tempfile.mkdtemp(prefix="reconnect-pbx-web-i18n-"))
    atexit.register(shutil.rmtree, target, True)
    for po_path in (HERE / "translations").glob("*/LC_MESSAGES/messages.po"):
        language = po_path.parent.parent.name
        out = target / language / "LC_MESSAGES"
        out.mkdir(parents=True)
        with po_path.open("rb") as stream:
            catalog = read_po(stream, locale=language)
        with (out / "messages.mo").open("wb") as stream:
            write_mo(stream, catalog)
    return target
