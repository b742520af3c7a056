"""``reconnect-pbx web``: the staff web application under gunicorn (what its systemd unit starts)."""

from __future__ import annotations

import logging

import click

from reconnect_pbx.cli.context import App, pass_app


@click.command("web")
@click.option("--bind", help="ADDRESS:PORT to listen on (default: web.listen_address:web.listen_port, loopback).")
@click.option("--workers", type=int, help="gunicorn worker processes (default: web.workers).")
@pass_app
def web(app: App, bind: str | None, workers: int | None) -> None:
    """Serve the staff web application with gunicorn, until SIGTERM. nginx stands in front (TLS)."""
    from gunicorn.app.base import BaseApplication

    from reconnect_pbx.web import create_app

    settings = app.settings
    logging.basicConfig(level=settings.logging.level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    wsgi = create_app(settings)
    options = {
        "bind": bind or f"{settings.web.listen_address}:{settings.web.listen_port}",
        "workers": workers or settings.web.workers,
        "worker_class": "sync",
        "timeout": 60,
        "accesslog": "-",
        # No query strings in the access log: searches may hold names or numbers.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',
        "forwarded_allow_ips": "127.0.0.1,::1",
        "proc_name": "reconnect-pbx-web",
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            return wsgi

    Server().run()
