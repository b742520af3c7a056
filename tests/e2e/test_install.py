"""docs/deploy.md followed literally in a fresh Debian 12 root: its five commands, then the test call.

The root is a copy of a bare Debian 12 built once with debootstrap and cached
(``reconnect_pbx.sandbox.debian_root``). The guide's commands run inside it with chroot(8), as root,
the repository URL pointing at a copy of this working tree and the editor step writing the values
a sysadmin would type (a carrier simulator of the sandbox as the carrier). What a chroot does not
have, and this test does instead:

- systemd is not PID 1: the installer enables the units and starts none (it says so); the test
  starts what ``asterisk.service``, ``reconnect-pbx.service`` and ``reconnect-pbx-web.service`` would, their ExecStart as their
  User with their Environment, read from the installed unit files, then runs ``reconnect-pbx
  selftest`` as the installer does at its end on a booted host;
- the Asterisk chroot of Debian testing is seeded from the sandbox's cache (the same debootstrap
  the installer runs, done once per machine): the installer takes it as found and applies its
  fix-ups, instead of spending minutes on a second one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reconnect_pbx.sandbox import AsteriskInstance, Sandbox
from reconnect_pbx.sandbox import debian_root
from reconnect_pbx.sandbox.chroot import chroot_path
from reconnect_pbx.sandbox.instance import INSTANCES_DIR, REPO_DIR

GUIDE = REPO_DIR / "docs/deploy.md"
# Carrier on 127.0.0.<n>, the installed host on <n + 1>: one pair per test sandbox slot.
ADDRESS_OCTETS = {"test": 50, "test4": 52, "test6": 54, "test8": 56}
TRUNK_USERNAME = "installtest"
WORK = Path("/var/tmp/reconnect-pbx-install-test")
UPSTREAM = "/srv/upstream/reconnect-pbx"
SITE = "/etc/reconnect-pbx/site.toml"


def guide_commands() -> list[str]:
    blocks = re.findall(r"```sh guide\n(.*?)```", GUIDE.read_text(), re.S)
    assert len(blocks) == 1, "the guide has one block of commands from a bare host"
    return [line.split("  #")[0].strip() for line in blocks[0].splitlines() if line.strip() and not line.startswith("#")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Host:
    root: Path
    carrier: AsteriskInstance
    address: str
    ari_port: int
    web_port: int
    outputs: dict[str, str]
    processes: list[subprocess.Popen[bytes]]

    def run(self, command: str, check: bool = True, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        result = debian_root.run_in(self.root, "sh", "-c", command, check=False, timeout=timeout)
        if check:
            assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        return result

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def start_unit(self, name: str, log: Path) -> subprocess.Popen[bytes]:
        """What systemd would start for ``name``: its ExecStart, as its User, with its Environment."""
        text = self.path(f"/etc/systemd/system/{name}").read_text()
        exec_start = re.search(r"^ExecStart=(.*)$", text, re.M).group(1)
        user = re.search(r"^User=(.*)$", text, re.M)
        env = [line.split("=", 1)[1] for line in re.findall(r"^Environment=.*$", text, re.M)]
        command = ["chroot", str(self.root), "env", "-i", f"PATH={debian_root.ENV['PATH']}", *env]
        if user:
            command += ["runuser", "-u", user.group(1), "--"]
        with open(log, "ab") as output:
            process = subprocess.Popen(
                command + exec_start.split(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        return process

    def ari_app_registered(self) -> bool:
        password = self.path("/etc/reconnect-pbx/ari-password").read_text().strip()
        try:
            answer = httpx.get(
                f"http://{self.address}:{self.ari_port}/ari/applications/reconnect-pbx", auth=("reconnect", password), timeout=2
            )
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def web_login_page(self) -> bool:
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.web_port}/login", timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and "password" in answer.text.lower()

    def asterisk_rx(self, command: str) -> str:
        return self.run(f"chroot /srv/asterisk-root asterisk -rx '{command}'", check=False, timeout=15).stdout


def site_values(address: str, carrier: str, trunk_password: str, ports: dict[str, int]) -> str:
    """What the sysadmin types into site.toml: deploy/site.example.toml with this carrier's values."""
    text = (REPO_DIR / "deploy/site.example.toml").read_text()
    for pattern, value in (
        (r'^public_address = .*$', f'public_address = "{address}"'),
        (r'^rtp_start = .*$', "rtp_start = 37000"),
        (r'^rtp_end = .*$', "rtp_end = 37499"),
        (r'^username = .*$', f'username = "{TRUNK_USERNAME}"'),
        (r'^password = .*$', f'password = "{trunk_password}"'),
        (r'^server = .*$', f'server = "{carrier}:5060"'),
        (r'^match = .*$', f'match = ["{carrier}"]'),
        (r'^media = .*$', f'media = ["{carrier}"]'),
        (r'^firewall = .*$', "firewall = true"),
        (r'^fail2ban = .*$', "fail2ban = true"),
        # An application setting of the site's own: the installer writes it into every file.
        (r'^# \[settings.retention\]$', "[settings.retention]"),
        (r'^# call_record_retention_days = .*$', "call_record_retention_days = 180"),
        (r'^# \[advanced\]$', "[advanced]"),
        (r'^# ari_address = .*$', f'ari_address = "{address}"'),
        (r'^# database_port = .*$', f"database_port = {ports['database']}"),
        (r'^# metrics_port = .*$', f"metrics_port = {ports['metrics']}"),
        (r'^# web_port = .*$', f"web_port = {ports['web']}"),
    ):
        text, count = re.subn(pattern, value, text, count=1, flags=re.M)
        assert count == 1, pattern
    return text


