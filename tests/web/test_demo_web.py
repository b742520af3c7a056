"""`make demo`'s web half: a demo admin account whose password is kept in the demo folder, and
`reconnect-pbx web` started in the background with the demo's config, then stopped."""

from __future__ import annotations

import re
import socket

import httpx

from reconnect_pbx.sandbox import demo


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_demo_starts_the_web_application_with_a_staff_login_that_works(database_url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(demo, "DEMO_DIR", tmp_path)
    email, password = demo.ensure_demo_staff(database_url)
    assert demo.ensure_demo_staff(database_url) == (email, password)
    assert oct((tmp_path / "web-staff-password").stat().st_mode & 0o777) == "0o600"
    port = _free_port()
    config = tmp_path / "demo.conf"
    config.write_text(f'[database]\nurl = "{database_url}"\n\n' + demo.web_settings(port))
    url = demo.start_web(config, port)
    try:
        with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text).group(1)
            response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
            assert response.status_code == 302, response.text
            assert client.get("/people").status_code == 200
    finally:
        demo.stop_web()
    assert not (tmp_path / "web.pid").exists()
