"""``reconnect-pbx doctor``: is this installation ready to take calls? One result per check.

What each check looks at, and why that way:

- **database**: connects with the configured URL and compares the schema's migration with the
  code's (``services/schema.py``), as ``serve`` does before it starts.
- **pin pepper**: the key PINs are hashed with (``pin.pepper_file``) can be read, holds at least
  32 characters and is not readable by other users; says how many PIN hashes were made before it.
- **ari**: ``GET /ari/asterisk/info`` with the configured user: reachable and authenticated.
- **stasis app**: ``GET /ari/applications/<app>``: Asterisk lists an application only while a
  websocket holds it, so a 404 means ``serve`` is not running or not connected to this Asterisk.
- **prompts**: ``GET /ari/sounds?lang=reconnect``. Asterisk's media index takes the first folder
  under ``sounds/`` for a language, so our ``sounds/reconnect/<set>/<lang>/<name>.wav`` are listed
  with language ``reconnect`` and id ``<set>/<lang>/<name>``; the index is read from the disk at
  each request and only lists files a loaded format module can play. Every name of the catalogue
  must be there in every language, for the configured ``voicemail.prompt_set``.
- **access number**: the configured access number is assigned to nobody (a person given it would
  never receive a message: their callers reach the PIN menu). Skipped without an access number
  or when the database check failed.
- **trunk**: ARI says nothing about outbound registrations (``/endpoints`` tells a static contact
  "online" whether registered or not), so this one runs ``<asterisk.cli_command> -rx "pjsip show
  registrations"``: it needs Asterisk on this host and the right to its control socket (root or the
  asterisk group). Skipped when Asterisk is on another host or no registration is configured.
- **asterisk user**: when ``asterisk.cli_command`` runs Asterisk in a chroot (``chroot <root> ...``),
  the chroot's ``asterisk`` user and group must have ids no host user or group has
  (``asterisk_user.py``: 101 is ``postgres`` on many hosts). Skipped for an Asterisk installed on
  the host itself, whose user is the host's own.
- **service user**: ``serve``'s user (``reconnect-pbx``, made by ``deploy/install``) can read
  ``serve.conf`` (the settings file beside the one in use; the file in use when there is none)
  and the pepper, every folder above them included, and the web application's user ``web.conf``
  and the pepper; ``serve``'s uid and gid are no other user's, on the host or in Asterisk's
  chroot. Skipped where that user does not exist (serve runs as someone else).
- **media cache**: ``<asterisk.cli_command> -rx "media cache show all"`` lists no ``http(s)://``
  item: stored audio is played from files removed after each playback (``media.py``), so any such
  item is a copy an older version left behind. Skipped without an Asterisk CLI here.
- **file modes**: the settings file in use and the others of its folder (``file_modes.py``): the
  operators', serve's and web's settings each readable by their own user only, the PIN pepper by
  the services' group, the folder writable by root only. Skipped when there is no settings file
  (everything from the environment).
- **listening**: reads ``http.conf`` and ``manager.conf`` in ``asterisk.config_dir``: ARI (the
  HTTP server) and AMI must listen on loopback addresses only. Skipped for a remote Asterisk (the
  application then reaches ARI over the network by design: firewall it).

A check that depends on a failed one (ARI down: no application, no prompts) is skipped, not failed
twice. Nothing here prints or exits: ``cli/doctor.py`` does.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import stat
import re
import shlex
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from . import asterisk_user, file_modes, prompts
from .ari import AriClient, AriConnectionError, AriError, AriHttpError, NotFound
from .config import Settings, config_file_path
from .db import make_engine
from .models import Credential
from .services import credentials, numbers, schema

OK = "ok"
FAIL = "FAIL"
SKIP = "skip"

# How long one check may wait for the database, Asterisk or its CLI.
TIMEOUT_SECONDS = 5
# How many missing prompts a failed check names.
MISSING_SHOWN = 5
NO_ARI_REGISTRATIONS = "ARI does not show registrations"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAIL


def run_checks(settings: Settings, config_file: Path | None = None) -> list[CheckResult]:
    """Every check, in a fixed order; never raises for what it checks. ``config_file``: the
    settings file the run read."""
    results = [check_database(settings), check_pepper(settings), check_file_modes(config_file)]
    results.append(check_access_number(settings, database_ok=not results[0].failed))
    results += asyncio.run(_ari_checks(settings))
    results.append(check_trunk(settings))
    results.append(check_asterisk_user(settings))
    results.append(check_service_user(settings, service_settings_file(config_file or config_file_path())))
    results.append(check_media_cache(settings))
    results.append(check_listening(settings))
    return results


# -- database -------------------------------------------------------------------------------------


def check_database(settings: Settings) -> CheckResult:
    name = "database"
    url = settings.database.url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
        engine = make_engine(url, poolclass=NullPool, connect_args={"connect_timeout": TIMEOUT_SECONDS})
    except ArgumentError as exc:
        return CheckResult(name, FAIL, f"database.url is not a database URL: {exc}")
    try:
        with engine.connect() as connection:
            found = schema.revisions_of(connection)
    except SQLAlchemyError as exc:
        return CheckResult(name, FAIL, f"cannot reach {shown}: {_first_line(getattr(exc, 'orig', None) or exc)}")
    except schema.SchemaError as exc:
        return CheckResult(name, FAIL, str(exc))
    finally:
        engine.dispose()
    if found.current is None:
        return CheckResult(name, FAIL, f"{shown} has no schema: run `reconnect-pbx db upgrade`")
    if not found.up_to_date:
        expected = ", ".join(found.heads)
        why = f"{shown} is at migration {found.current}, the code expects {expected}"
        return CheckResult(name, FAIL, f"{why}: run `reconnect-pbx db upgrade`")
    return CheckResult(name, OK, f"{shown} at migration {found.current} (latest)")


def check_access_number(settings: Settings, *, database_ok: bool = True) -> CheckResult:
    name = "access number"
    reserved = numbers.reserved_numbers(settings.access.access_number, settings.numbers.default_region)
    if not reserved:
        return CheckResult(name, SKIP, "access.access_number is not set")
    if not database_ok:
        return CheckResult(name, SKIP, "the database check failed")
    engine = make_engine(settings.database.url, poolclass=NullPool, connect_args={"connect_timeout": TIMEOUT_SECONDS})
    try:
        with engine.connect() as connection, Session(connection) as session:
            in_use = numbers.reserved_in_use(session, reserved)
    except SQLAlchemyError as exc:
        return CheckResult(name, FAIL, f"cannot read the number assignments: {_first_line(exc)}")
    finally:
        engine.dispose()
    if in_use:
        shown = ", ".join(f"{e164} (person {person})" for e164, person in in_use)
        return CheckResult(
            name,
            FAIL,
            f"{shown}: the access number is assigned to a person, whose callers reach the PIN menu; "
            "close that person and enrol them again",
        )
    return CheckResult(name, OK, f"{', '.join(sorted(reserved))} is assigned to nobody")


# -- the PIN pepper -------------------------------------------------------------------------------


def check_pepper(settings: Settings) -> CheckResult:
    """The pepper file is there, long enough, readable by no one else; and how many PIN hashes
    still wait to be peppered (made before it: upgraded at their next login)."""
    name = "pin pepper"
    path = settings.pin.pepper_file
    try:
        credentials.read_pepper_file(path)
    except credentials.PepperError as exc:
        return CheckResult(name, FAIL, str(exc))
    detail = f"{path} is readable here and by no other user"
    try:
        engine = make_engine(settings.database.url, poolclass=NullPool, connect_args={"connect_timeout": TIMEOUT_SECONDS})
        try:
            with engine.connect() as connection:
                old = connection.scalar(
                    select(func.count()).select_from(Credential).where(~Credential.pin_hash.startswith(credentials.PEPPERED + "$"))
                )
        finally:
            engine.dispose()
    except (ArgumentError, SQLAlchemyError):
        return CheckResult(name, OK, detail)  # the database check says why
    if old:
        detail += f"; {old} PIN hash(es) made before it, peppered at their next login (or `pin reset`)"
    return CheckResult(name, OK, detail)


# -- who may read the settings and secrets -----------------------------------------------------


def check_file_modes(config_file: Path | None) -> CheckResult:
    name = "file modes"
    if config_file is None or not config_file.is_file():
        return CheckResult(name, SKIP, "no settings file (the settings come from the environment)")
    try:
        wrong, checked = file_modes.problems(config_file)
    except OSError as exc:
        return CheckResult(name, FAIL, f"cannot look at {config_file.parent}: {exc.strerror}")
    if wrong:
        return CheckResult(name, FAIL, "; ".join(wrong))
    return CheckResult(name, OK, f"{config_file.parent}: {', '.join(checked)}")


# -- ARI: Asterisk, the Stasis application, the prompts -------------------------------------------


async def _ari_checks(settings: Settings) -> list[CheckResult]:
    ari = settings.ari
    client = AriClient(ari.url, ari.username, ari.password, ari.app, request_timeout=TIMEOUT_SECONDS)
    try:
        reached = await _check_ari(client, settings)
        if reached.failed:
            why = "ARI is not usable"
            return [reached, CheckResult("stasis app", SKIP, why), CheckResult("prompts", SKIP, why)]
        return [reached, await _check_application(client), await _check_prompts(client, settings)]
    finally:
        await client.close()


async def _check_ari(client: AriClient, settings: Settings) -> CheckResult:
    name = "ari"
    try:
        info = await client.asterisk_info()
    except AriHttpError as exc:
        if exc.status == 401:
            who = f"Asterisk at {client.url} refused user {settings.ari.username!r}"
            return CheckResult(name, FAIL, f"{who}: check ari.username and ari.password against ari.conf")
        return CheckResult(name, FAIL, f"{client.url} answered {exc.status} {exc.message}: is it Asterisk's ARI?")
    except AriConnectionError as exc:
        return CheckResult(name, FAIL, f"cannot reach Asterisk at {client.url}: {_reason(exc)}")
    except AriError as exc:
        return CheckResult(name, FAIL, f"{client.url}: {exc}")
    version = (info or {}).get("system", {}).get("version", "unknown version")
    return CheckResult(name, OK, f"Asterisk {version} at {client.url}, user {settings.ari.username!r}")


async def _check_application(client: AriClient) -> CheckResult:
    name = "stasis app"
    try:
        app = await client.application()
    except NotFound:
        why = "`reconnect-pbx serve` is not running or not connected"
        return CheckResult(name, FAIL, f"application {client.app!r} is not registered: {why}")
    except AriError as exc:
        return CheckResult(name, FAIL, f"cannot ask for application {client.app!r}: {_reason(exc)}")
    channels = len(app.get("channel_ids", []))
    return CheckResult(name, OK, f"application {client.app!r} is registered ({channels} channel(s) in it)")


async def _check_prompts(client: AriClient, settings: Settings) -> CheckResult:
    name = "prompts"
    prompt_set = settings.voicemail.prompt_set
    try:
        sounds = await client.request("GET", "/sounds", params={"lang": prompts.SOUNDS_SUBDIR})
    except AriError as exc:
        return CheckResult(name, FAIL, f"cannot list Asterisk's sounds: {_reason(exc)}")
    present = {sound.get("id") for sound in sounds or [] if isinstance(sound, dict)}
    expected = [f"{prompt_set}/{language}/{prompt}" for language in prompts.LANGUAGES for prompt in prompts.CATALOGUE]
    missing = [sound_id for sound_id in expected if sound_id not in present]
    folder = f"sounds/{prompts.SOUNDS_SUBDIR}/{prompt_set}/"
    if missing:
        shown = ", ".join(sound_id.split("/", 1)[1] for sound_id in missing[:MISSING_SHOWN])
        more = f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
        return CheckResult(
            name, FAIL, f"{len(missing)} of {len(expected)} prompts missing from Asterisk's {folder}: {shown}{more}"
        )
    languages = ", ".join(prompts.LANGUAGES)
    return CheckResult(name, OK, f"all {len(prompts.CATALOGUE)} prompts of set {prompt_set!r} in {languages}")


# -- the trunk registration, through the Asterisk CLI ---------------------------------------------


def check_trunk(settings: Settings) -> CheckResult:
    name = "trunk"
    registration = settings.asterisk.trunk_registration
    if not registration:
        return CheckResult(name, SKIP, "no outbound registration (asterisk.trunk_registration is empty)")
    host = urlsplit(settings.ari.url).hostname or ""
    command = shlex.split(settings.asterisk.cli_command)
    if not command:
        return CheckResult(name, SKIP, f"cannot check: {NO_ARI_REGISTRATIONS} and asterisk.cli_command is empty")
    if shutil.which(command[0]) is None:
        if not is_loopback(host):
            why = f"Asterisk is on another host ({host}) and {NO_ARI_REGISTRATIONS}"
            return CheckResult(name, SKIP, f"cannot check: {why}")
        return CheckResult(name, FAIL, f"cannot run {command[0]!r}: not found (set asterisk.cli_command)")
    try:
        result = _asterisk_rx(command, "pjsip show registrations")
    except subprocess.TimeoutExpired:
        return CheckResult(name, FAIL, f"{command[0]} -rx did not answer in {TIMEOUT_SECONDS * 2} s")
    except OSError as exc:
        return CheckResult(name, FAIL, f"cannot run {command[0]!r}: {exc.strerror}")
    if result.returncode != 0:
        output = _last_line(result.stdout + result.stderr)
        why = "is Asterisk running, and may this user use its console?"
        return CheckResult(name, FAIL, f"the Asterisk CLI failed ({output}): {why}")
    found = registration_status(result.stdout, registration)
    if found is None:
        return CheckResult(name, FAIL, f"Asterisk has no outbound registration named {registration!r} (pjsip.conf)")
    server, status = found
    if status != "Registered":
        why = "check the carrier's address and the account in pjsip.conf's trunk-auth"
        return CheckResult(name, FAIL, f"registration {registration!r} to {server} is {status}: {why}")
    return CheckResult(name, OK, f"registration {registration!r} to {server} is Registered")


def check_asterisk_user(settings: Settings, host_etc: Path = Path("/etc")) -> CheckResult:
    name = "asterisk user"
    root = chroot_of(settings.asterisk.cli_command)
    if root is None:
        return CheckResult(name, SKIP, "Asterisk does not run in a chroot (asterisk.cli_command): its user is the host's")
    ids = asterisk_user.asterisk_ids(root)
    if ids is None:
        return CheckResult(name, FAIL, f"no {asterisk_user.USER} user and group in {root}/etc/passwd and group")
    found = asterisk_user.clashes(root, host_etc)
    if found:
        problems = "; ".join(str(clash) for clash in found)
        return CheckResult(name, FAIL, f"the chroot's {asterisk_user.USER} {problems}: give it ids of its own (docs/deploy.md)")
    return CheckResult(name, OK, f"uid {ids[0]}, gid {ids[1]} in {root}: no host user or group has them")


# The users `serve` and the web application run as (deploy/systemd/, made by deploy/install).
SERVICE_USER = file_modes.SERVICE_USER
WEB_USER = file_modes.WEB_USER


def service_settings_file(config_file: Path) -> Path:
    """The settings file `serve` reads: serve.conf beside the operators' file (docs/deploy.md §2),
    else the file in use (a single-file setup)."""
    serve_file = config_file.parent / "serve.conf"
    return serve_file if serve_file.exists() else config_file


def check_service_user(settings: Settings, config_path: Path, host_etc: Path = Path("/etc")) -> CheckResult:
    """`serve`'s user reads its settings file and the pepper (a folder re-moded 0700 stopped it),
    and so does the web application's user with web.conf; `serve`'s uid and gid are no other
    user's, here or in Asterisk's chroot (the kernel knows only numbers: the playback files it
    writes there would be another user's)."""
    name = "service user"
    users, groups = asterisk_user.read_ids(host_etc / "passwd"), asterisk_user.read_ids(host_etc / "group")
    uid, gid = users.get(SERVICE_USER), groups.get(SERVICE_USER)
    if uid is None or gid is None:
        return CheckResult(name, SKIP, f"no user and group {SERVICE_USER} here: serve runs as another user")
    pepper = Path(settings.pin.pepper_file)
    readers = [(SERVICE_USER, config_path), (SERVICE_USER, pepper)]
    web_file = config_path.parent / "web.conf"
    if WEB_USER in users and web_file.exists():
        readers += [(WEB_USER, web_file), (WEB_USER, pepper)]
    for user, path in readers:
        user_gids = {groups[user]} if user in groups else set()
        user_gids |= _supplementary_groups(host_etc / "group", user, groups)
        if path.exists() and not _readable_by(path, users[user], user_gids):
            return CheckResult(name, FAIL, f"{user} cannot read {path} (or enter its folder): see the modes deploy/install sets")
    clashes = [f"uid {uid} is also {other}'s" for other, other_id in users.items() if other_id == uid and other != SERVICE_USER]
    clashes += [f"gid {gid} is also group {other}'s" for other, other_id in groups.items() if other_id == gid and other != SERVICE_USER]
    root = chroot_of(settings.asterisk.cli_command)
    if root is not None:
        inside = asterisk_user.read_ids(root / "etc/passwd")
        clashes += [f"uid {uid} is {other} in {root}" for other, other_id in inside.items() if other_id == uid and other != SERVICE_USER]
    if clashes:
        return CheckResult(name, FAIL, f"{SERVICE_USER}: {'; '.join(clashes)}: give it ids of its own")
    who = ", ".join(sorted({f"{user} {path.name}" for user, path in readers if path != pepper}))
    return CheckResult(name, OK, f"{SERVICE_USER} (uid {uid}) has ids of its own; readable: {who} and the pepper")


def _supplementary_groups(group_file: Path, user: str, groups: dict[str, int]) -> set[int]:
    try:
        lines = group_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return set()
    return {groups[f[0]] for f in (line.split(":") for line in lines) if len(f) >= 4 and user in f[3].split(",") and f[0] in groups}


def _readable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether ``uid`` (with ``gids``) may read ``path`` and enter every folder above it, by the modes."""

    def allowed(target: Path, bit: int) -> bool:
        info = target.stat()
        if info.st_uid == uid:
            return bool(info.st_mode & (bit << 6))
        if info.st_gid in gids:
            return bool(info.st_mode & (bit << 3))
        return bool(info.st_mode & bit)

    resolved = path.resolve()
    return allowed(resolved, stat.S_IROTH) and all(allowed(parent, stat.S_IXOTH) for parent in resolved.parents)


def chroot_of(cli_command: str) -> Path | None:
    """The root of ``chroot <root> asterisk ...``; None when the command runs no chroot."""
    try:
        words = shlex.split(cli_command)
    except ValueError:
        return None
    if len(words) < 2 or Path(words[0]).name != "chroot":
        return None
    if words[1].startswith("-"):
        return None  # chroot --userspec=...: not a form this guide uses
    return Path(words[1])


def check_media_cache(settings: Settings) -> CheckResult:
    """Asterisk's HTTP media cache holds no audio fetched over HTTP: versions that played stored
    audio as ``sound:http://...`` left a copy of every greeting and message heard there."""
    name = "media cache"
    command = shlex.split(settings.asterisk.cli_command)
    if not command or shutil.which(command[0]) is None:
        return CheckResult(name, SKIP, "cannot check: no Asterisk CLI here (asterisk.cli_command)")
    try:
        result = _asterisk_rx(command, "media cache show all")
    except (subprocess.TimeoutExpired, OSError) as exc:
        return CheckResult(name, FAIL, f"the Asterisk CLI failed: {_first_line(exc)}")
    if result.returncode != 0:
        return CheckResult(name, FAIL, f"the Asterisk CLI failed ({_last_line(result.stdout + result.stderr)})")
    cached = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(("http://", "https://"))]
    if cached:
        how = "erase them: docs/deploy.md, section 9"
        return CheckResult(name, FAIL, f"{len(cached)} audio file(s) fetched over HTTP left in Asterisk's media cache: {how}")
    return CheckResult(name, OK, "no audio in Asterisk's media cache")