def upstream_copy(target: Path) -> None:
    """The project's repository as the guide clones it: this working tree, committed."""
    files = subprocess.run(
        ["git", "-C", str(REPO_DIR), "ls-files", "-z", "-co", "--exclude-standard"], capture_output=True, check=True
    ).stdout.split(b"\0")
    target.mkdir(parents=True)
    for name in filter(None, files):
        source = REPO_DIR / os.fsdecode(name)
        if source.is_file():
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))
    git = ["git", "-C", str(target), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "the working tree"], check=True)


@pytest.fixture(scope="module")
def host(sandbox: Sandbox) -> Iterator[Host]:
    octet = ADDRESS_OCTETS.get(sandbox.name, 50)
    carrier_address, address = f"127.0.0.{octet}", f"127.0.0.{octet + 1}"
    trunk_password = secrets.token_urlsafe(18)
    work = WORK / sandbox.name
    root = work / "root"
    started = time.monotonic()
    cached = debian_root.ensure_debian_root()
    stop_leftovers(root)
    subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=True)
    work.mkdir(parents=True)
    debian_root.copy_root(cached, root)
    subprocess.run(["cp", "-a", str(chroot_path()), str(root / "srv/asterisk-root")], check=True)
    shutil.rmtree(root / "srv/asterisk-root" / INSTANCES_DIR.lstrip("/"), ignore_errors=True)
    upstream_copy(root / UPSTREAM.lstrip("/"))
    carrier = AsteriskInstance(
        name="carrier", role="carrier", root=sandbox.carrier.root, address=carrier_address, rtp_range=(37500, 37999),
        secrets={"ARI_PASSWORD": secrets.token_urlsafe(18), "PBX_PASSWORD": trunk_password},
        settings={"PBX_ADDRESS": address, "PBX_USERNAME": TRUNK_USERNAME},
        base_dir=f"{INSTANCES_DIR}/{sandbox.name}-install",
    )
    ports = {"database": free_port(), "metrics": free_port(), "web": free_port()}
    host = Host(root, carrier, address, 8088, ports["web"], {}, [])
    mounts = debian_root.mounted(root)
    mounts.__enter__()
    try:
        carrier.render()
        carrier.start()
        carrier.wait_fully_booted()
        host.outputs["prepared"] = f"{time.monotonic() - started:.0f} s"
        started = time.monotonic()
        site = site_values(address, carrier_address, trunk_password, ports)
        for command in guide_commands():
            if command.startswith("editor "):
                host.path(SITE).write_text(site)  # the sysadmin fills it in
                continue
            command = command.replace("REPOSITORY_URL", UPSTREAM)
            host.outputs[command] = host.run(command).stdout
        host.outputs["guide"] = f"{time.monotonic() - started:.0f} s"
        # Read with -s: how long a fresh root takes (the figures in docs/deploy.md).
        print(f"\ninstall test: root prepared in {host.outputs['prepared']}, the guide's commands took {host.outputs['guide']}")
        host.start_unit("asterisk.service", work / "asterisk.log")
        host.start_unit("reconnect-pbx.service", work / "serve.log")
        host.start_unit("reconnect-pbx-web.service", work / "web.log")
        wait_for(host.ari_app_registered, 60, "serve's application on the installed Asterisk")
        wait_for(host.web_login_page, 60, "the staff web application's login page")
        yield host
    finally:
        stop_host(host)
        try:
            carrier.stop()
        finally:
            mounts.__exit__()
            subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)


