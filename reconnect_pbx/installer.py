"""``deploy/install``: one idempotent installer for a production host, from one values file.

Run as root with the system's python3 (standard library only: it runs before the virtualenv
exists). It reads the site's values (``deploy/site.example.toml``), refuses a bad one with one line
before changing anything, then brings the host to the state they describe, step by step: Debian
packages, the service users (``serve``'s and the web application's), the virtualenv, Asterisk 22
(the host's package when it is 22, else Debian testing's in a chroot), folders and modes, secrets
(generated once, kept in root-only files), PostgreSQL's roles and database, ``db upgrade``, the
settings files (one per user: the operators', ``serve``'s, the web application's), Asterisk's
configuration, systemd units; nftables and fail2ban when asked. Every step compares first and
changes only what differs, so running it again is the upgrade: same result, modes and owners kept,
a service restarted only when something it reads changed. ``--check`` prints what would change and
changes nothing.

Without a running systemd (a chroot, an image being built) units are enabled, not started; the
caller starts them (``--no-start`` does the same on purpose).
"""

from __future__ import annotations

import argparse
import filecmp
import grp
import hashlib
import ipaddress
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from reconnect_pbx import asterisk_user, config, file_modes
from reconnect_pbx.config import DatabaseSettings
from reconnect_pbx.sandbox import chroot

REPO = Path(__file__).resolve().parents[1]
ETC = Path("/etc/reconnect-pbx")
SITE_FILE = ETC / "site.toml"
SERVICE_USER = file_modes.SERVICE_USER
WEB_USER = file_modes.WEB_USER
DATABASE = "reconnect_pbx"
# The login roles of serve and the web application: migration 0007 grants them their rights
# (the names are DatabaseSettings' defaults); each logs in with a password of its own.
SERVE_ROLE = DatabaseSettings.serve_role
WEB_ROLE = DatabaseSettings.web_role
ARI_USER = "reconnect"
BACKUP_DIR = Path("/var/backups/reconnect-pbx")
SYSTEMD_DIR = Path("/etc/systemd/system")
STATE_DIR = Path("/var/lib/reconnect-pbx")
# The generated password of each PostgreSQL login role, in a root-only file of ETC.
DATABASE_PASSWORD_FILES = {
    DATABASE: "database-password",
    SERVE_ROLE: "serve-database-password",
    WEB_ROLE: "web-database-password",
}
PACKAGES = ("python3-venv", "postgresql", "openssl", "gnupg", "debootstrap")
OPTIONAL_PACKAGES = {"firewall": ("nftables",), "fail2ban": ("fail2ban", "python3-systemd")}
UNITS = (
    "reconnect-pbx.service",
    "reconnect-pbx-web.service",
    "reconnect-pbx-purge.service",
    "reconnect-pbx-purge.timer",
    "reconnect-pbx-backup.service",
    "reconnect-pbx-backup.timer",
)
# What `systemctl enable` gets; the services' timers carry them.
ENABLED_UNITS = (
    "asterisk.service", "reconnect-pbx.service", "reconnect-pbx-web.service", "reconnect-pbx-purge.timer",
    "reconnect-pbx-backup.timer",
)
PLACEHOLDER_PASSWORDS = re.compile(r"change.?me", re.I)


class SiteError(ValueError):
    """A value of the site file is wrong: one line, nothing changed."""


@dataclass(frozen=True)
class Site:
    public_address: str
    sip_port: int
    rtp_start: int
    rtp_end: int
    trunk_username: str
    trunk_password: str
    trunk_server: str
    trunk_match: tuple[str, ...]
    trunk_registration: bool
    carrier_media: tuple[str, ...]
    access_number: str
    selftest_number: str
    # The first centre and its pool, made once: staff manage centres and numbers afterwards.
    centre: str
    number_range: tuple[str, ...]
    firewall: bool
    fail2ban: bool
    asterisk_root: str
    ari_address: str
    ari_port: int
    database_port: int
    metrics_port: int
    # The address staff type in their browser (the one-time password links), and gunicorn's port.
    web_base_url: str = ""
    web_port: int = 8070
    # The application's own settings ([settings.<section>] in site.toml: retention, PIN rules,
    # quotas...), written into every settings file, so that an upgrade keeps them.
    settings: dict[str, dict[str, object]] = field(default_factory=dict)