def _asterisk_rx(command: list[str], cli_command: str) -> subprocess.CompletedProcess[str]:
    """``asterisk -rx CLI_COMMAND`` through ``asterisk.cli_command``, bounded in time."""
    return subprocess.run(
        [*command, "-rx", cli_command],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS * 2,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def registration_status(output: str, registration: str) -> tuple[str, str] | None:
    """(server URI, status) of ``registration`` in ``pjsip show registrations``; None if absent.

    A line reads ``trunk/sip:192.0.2.1:5060  trunk-auth  Registered  (exp. 412s)``.
    """
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[0].startswith(registration + "/"):
            continue
        status = fields[-3] if fields[-1].endswith("s)") and len(fields) >= 4 else fields[-1]
        return fields[0].split("/", 1)[1], status
    return None


# -- listening addresses ---------------------------------------------------------------------------


def check_listening(settings: Settings) -> CheckResult:
    name = "listening"
    host = urlsplit(settings.ari.url).hostname or ""
    if not is_loopback(host):
        return CheckResult(name, SKIP, f"cannot check: Asterisk is on another host ({host})")
    if not settings.asterisk.config_dir:
        return CheckResult(name, SKIP, "cannot check: asterisk.config_dir is empty")
    config_dir = Path(settings.asterisk.config_dir)
    try:
        http = read_asterisk_conf(config_dir / "http.conf").get("general", {})
        manager = read_asterisk_conf(config_dir / "manager.conf").get("general", {})
    except OSError as exc:
        hint = "run as root or in the asterisk group" if exc.errno == errno.EACCES else "set asterisk.config_dir"
        return CheckResult(name, FAIL, f"cannot read {exc.filename}: {exc.strerror} ({hint})")
    problems: list[str] = []
    said: list[str] = []
    for label, section, enabled_key, address_key in (
        ("ARI/HTTP", http, "enabled", "bindaddr"),
        ("ARI/HTTPS", http, "tlsenable", "tlsbindaddr"),
        ("AMI", manager, "enabled", "bindaddr"),
    ):
        if not _yes(section.get(enabled_key, "no")):
            if label != "ARI/HTTPS":
                said.append(f"{label} off")
            continue
        address = section.get(address_key, "")
        if not address:
            problems.append(f"{label} is enabled without {address_key} (Asterisk then listens on every address)")
        elif not is_loopback(_strip_port(address)):
            problems.append(f"{label} listens on {address}")
        else:
            said.append(f"{label} on {address}")
    if problems:
        return CheckResult(name, FAIL, "; ".join(problems) + f": use a loopback address in {config_dir}")
    return CheckResult(name, OK, "loopback only: " + ", ".join(said))


def read_asterisk_conf(path: Path) -> dict[str, dict[str, str]]:
    """The ``key = value`` pairs of an Asterisk config file, by section (last value wins)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split(";", 1)[0].strip()
        if header := re.fullmatch(r"\[([^\]]+)\].*", line):
            current = sections.setdefault(header.group(1).strip(), {})
        elif current is not None and "=" in line:
            key, value = line.split("=", 1)
            current[key.strip().lower()] = value.lstrip(">").strip()
    return sections


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) means this machine only."""
    host = host.strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)


def _strip_port(address: str) -> str:
    if address.startswith("["):
        return address[1 : address.find("]")]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


def _yes(value: str) -> bool:
    return value.strip().lower() in {"yes", "true", "y", "t", "1", "on"}


def _first_line(error: object) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _reason(exc: AriError) -> str:
    """The cause without our ``GET /path:`` prefix."""
    return str(exc).split(": ", 1)[-1]