def stop_leftovers(root: Path) -> None:
    """What a crashed run left in its root: Asterisk and PostgreSQL stopped, the mounts undone."""
    if not (root / "usr/bin").is_dir():
        return
    for command in (["chroot", "/srv/asterisk-root", "asterisk", "-rx", "core stop now"], ["pg_ctlcluster", "15", "main", "stop"]):
        subprocess.run(["chroot", str(root), *command], env=debian_root.ENV, capture_output=True, timeout=60, check=False)
    for name in ("proc", "sys", "dev"):
        subprocess.run(["umount", "-l", str(root / name)], capture_output=True, check=False)


def stop_host(host: Host) -> None:
    for process in host.processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    host.run("chroot /srv/asterisk-root asterisk -rx 'core stop now'", check=False, timeout=20)
    for process in host.processes:
        try:
            process.wait(45)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    host.processes.clear()
    host.run("pg_ctlcluster 15 main stop", check=False, timeout=60)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.2)


def registered(host: Host) -> bool:
    return bool(re.search(r"^\s*trunk/\S+\s+\S+\s+Registered", host.asterisk_rx("pjsip show registrations"), re.M))


def modes(host: Host, paths: list[str]) -> dict[str, str]:
    return {p: host.run(f"stat -c '%U:%G %a' {p}").stdout.strip() for p in paths}


SETTINGS_MODES = {
    "/etc/reconnect-pbx": "root:reconnect-pbx 750",
    "/etc/reconnect-pbx/reconnect-pbx.conf": "root:root 600",
    "/etc/reconnect-pbx/serve.conf": "reconnect-pbx:reconnect-pbx 600",
    "/etc/reconnect-pbx/web.conf": "reconnect-pbx-web:reconnect-pbx-web 600",
    "/etc/reconnect-pbx/pin-pepper": "root:reconnect-pbx 640",
    "/etc/reconnect-pbx/ari-password": "root:root 600",
    "/etc/reconnect-pbx/database-password": "root:root 600",
    "/etc/reconnect-pbx/serve-database-password": "root:root 600",
    "/etc/reconnect-pbx/web-database-password": "root:root 600",
    "/etc/reconnect-pbx/web-secret-key": "root:root 600",
    "/etc/reconnect-pbx/backup.key": "root:root 600",
    "/etc/reconnect-pbx/site.toml": "root:root 600",
}
WATCHED = [
    *SETTINGS_MODES,
    "/srv/asterisk-root/etc/asterisk/modules.conf", "/srv/asterisk-root/etc/asterisk/pjsip.conf",
    "/srv/asterisk-root/run/reconnect-pbx-play", "/var/backups/reconnect-pbx",
]