# Settings the installer writes itself from the values above: set through [settings], they would
# be overwritten (or contradict the Asterisk configuration), so they are refused.
MANAGED_SETTINGS = {
    "database": None,  # every key: the per-user URLs and roles
    "ari": None,
    "access": {"access_number", "selftest_number"},
    "media": {"playback_dir", "asterisk_playback_dir"},
    "metrics": {"listen_port"},
    "pin": {"pepper_file"},
    "asterisk": {"config_dir", "cli_command", "trunk_registration"},
    "web": {"listen_port", "base_url", "trusted_proxies", "secret_key"},
}


def _get(values: dict, section: str, key: str, kind: type, default: object = None) -> object:
    table = values.get(section, {})
    if not isinstance(table, dict):
        raise SiteError(f"[{section}] must be a table")
    if key not in table:
        if default is None:
            raise SiteError(f"{section}.{key} is missing")
        return default
    value = table[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SiteError(f"{section}.{key} must be a number, got {value!r}")
    if kind is not int and not isinstance(value, kind):
        raise SiteError(f"{section}.{key} must be a {kind.__name__}, got {value!r}")
    return value


def _plain(key: str, value: str) -> str:
    # Values end up in Asterisk's files, where ';' starts a comment; quotes and spaces do not survive.
    if not value or re.search(r"[;\s\"'\\{}]", value):
        raise SiteError(f"{key} = {value!r}: empty, or holds ';', a quote, a backslash, a brace or a space")
    return value


def _address(key: str, value: str, *, network: bool = False) -> str:
    try:
        ipaddress.ip_network(value, strict=False) if network else ipaddress.ip_address(value)
    except ValueError:
        raise SiteError(f"{key} = {value!r} is not an IP {'address or network' if network else 'address'}") from None
    return value


def _port(key: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise SiteError(f"{key} = {value} is not a port (1-65535)")
    return value


def _number(key: str, value: str) -> str:
    digits = re.sub(r"[\s.()/-]", "", value)
    if not re.fullmatch(r"\+?[0-9]{4,16}", digits):
        raise SiteError(f"{key} = {value!r} is not a phone number")
    return value


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise SiteError(f"{value!r}: only strings, numbers, booleans and lists go in [settings]")


def render_settings(sections: dict[str, dict[str, object]]) -> str:
    """TOML tables, in the order given (the standard library reads TOML but does not write it)."""
    return "".join(
        f"\n[{name}]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in table.items())
        for name, table in sections.items()
        if table
    )


def _settings(values: dict) -> dict[str, dict[str, object]]:
    """[settings.<section>]: checked by the application's own rules (ranges, orderings) now, so
    that a wrong one is refused before anything changes, not by serve after the upgrade."""
    tables = values.get("settings", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise SiteError("[settings] holds tables only: [settings.retention], [settings.pin]...")
    for section, table in tables.items():
        managed = MANAGED_SETTINGS.get(section, set())
        for key in table:
            if managed is None or key in managed:
                raise SiteError(f"settings.{section}.{key} is written by the installer from the values above")
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as probe:
        probe.write(render_settings(tables))
        probe.flush()
        try:
            config.load_settings(Path(probe.name), environ={})
        except config.ConfigError as exc:
            raise SiteError(f"settings: {exc}".replace("\n", " ").replace(probe.name + ": ", "")) from None
    return tables


def parse_site(text: str) -> Site:
    """The site's values, checked; SiteError names the first wrong one."""
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteError(f"not valid TOML: {exc}") from None
    known = {"sip", "trunk", "numbers", "options", "web", "advanced", "settings"}
    for section in values:
        if section not in known:
            raise SiteError(f"unknown section [{section}]")
    site = Site(
        public_address=_address("sip.public_address", _get(values, "sip", "public_address", str)),
        sip_port=_port("sip.port", _get(values, "sip", "port", int, 5060)),
        rtp_start=_port("sip.rtp_start", _get(values, "sip", "rtp_start", int, 10000)),
        rtp_end=_port("sip.rtp_end", _get(values, "sip", "rtp_end", int, 10999)),
        trunk_username=_plain("trunk.username", _get(values, "trunk", "username", str)),
        trunk_password=_plain("trunk.password", _get(values, "trunk", "password", str)),
        trunk_server=_plain("trunk.server", _get(values, "trunk", "server", str)),
        trunk_match=tuple(
            _address("trunk.match", m, network=True) for m in _get(values, "trunk", "match", list)
        ),
        trunk_registration=_get(values, "trunk", "registration", bool, True),
        carrier_media=tuple(
            _address("trunk.media", m, network=True) for m in _get(values, "trunk", "media", list, [])
        ),
        access_number=_number("numbers.access_number", _get(values, "numbers", "access_number", str)),
        selftest_number=_number("numbers.selftest_number", _get(values, "numbers", "selftest_number", str)),
        centre=_get(values, "numbers", "centre", str, ""),
        number_range=tuple(_number("numbers.range", n) for n in _get(values, "numbers", "range", list, [])),
        firewall=_get(values, "options", "firewall", bool, False),
        fail2ban=_get(values, "options", "fail2ban", bool, False),
        asterisk_root=_get(values, "advanced", "asterisk_root", str, "/srv/asterisk-root"),
        ari_address=_address("advanced.ari_address", _get(values, "advanced", "ari_address", str, "127.0.0.1")),
        ari_port=_port("advanced.ari_port", _get(values, "advanced", "ari_port", int, 8088)),
        database_port=_port("advanced.database_port", _get(values, "advanced", "database_port", int, 5432)),
        metrics_port=_port("advanced.metrics_port", _get(values, "advanced", "metrics_port", int, 9465)),
        web_base_url=_get(values, "web", "base_url", str, ""),
        web_port=_port("advanced.web_port", _get(values, "advanced", "web_port", int, 8070)),
        settings=_settings(values),
    )
    if site.number_range and (len(site.number_range) != 2 or not site.centre):
        raise SiteError("numbers.range is [first, last], with numbers.centre naming the centre whose pool it is")
    if not site.trunk_match:
        raise SiteError("trunk.match is empty: the carrier's signalling addresses")
    if PLACEHOLDER_PASSWORDS.search(site.trunk_password):
        raise SiteError("trunk.password is still the example's placeholder: the carrier's password")
    if len(site.trunk_password) < 12:
        raise SiteError(f"trunk.password is too short ({len(site.trunk_password)} characters, at least 12)")
    if not site.rtp_start < site.rtp_end:
        raise SiteError(f"sip.rtp_start ({site.rtp_start}) must be below sip.rtp_end ({site.rtp_end})")
    if not ipaddress.ip_address(site.ari_address).is_loopback:
        raise SiteError(f"advanced.ari_address = {site.ari_address!r} must be a loopback address (ARI has no TLS)")
    digits = {re.sub(r"\D", "", n)[-9:] for n in (site.access_number, site.selftest_number)}
    if len(digits) == 1:
        raise SiteError("numbers.access_number and numbers.selftest_number must differ")
    if site.web_base_url and not re.fullmatch(r"https?://[^\s\"'\\]+", site.web_base_url):
        raise SiteError(f"web.base_url = {site.web_base_url!r} is not an http(s) address")
    if site.asterisk_root not in ("", "/") and not site.asterisk_root.startswith("/"):
        raise SiteError("advanced.asterisk_root must be an absolute path, or \"\" for the host's Asterisk")
    return site


# -- running -----------------------------------------------------------------------------------------


@dataclass
class Installer:
    site: Site
    site_file: Path = SITE_FILE
    check: bool = False
    start: bool = True
    changes: list[str] = field(default_factory=list)
    # What changed, for the restarts at the end: "asterisk", "serve", "units", "firewall", "fail2ban".
    touched: set[str] = field(default_factory=set)

    # -- helpers ---------------------------------------------------------------------------------

    def change(self, what: str, *touches: str) -> bool:
        """Record a change; True when it must be made (not --check)."""
        self.changes.append(what)
        self.touched.update(touches)
        print(("would: " if self.check else "") + what, flush=True)
        return not self.check

    def run(self, *command: str, user: str | None = None, input_text: str | None = None) -> str:
        if user:
            command = ("runuser", "-u", user, "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, input=input_text, check=False)
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            raise RuntimeError(f"{shlex.join(command)} failed: {output[-1] if output else result.returncode}")
        return result.stdout

    def write_file(self, path: Path, text: str | bytes, mode: int, owner: str, group: str, *touches: str) -> None:
        data = text.encode() if isinstance(text, str) else text
        if not path.exists() or path.read_bytes() != data:
            if self.change(f"write {path}", *touches):
                self._write(path, data, mode, owner, group)
            return
        self.ensure_mode(path, mode, owner, group, *touches)

    def _write(self, path: Path, data: bytes, mode: int, owner: str, group: str) -> None:
        """Written beside, owned and moded, then renamed: never readable by others for a moment."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self._own(Path(tmp), mode, owner, group)
        os.replace(tmp, path)

    def ensure_dir(self, path: Path, mode: int, owner: str, group: str) -> None:
        if not path.is_dir():
            if self.change(f"create {path} ({owner}:{group} {mode:o})"):
                path.mkdir(parents=True)
                self._own(path, mode, owner, group)
            return
        self.ensure_mode(path, mode, owner, group)

    def ensure_mode(self, path: Path, mode: int, owner: str, group: str, *touches: str) -> None:
        if not path.exists():
            return  # only in --check, before the file is written
        info = path.stat()
        uid, gid = self._ids(owner, group)
        if (info.st_mode & 0o7777, info.st_uid, info.st_gid) != (mode, uid, gid):
            if self.change(f"set {path} to {owner}:{group} {mode:o}", *touches):
                self._own(path, mode, owner, group)

    def _ids(self, owner: str, group: str) -> tuple[int, int]:
        try:
            uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            return (-1, -1)  # a user made later in this run (--check)
        return uid, gid

    def _own(self, path: Path, mode: int, owner: str, group: str) -> None:
        uid, gid = self._ids(owner, group)
        os.chown(path, uid, gid)
        os.chmod(path, mode)

    def secret(self, path: Path, make: str, owner: str = "root", group: str = "root", mode: int = 0o600) -> str:
        """A secret made once and kept in a file only root (and ``group`` when given) can read."""
        if not path.exists():
            value = secrets.token_hex(32) if make == "hex" else secrets.token_urlsafe(48)
            if self.change(f"generate {path}"):
                self._write(path, (value + "\n").encode(), mode, owner, group)
            return value
        self.ensure_mode(path, mode, owner, group)
        return path.read_text().strip()

    # -- steps -----------------------------------------------------------------------------------

    def packages(self) -> None:
        wanted = list(PACKAGES)
        for option, names in OPTIONAL_PACKAGES.items():
            if getattr(self.site, option):
                wanted += names
        if self.host_asterisk() and not _installed("asterisk"):
            # Checked before anything changes: an older Asterisk would not load our configuration.
            policy = self.run("apt-cache", "policy", "asterisk")
            candidate = re.search(r"Candidate:\s*(\S+)", policy)
            if not candidate or not re.match(r"(\d+:)?22\.", candidate.group(1)):
                found = candidate.group(1) if candidate else "none"
                raise RuntimeError(
                    f"advanced.asterisk_root = \"\": this host's asterisk package is {found}, not 22;"
                    " leave asterisk_root to its default (a Debian testing chroot)"
                )
            wanted.append("asterisk")
        missing = [name for name in wanted if not _installed(name)]
        if missing and self.change(f"apt-get install {' '.join(missing)}"):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
                subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)

    def host_asterisk(self) -> bool:
        """Whether Asterisk is the host's own package (asterisk_root "" or "/")."""
        return self.site.asterisk_root in ("", "/")

    def users(self) -> None:
        for user in (SERVICE_USER, WEB_USER):
            try:
                pwd.getpwnam(user)
            except KeyError:
                if self.change(f"add the system user {user} (a uid and group of its own)"):
                    self.run(
                        "useradd", "--system", "--user-group", "--home-dir", "/nonexistent", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", user,
                    )
        # The web application reads the PIN pepper through serve's group, and nothing else of serve's.
        try:
            members = grp.getgrnam(SERVICE_USER).gr_mem
        except KeyError:
            members = []  # --check on a first run
        if WEB_USER not in members and self.change(f"add {WEB_USER} to the group {SERVICE_USER} (the PIN pepper)", "web"):
            self.run("usermod", "--append", "--groups", SERVICE_USER, WEB_USER)

    def virtualenv(self) -> None:
        venv = REPO / ".venv"
        stamp = venv / ".installed-from"
        wanted = _digest(REPO / "setup.cfg", REPO / "pyproject.toml")
        if not (venv / "bin/reconnect-pbx").exists() or not stamp.exists() or stamp.read_text() != wanted:
            if self.change(f"install reconnect-pbx and its Python dependencies into {venv}", "serve", "web"):
                self.run("python3", "-m", "venv", str(venv))
                self.run(str(venv / "bin/pip"), "install", "--quiet", "-e", str(REPO))
                stamp.write_text(wanted)
        link = Path("/usr/local/bin/reconnect-pbx")
        if not link.is_symlink() or os.readlink(link) != str(venv / "bin/reconnect-pbx"):
            if self.change(f"link {link}"):
                link.unlink(missing_ok=True)
                link.symlink_to(venv / "bin/reconnect-pbx")
        # The code itself (an editable install): serve restarts when it changed.
        self.write_file(STATE_DIR / "code.sha256", _code_digest() + "\n", 0o644, "root", "root", "serve", "web")

    @property
    def ast_root(self) -> Path:
        return Path(self.site.asterisk_root or "/")

    def asterisk(self) -> None:
        if self.host_asterisk():
            version = self.run("asterisk", "-V") if shutil.which("asterisk") else ""
            if not self.check and not re.search(r"Asterisk 22\.", version):
                raise RuntimeError(f"the host's Asterisk is not 22 ({version.strip() or 'none'}): use a chroot")
            return
        root = self.ast_root
        if not (root / chroot.ASTERISK_BINARY.lstrip("/")).exists():
            if self.change(f"build {root}: Debian testing with its Asterisk 22 (debootstrap, a few minutes)", "asterisk"):
                chroot.ensure_chroot(root)
        elif not self.check:
            chroot.ensure_chroot(root)  # its fix-ups: hosts file, recording folder, own ids
        sample = root / "etc/asterisk.debian"
        if (root / "etc/asterisk").exists() and not sample.exists():
            if self.change(f"keep Debian's sample configuration aside in {sample}", "asterisk"):
                (root / "etc/asterisk").rename(sample)
                (root / "etc/asterisk").mkdir()

    def asterisk_group(self) -> str:
        ids = asterisk_user.asterisk_ids(self.ast_root)
        return str(ids[1]) if ids else "root"

    def asterisk_owner(self) -> str:
        ids = asterisk_user.asterisk_ids(self.ast_root)
        return str(ids[0]) if ids else "root"

    def folders(self) -> None:
        # 0750, root:reconnect-pbx: serve and the web user (in that group) enter it to read their
        # own settings file; never re-moded to 0700.
        self.ensure_dir(ETC, 0o750, "root", SERVICE_USER)
        self.ensure_dir(BACKUP_DIR, 0o700, "root", "root")
        self.ensure_dir(STATE_DIR, 0o755, "root", "root")
        root, owner, group = self.ast_root, self.asterisk_owner(), self.asterisk_group()
        if root.exists() and not self.host_asterisk():
            # debootstrap's temporary folder was 0700: the chroot's asterisk user could not enter "/".
            self.ensure_dir(root, 0o755, "root", "root")
            for folder in ("var/lib/asterisk", "var/log/asterisk", "run/asterisk"):
                self.ensure_dir(root / folder, 0o755, owner, group)
        if root.exists():
            self.ensure_dir(root / "var/spool/asterisk/recording", 0o750, owner, group)
            # Stored audio is played from files written here only while they play (media.py).
            self.ensure_dir(root / "run/reconnect-pbx-play", 0o2750, SERVICE_USER, group)

    def configuration(self) -> dict[str, str]:
        """The settings files, one per user (docs/deploy.md, "Settings, one file per user")."""
        site = self.site
        # It holds the trunk's password.
        self.ensure_mode(self.site_file, 0o600, "root", "root")
        ari_password = self.secret(ETC / "ari-password", "hex")
        passwords = {role: self.secret(ETC / name, "hex") for role, name in DATABASE_PASSWORD_FILES.items()}
        self.secret(ETC / "pin-pepper", "hex", group=SERVICE_USER, mode=0o640)
        self.secret(ETC / "backup.key", "base64")
        web_secret_key = self.secret(ETC / "web-secret-key", "hex")
        root = "" if self.host_asterisk() else self.site.asterisk_root
        cli = "asterisk" if self.host_asterisk() else f"chroot {root} asterisk"
        base_url = site.web_base_url or f"https://{site.public_address}"

        def database(role: str) -> dict[str, object]:
            return {"url": f"postgresql+psycopg2://{role}:{passwords[role]}@127.0.0.1:{site.database_port}/{DATABASE}"}

        header = f"# Written by deploy/install from {SITE_FILE}: edit that file and run the installer again.\n"
        ari = {"url": f"http://{site.ari_address}:{site.ari_port}", "username": ARI_USER, "password": ari_password}
        web = {"listen_port": site.web_port, "base_url": base_url, "trusted_proxies": 1}

        def settings_file(role: str, *, with_ari: bool, with_web: dict[str, object] | None) -> str:
            sections: dict[str, dict[str, object]] = {"database": database(role)}
            if with_ari:
                sections["ari"] = ari
            sections |= {
                "access": {"access_number": site.access_number, "selftest_number": site.selftest_number},
                "media": {"playback_dir": f"{root}/run/reconnect-pbx-play", "asterisk_playback_dir": "/run/reconnect-pbx-play"},
                "metrics": {"listen_port": site.metrics_port},
                "pin": {"pepper_file": f"{ETC}/pin-pepper"},
                "asterisk": {
                    "config_dir": f"{root}/etc/asterisk",
                    "cli_command": cli,
                    "trunk_registration": "trunk" if site.trunk_registration else "",
                },
            }
            if with_web is not None:
                sections["web"] = with_web
            # The site's own settings join the same tables (TOML allows a table once); the ones
            # the installer writes were refused when site.toml was read.
            for name, table in site.settings.items():
                if name == "web" and with_web is None:
                    continue  # the web application's settings, in its file and the operators'
                sections[name] = {**sections.get(name, {}), **table}
            return header + render_settings(sections)

        # The operators' (root's CLI, db upgrade, purge, doctor): the database owner.
        operators = settings_file(DATABASE, with_ari=True, with_web=web)
        self.write_file(ETC / "reconnect-pbx.conf", operators, 0o600, "root", "root")
        # serve's: its role cannot rewrite the audit log nor read staff accounts.
        serve = settings_file(SERVE_ROLE, with_ari=True, with_web=None)
        self.write_file(ETC / "serve.conf", serve, 0o600, SERVICE_USER, SERVICE_USER, "serve")
        # The web application's: its role reads no stored audio; no ARI password.
        web_conf = settings_file(WEB_ROLE, with_ari=False, with_web={**web, "secret_key": web_secret_key})
        self.write_file(ETC / "web.conf", web_conf, 0o600, WEB_USER, WEB_USER, "web")
        values = {
            "SIP_ADDRESS": site.public_address,
            "SIP_PORT": str(site.sip_port),
            "HTTP_ADDRESS": site.ari_address,
            "HTTP_PORT": str(site.ari_port),
            "RTP_START": str(site.rtp_start),
            "RTP_END": str(site.rtp_end),
            "ARI_PASSWORD": ari_password,
            "TRUNK_USERNAME": site.trunk_username,
            "TRUNK_PASSWORD": site.trunk_password,
            "TRUNK_SERVER": site.trunk_server,
            "TRUNK_MATCH": ",".join(site.trunk_match),
            "REGISTRATION_INITIAL_DELAY": "10",
        }
        text = "# Written by deploy/install from site.toml.\n" + "".join(f"{k}={v}\n" for k, v in values.items())
        self.write_file(ETC / "asterisk.values", text, 0o600, "root", "root", "asterisk")
        return values

    def asterisk_configuration(self) -> None:
        target = self.ast_root / "etc/asterisk"
        group = self.asterisk_group()
        with tempfile.TemporaryDirectory() as staging:
            stage = Path(staging) / "etc"
            stage.mkdir()
            if (target / "ari.conf").exists():
                # Its crypt's salt is kept when the password is the same: an unchanged file.
                shutil.copy2(target / "ari.conf", stage / "ari.conf")
            values = ETC / "asterisk.values"
            if not values.exists():  # --check on a first run
                self.change(f"install Asterisk's configuration into {target}", "asterisk")
                return
            command = [str(REPO / "deploy/install-asterisk-config.sh"), "--values", str(values)]
            if not self.site.trunk_registration:
                command.append("--ip-auth")
            self.run(*command, "--sounds", str(Path(staging) / "sounds"), str(stage))
            for source in sorted(stage.glob("*.conf")):
                self.write_file(target / source.name, source.read_bytes(), 0o640, "root", group, "asterisk")
            sounds = self.ast_root / "usr/share/asterisk/sounds/reconnect/std"
            self._sync_tree(Path(staging) / "sounds/std", sounds)

    def _sync_tree(self, source: Path, target: Path) -> None:
        """Copy the files of ``source`` that differ in ``target``: one line for all of them."""
        changed = [
            path for path in sorted(source.rglob("*"))
            if path.is_file() and not (
                (target / path.relative_to(source)).exists()
                and filecmp.cmp(path, target / path.relative_to(source), shallow=False)
            )
        ]
        if changed and self.change(f"install {len(changed)} prompt file(s) into {target}"):
            for path in changed:
                destination = target / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
                os.chmod(destination, 0o644)

    def database(self) -> None:
        port = str(self.site.database_port)
        # pg_lsclusters: version, name, port, status, ...; the first cluster is Debian's "main".
        clusters = self.run("pg_lsclusters", "--no-header").split() if shutil.which("pg_lsclusters") else []
        if len(clusters) >= 4:
            version, name, current_port, status = clusters[:4]
            if current_port != port and self.change(f"PostgreSQL cluster {version}/{name}: port {port}"):
                self.run("pg_conftool", version, name, "set", "port", port)
                if status == "online":
                    self.run("pg_ctlcluster", version, name, "restart")
            if status != "online" and self.change(f"start the PostgreSQL cluster {version}/{name}"):
                self.run("pg_ctlcluster", version, name, "start")
        if self.check and not clusters:
            self.change(f"create the PostgreSQL role and database {DATABASE}")
            return
        psql = ("psql", "-p", port, "-Atq", "-v", "ON_ERROR_STOP=1")
        for role, name in DATABASE_PASSWORD_FILES.items():
            self.login_role(psql, role, ETC / name)
        found = self.run(*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", user="postgres")
        if not found.strip() and self.change(f"create the PostgreSQL database {DATABASE}"):
            self.run("createdb", "-p", port, "--owner", DATABASE, DATABASE, user="postgres")

    def login_role(self, psql: tuple[str, ...], role: str, password_file: Path) -> None:
        """``role`` logs in with the password of ``password_file``. serve's and web's are made here,
        before migration 0007 grants them their rights (it would make them NOLOGIN); one it made
        earlier is given LOGIN and the password."""
        password = password_file.read_text().strip() if password_file.exists() else ""
        found = self.run(*psql, "-c", f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{role}'", user="postgres").strip()
        # The password's digest once set: a password file replaced (a new password) is set again.
        stamp = STATE_DIR / f"{password_file.name}.sha256"
        digest = hashlib.sha256(password.encode()).hexdigest()
        set_before = stamp.exists() and stamp.read_text().strip() == digest
        if not found:
            if self.change(f"create the PostgreSQL login role {role}"):
                self.run(*psql, user="postgres", input_text=f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}';\n")
                self._write(stamp, (digest + "\n").encode(), 0o600, "root", "root")
        elif found != "t" or not set_before:
            if self.change(f"let the PostgreSQL role {role} log in with the password of {password_file}"):
                self.run(*psql, user="postgres", input_text=f"ALTER ROLE \"{role}\" LOGIN PASSWORD '{password}';\n")
                self._write(stamp, (digest + "\n").encode(), 0o600, "root", "root")

    def migrate(self) -> None:
        cli = str(REPO / ".venv/bin/reconnect-pbx")
        if not Path(cli).exists():
            self.change("reconnect-pbx db upgrade", "serve", "web")
            return
        config = ("--config", str(ETC / "reconnect-pbx.conf"))
        status = subprocess.run([cli, *config, "db", "check"], capture_output=True, text=True, check=False)
        if status.returncode != 0 and self.change("reconnect-pbx db upgrade", "serve", "web"):
            # A database is migrated only while no serve uses it; started again by services().
            if _systemd_running() and subprocess.run(
                ["systemctl", "is-active", "--quiet", "reconnect-pbx.service"], check=False
            ).returncode == 0:
                self.change("systemctl stop reconnect-pbx.service (for the migration)")
                self.run("systemctl", "stop", "reconnect-pbx.service")
            self.run(cli, *config, "--operator", "deploy/install", "db", "upgrade")

    def first_centre(self) -> None:
        """The centre and pool of numbers.centre/range, on the first run only (staff's afterwards)."""
        if not self.site.centre:
            return
        cli = [str(REPO / ".venv/bin/reconnect-pbx"), "--config", str(ETC / "reconnect-pbx.conf"), "--operator", "deploy/install"]
        listed = subprocess.run([*cli, "centre", "list", "--json"], capture_output=True, text=True, check=False)
        if listed.returncode != 0:  # --check before the database exists
            self.change(f"add the centre {self.site.centre!r} and its numbers")
            return
        centres = {row["name"]: row for row in json.loads(listed.stdout)}
        if self.site.centre not in centres and self.change(f"add the centre {self.site.centre!r}"):
            self.run(*cli, "centre", "add", self.site.centre)
        known = centres.get(self.site.centre, {}).get("numbers", 0)
        if self.site.number_range and not known:
            first, last = self.site.number_range
            if self.change(f"import the numbers {first} to {last} into its pool"):
                self.run(*cli, "numbers", "import", "--range", first, last, "--centre", self.site.centre)

    def units(self) -> None:
        replacements = {"/opt/reconnect-pbx": str(REPO), "/srv/asterisk-root": self.site.asterisk_root or ""}
        names = list(UNITS) + ([] if self.host_asterisk() else ["asterisk.service"])
        for name in names:
            text = (REPO / "deploy/systemd" / name).read_text()
            for old, new in replacements.items():
                text = text.replace(old, new)
            touches = ("units", {"asterisk.service": "asterisk", "reconnect-pbx-web.service": "web"}.get(name, "serve"))
            self.write_file(SYSTEMD_DIR / name, text, 0o644, "root", "root", *touches)

    def firewall(self) -> None:
        if not self.site.firewall:
            return
        site = self.site
        media = site.carrier_media or site.trunk_match
        text = (REPO / "deploy/nftables.conf").read_text()
        text = text.replace("{{CARRIER_SIGNALLING}}", ", ".join(site.trunk_match))
        text = text.replace("{{CARRIER_MEDIA}}", ", ".join(media))
        text = text.replace("{{SIP_PORT}}", str(site.sip_port))
        text = text.replace("{{RTP_RANGE}}", f"{site.rtp_start}-{site.rtp_end}")
        self.write_file(Path("/etc/nftables.conf"), text, 0o755, "root", "root", "firewall")

    def fail2ban(self) -> None:
        if not self.site.fail2ban:
            return
        text = (REPO / "deploy/fail2ban/reconnect-pbx.conf").read_text()
        log = f"{self.site.asterisk_root or ''}/var/log/asterisk/messages.log"
        text = re.sub(r"(?m)^logpath .*$", f"logpath   = {log}", text)
        text = re.sub(r"(?m)^(ignoreip .*)$", lambda m: m.group(1) + " " + " ".join(self.site.trunk_match), text)
        self.write_file(Path("/etc/fail2ban/jail.d/reconnect-pbx.conf"), text, 0o644, "root", "root", "fail2ban")

    def services(self) -> None:
        systemd_running = _systemd_running()
        units = [u for u in ENABLED_UNITS if not (self.host_asterisk() and u == "asterisk.service")]
        units += [u for u, option in (("nftables.service", "firewall"), ("fail2ban.service", "fail2ban")) if getattr(self.site, option)]
        if "units" in self.touched and systemd_running and self.change("systemctl daemon-reload"):
            self.run("systemctl", "daemon-reload")
        for unit in units:
            enabled = subprocess.run(["systemctl", "is-enabled", "--quiet", unit], check=False).returncode == 0
            if not enabled and self.change(f"systemctl enable {unit}"):
                self.run("systemctl", "enable", unit)
        if not (self.start and systemd_running):
            if not self.check:
                print("systemd is not running here: units enabled, not started", flush=True)
            return
        restarts = {
            "asterisk.service": "asterisk",
            "reconnect-pbx.service": "serve",
            "reconnect-pbx-web.service": "web",
            "nftables.service": "firewall",
            "fail2ban.service": "fail2ban",
        }
        for unit in units:
            active = subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False).returncode == 0
            if not active:
                if self.change(f"systemctl start {unit}"):
                    self.run("systemctl", "start", unit)
            elif restarts.get(unit) in self.touched and self.change(f"systemctl restart {unit}"):
                self.run("systemctl", "restart", unit)

    def all_steps(self) -> None:
        for step in (
            self.packages, self.users, self.virtualenv, self.asterisk, self.folders, self.configuration,
            self.asterisk_configuration, self.database, self.migrate, self.first_centre, self.units, self.firewall, self.fail2ban,
            self.services,
        ):
            step()


def _systemd_running() -> bool:
    """systemd is PID 1 here (not a chroot, not an image being built)."""
    return Path("/run/systemd/system").is_dir()


def _installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True, check=False
    )
    return result.stdout.endswith("installed") and "not-installed" not in result.stdout


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _code_digest() -> str:
    files = sorted((REPO / "reconnect_pbx").rglob("*.py")) + sorted((REPO / "migrations").rglob("*.py"))
    return _digest(*files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/install", description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=SITE_FILE, help=f"the values file (default {SITE_FILE})")
    parser.add_argument("--check", action="store_true", help="print what would change, change nothing")
    parser.add_argument("--no-start", action="store_true", help="enable the units, start none of them")
    parser.add_argument("--no-selftest", action="store_true", help="do not run `reconnect-pbx selftest` at the end")
    args = parser.parse_args(argv)
    try:
        site = parse_site(args.site.read_text())
    except OSError as exc:
        print(f"install: cannot read {args.site}: {exc.strerror}", file=sys.stderr)
        return 1
    except SiteError as exc:
        print(f"install: {args.site}: {exc}; nothing changed", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print("install: run as root", file=sys.stderr)
        return 1
    installer = Installer(site, site_file=args.site, check=args.check, start=not args.no_start)
    try:
        installer.all_steps()
    except (RuntimeError, subprocess.CalledProcessError, chroot.ChrootError) as exc:
        print(f"install: {exc}", file=sys.stderr)
        return 1
    if args.check:
        print(f"{len(installer.changes)} change(s) to make" if installer.changes else "nothing to change")
        return 0
    print(f"installed: {len(installer.changes)} change(s)" if installer.changes else "installed: nothing changed")
    running = _systemd_running() and installer.start
    if running and not args.no_selftest:
        return subprocess.run([str(REPO / ".venv/bin/reconnect-pbx"), "selftest"], check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