def test_the_guide_is_five_commands_at_most() -> None:
    commands = guide_commands()
    assert 1 <= len(commands) <= 5, commands
    assert commands[-1].endswith("deploy/install")


def test_after_the_guide_the_trunk_registers_and_the_selftest_stores_a_message(host: Host) -> None:
    wait_for(lambda: registered(host), 30, "registration of the installed trunk")
    result = host.run("reconnect-pbx selftest", check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["ok", step] for step in ("mailbox", "ari", "call", "record", "stored", "erased")
    ]


def test_doctor_is_all_ok_on_the_installed_host(host: Host) -> None:
    wait_for(lambda: registered(host), 30, "registration of the installed trunk")
    result = host.run("reconnect-pbx doctor", check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.startswith("ok") for line in result.stdout.splitlines()), result.stdout


def test_the_first_centre_has_the_range_of_the_values_file_without_the_reserved_numbers(host: Host) -> None:
    listed = host.run("reconnect-pbx centre list --json").stdout
    centre = next(row for row in json.loads(listed) if row["name"] == "Accueil Paris 11")
    assert centre["numbers"] == 100 and centre["free_numbers"] == 100
    refused = host.run("reconnect-pbx numbers import --range 0970009998 0970009999 --centre 'Accueil Paris 11'", check=False)
    assert refused.returncode == 2 and "+33970009998" in refused.stderr


def test_each_user_reads_its_own_settings_file_only_and_secrets_are_root_only(host: Host) -> None:
    assert modes(host, list(SETTINGS_MODES)) == SETTINGS_MODES

    def reads(user: str, name: str) -> bool:
        return host.run(f"runuser -u {user} -- cat /etc/reconnect-pbx/{name}", check=False).returncode == 0

    assert reads("reconnect-pbx", "serve.conf") and reads("reconnect-pbx", "pin-pepper")
    assert reads("reconnect-pbx-web", "web.conf") and reads("reconnect-pbx-web", "pin-pepper")
    for user, other in (("reconnect-pbx", "web.conf"), ("reconnect-pbx-web", "serve.conf")):
        assert not reads(user, other) and not reads(user, "reconnect-pbx.conf") and not reads(user, "ari-password")
    assert "ari" not in [line.strip("[]") for line in host.path("/etc/reconnect-pbx/web.conf").read_text().splitlines()]


def test_the_sites_own_settings_are_in_every_settings_file(host: Host) -> None:
    # [settings.retention] of site.toml: kept there, so the upgrades below keep it too.
    for name in ("reconnect-pbx.conf", "serve.conf", "web.conf"):
        text = host.path(f"/etc/reconnect-pbx/{name}").read_text()
        assert "\n[retention]\ncall_record_retention_days = 180\n" in text, name


def test_serve_and_the_web_application_log_in_as_their_own_roles_which_cannot_rewrite_the_audit_log(host: Host) -> None:
    for name, role in (("serve.conf", "reconnect_pbx_serve"), ("web.conf", "reconnect_pbx_web")):
        url = re.search(r'^url = "postgresql\+psycopg2://([^"]+)"$', host.path(f"/etc/reconnect-pbx/{name}").read_text(), re.M).group(1)
        user_password, _, where = url.partition("@")
        user, _, password = user_password.partition(":")
        assert user == role
        address, _, database = where.partition("/")
        psql = f"PGPASSWORD={password} psql -X -At -h 127.0.0.1 -p {address.split(':')[1]} -U {role} {database}"
        assert host.run(f"{psql} -c 'SELECT count(*) FROM audit_events'").stdout.strip().isdigit()
        refused = host.run(f"{psql} -c 'DELETE FROM audit_events'", check=False)
        assert refused.returncode != 0 and "permission denied" in refused.stderr


def test_running_the_installer_again_changes_nothing_and_a_second_test_call_is_stored(host: Host) -> None:
    before = modes(host, WATCHED)
    check = host.run("/opt/reconnect-pbx/deploy/install --check")
    assert check.stdout.strip().splitlines()[-1] == "nothing to change"
    again = host.run("/opt/reconnect-pbx/deploy/install")
    assert again.stdout.strip().splitlines()[-1] == "installed: nothing changed", again.stdout
    assert modes(host, WATCHED) == before
    result = host.run("reconnect-pbx selftest", check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upgrade_restores_modes_and_owners_changed_by_hand(host: Host) -> None:
    before = modes(host, WATCHED)
    host.run("chmod 700 /etc/reconnect-pbx && chown root:root /srv/asterisk-root/etc/asterisk/modules.conf")
    check = host.run("/opt/reconnect-pbx/deploy/install --check")
    assert "would: set /etc/reconnect-pbx to root:reconnect-pbx 750" in check.stdout
    assert modes(host, ["/etc/reconnect-pbx"]) == {"/etc/reconnect-pbx": "root:reconnect-pbx 700"}
    host.run("/opt/reconnect-pbx/deploy/install")
    assert modes(host, WATCHED) == before


def test_a_bad_value_is_refused_in_one_line_and_nothing_changes(host: Host) -> None:
    site = host.path(SITE)
    good = site.read_text()
    before = modes(host, WATCHED)
    conf = host.path("/etc/reconnect-pbx/reconnect-pbx.conf").read_text()
    try:
        site.write_text(good.replace('password = "', 'password = "change-me', 1))
        result = host.run("/opt/reconnect-pbx/deploy/install", check=False)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "trunk.password" in result.stderr and "nothing changed" in result.stderr
    finally:
        site.write_text(good)
    assert modes(host, WATCHED) == before
    assert host.path("/etc/reconnect-pbx/reconnect-pbx.conf").read_text() == conf


def test_the_installed_units_pass_systemd_analyze_verify(host: Host) -> None:
    names = ("asterisk.service", "reconnect-pbx.service", "reconnect-pbx-web.service", "reconnect-pbx-purge.service", "reconnect-pbx-backup.service")
    units = [f"/etc/systemd/system/{name}" for name in names]
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={host.root}", *units], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_nftables_rules_pass_nft_check(host: Host) -> None:
    result = host.run("nft -c -f /etc/nftables.conf", check=False)
    assert result.returncode == 0, result.stderr
    rules = host.path("/etc/nftables.conf").read_text()
    assert f"elements = {{ {host.carrier.address} }}" in rules and "udp dport 37000-37499 accept" in rules


def test_the_fail2ban_jails_pass_fail2ban_client_test_with_the_systemd_backend(host: Host) -> None:
    result = host.run("fail2ban-client -t", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    jail = host.path("/etc/fail2ban/jail.d/reconnect-pbx.conf").read_text()
    assert "logpath   = /srv/asterisk-root/var/log/asterisk/messages.log" in jail
    assert re.search(r"^\[sshd\]\nbackend\s+= systemd$", jail, re.M)


def test_a_backup_restores_after_checking_the_dump(host: Host) -> None:
    """Last: serve is stopped, as the restore wants."""
    for process in host.processes:
        if "reconnect-pbx" in " ".join(process.args) and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(45)
    backup = host.run("/opt/reconnect-pbx/deploy/reconnect-pbx-backup")
    dump = re.search(r"reconnect_pbx-\S+\.dump\.gpg", backup.stdout).group(0)
    restored = host.run(f"/opt/reconnect-pbx/deploy/reconnect-pbx-restore /var/backups/reconnect-pbx/{dump}")
    assert "restored" in restored.stdout
    doctor = host.run("reconnect-pbx doctor", check=False, timeout=120)
    database = next(line for line in doctor.stdout.splitlines() if " database " in f" {line} ")
    assert database.startswith("ok") and "(latest)" in database
