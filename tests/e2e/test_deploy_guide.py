"""docs/deploy.md's install steps, followed into a fresh Asterisk: it loads every file and registers.

The guide has the sysadmin write a values file and run ``deploy/install-asterisk-config.sh``; this
test does the same into a new instance directory of the sandbox's chroot, then starts that Asterisk
on its own loopback addresses, beside a carrier simulator of its own (the session's carrier only
accepts the session's pbx). The one change a second Asterisk on one machine needs and a real host
does not: asterisk.conf's [directories] point into the instance directory, as for every sandbox
instance.
"""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reconnect_pbx.sandbox import AsteriskInstance, Sandbox
from reconnect_pbx.sandbox.instance import (
    CONF_DIR,
    DIALPLAN_DIR,
    INSTANCES_DIR,
    REPO_DIR,
    relocate_directories,
)

GUIDE = REPO_DIR / "docs/deploy.md"
SCRIPT = REPO_DIR / "deploy/install-asterisk-config.sh"
TEMPLATES = sorted(CONF_DIR.glob("*.conf")) + sorted(DIALPLAN_DIR.glob("*.conf"))
# Carrier on 127.0.0.<n>, the installed pbx on <n + 1>: one pair per test sandbox slot (the
# session's carrier octet + 40, so parallel workers and other checkouts never share a pair).
DEPLOY_OCTET_OFFSET = 40
TRUNK_USERNAME = "deploytest"
# fail2ban's stock "asterisk" filter, its PJSIP line (deploy/fail2ban/reconnect-pbx.conf uses it).
FAIL2BAN_PJSIP = re.compile(
    r"NOTICE\[\d+\](?:\[C-[\da-f]*\])?:? [^:]+: Request (?:'[^']*' )?from '(?:[^']*|.*?)' failed for "
    r"'(?P<host>[\d.]+)(?::\d+)?'\s\(callid: [^\)]*\) - (?:No matching endpoint found|Not match Endpoint"
    r"(?: Contact)? ACL|(?:Failed|Error) to authenticate)\s*$",
    re.M,
)


def placeholders() -> set[str]:
    return {name for path in TEMPLATES for name in re.findall(r"\{\{([A-Z][A-Z0-9_]*)\}\}", path.read_text())}


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def write_values(path: Path, values: dict[str, str]) -> Path:
    path.write_text("# written by test_deploy_guide.py\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return path


def deploy_octet(sandbox: Sandbox) -> int:
    return int(sandbox.carrier.address.rsplit(".", 1)[1]) + DEPLOY_OCTET_OFFSET


@dataclass
class Deployed:
    pbx: AsteriskInstance
    carrier: AsteriskInstance
    values: dict[str, str]
    script_output: str
    sounds_dir: Path


def _stop_leftover(instance: AsteriskInstance) -> None:
    """An instance a crashed run left running on these addresses: ask it to stop."""
    if instance.root.host_path(instance.conf_file).exists():
        subprocess.run(
            instance.root.command("-C", instance.conf_file, "-rx", "core stop now"),
            capture_output=True, timeout=15, check=False,
        )
        time.sleep(0.5)


@pytest.fixture(scope="module")
def deployed(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    octet = deploy_octet(sandbox)
    carrier_address, pbx_address = f"127.0.0.{octet}", f"127.0.0.{octet + 1}"
    root = sandbox.pbx.root
    base_dir = f"{INSTANCES_DIR}/{sandbox.name}-deploy"
    trunk_password = secrets.token_urlsafe(18)
    carrier = AsteriskInstance(
        name="carrier", role="carrier", root=root, address=carrier_address, rtp_range=(36000, 36499),
        secrets={"ARI_PASSWORD": secrets.token_urlsafe(18), "PBX_PASSWORD": trunk_password},
        settings={"PBX_ADDRESS": pbx_address, "PBX_USERNAME": TRUNK_USERNAME},
        base_dir=base_dir,
    )
    pbx = AsteriskInstance(
        name="pbx", role="pbx", root=root, address=pbx_address, base_dir=base_dir,
        secrets={"ARI_PASSWORD": secrets.token_urlsafe(18)},
    )
    # The guide's values file, as a sysadmin fills it in.
    values = {
        "SIP_ADDRESS": pbx_address,
        "SIP_PORT": "5060",
        "HTTP_ADDRESS": pbx_address,
        "HTTP_PORT": "8088",
        "RTP_START": "36500",
        "RTP_END": "36999",
        "ARI_PASSWORD": pbx.ari_password,
        "TRUNK_USERNAME": TRUNK_USERNAME,
        "TRUNK_PASSWORD": trunk_password,
        "TRUNK_SERVER": f"{carrier_address}:5060",
        "TRUNK_MATCH": carrier_address,
        "REGISTRATION_INITIAL_DELAY": "0",
    }
    tmp = tmp_path_factory.mktemp("deploy")
    values_file = write_values(tmp / "asterisk.values", values)
    sounds_dir = tmp / "sounds-reconnect"
    host_base = root.host_path(base_dir)
    for instance in (pbx, carrier):
        _stop_leftover(instance)
    try:
        carrier.render()
        carrier.start()
        carrier.wait_fully_booted()

        for sub in ("spool/recording", "spool/tmp", "run", "log", "lib", "cache"):
            (pbx.host_dir / sub).mkdir(parents=True, exist_ok=True)
        # The guide's install step.
        result = run_script("--values", str(values_file), "--sounds", str(sounds_dir), str(pbx.host_dir / "etc"))
        assert result.returncode == 0, result.stderr
        asterisk_conf = pbx.host_dir / "etc/asterisk.conf"
        asterisk_conf.write_text(relocate_directories(asterisk_conf.read_text(), pbx._directories()))
        pbx.start()
        pbx.wait_fully_booted()
        yield Deployed(pbx, carrier, values, result.stdout, sounds_dir)
    finally:
        for instance in (pbx, carrier):
            try:
                instance.stop()
            except Exception:  # noqa: BLE001 - stop the other one all the same
                pass
        subprocess.run(["rm", "-rf", str(host_base)], check=False)


def wait_registered(pbx: AsteriskInstance, timeout: float = 20) -> str | None:
    deadline = time.monotonic() + timeout
    while (status := pbx.registration_status()) != "Registered" and time.monotonic() < deadline:
        time.sleep(0.1)
    return status


# -- the installed Asterisk ----------------------------------------------------------------------


def test_the_installed_trunk_registers_to_the_carrier(deployed: Deployed) -> None:
    assert wait_registered(deployed.pbx) == "Registered"
    contacts = deployed.carrier.rx(f"pjsip show aor {TRUNK_USERNAME}")
    assert f"{deployed.pbx.address}:5060" in contacts


def test_asterisk_loads_every_installed_file_without_an_error_or_warning(deployed: Deployed) -> None:
    wait_registered(deployed.pbx)
    loaded = {line.split()[-1] for line in deployed.pbx.rx("config list").splitlines() if "/etc/" in line}
    assert [p.name for p in TEMPLATES if f"{deployed.pbx.dir}/etc/{p.name}" not in loaded] == []
    log = deployed.pbx.log_file.read_text(errors="replace")
    assert log and [line for line in log.splitlines() if re.search(r"\] (ERROR|WARNING)\[", line)] == []


def test_every_module_of_modules_conf_runs(deployed: Deployed) -> None:
    listed = re.findall(r"^\s*load\s*=>?\s*(\S+\.so)\s*$", (CONF_DIR / "modules.conf").read_text(), re.M)
    running = {
        line.split()[0] for line in deployed.pbx.rx("module show").splitlines() if " Running " in line
    }
    assert listed and [name for name in listed if name not in running] == []


def test_every_dialplan_context_exists(deployed: Deployed) -> None:
    names = [
        name for path in sorted(DIALPLAN_DIR.glob("*.conf")) for name in re.findall(r"^\[([^\]]+)\]", path.read_text(), re.M)
    ]
    assert "from-trunk" in names
    for name in names:
        assert f"[ Context '{name}' created by 'pbx_config' ]" in deployed.pbx.rx(f"dialplan show {name}")


def test_ari_takes_the_password_of_the_values_file_on_the_http_address(deployed: Deployed) -> None:
    url = f"http://{deployed.values['HTTP_ADDRESS']}:{deployed.values['HTTP_PORT']}/ari/asterisk/info"
    assert httpx.get(url, auth=("reconnect", deployed.values["ARI_PASSWORD"]), timeout=5).status_code == 200
    assert httpx.get(url, auth=("reconnect", "wrong"), timeout=5).status_code == 401


def test_rtp_uses_the_range_of_the_values_file(deployed: Deployed) -> None:
    settings = deployed.pbx.rx("rtp show settings")
    assert re.search(rf"Port start:\s+{deployed.values['RTP_START']}\b", settings)
    assert re.search(rf"Port end:\s+{deployed.values['RTP_END']}\b", settings)


def test_a_sip_scanner_leaves_the_line_fail2ban_bans_on(deployed: Deployed) -> None:
    pbx = deployed.pbx
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as scanner:
        scanner.bind(("127.0.0.1", 0))
        scanner.settimeout(5)
        port = scanner.getsockname()[1]
        request = (
            f"REGISTER sip:{pbx.address} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:100@{pbx.address}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:100@{pbx.address}>\r\nCall-ID: {uuid.uuid4().hex}\r\nCSeq: 1 REGISTER\r\n"
            f"Contact: <sip:100@127.0.0.1:{port}>\r\nContent-Length: 0\r\n\r\n"
        )
        scanner.sendto(request.encode(), (pbx.address, 5060))
        answer = scanner.recv(4096).decode(errors="replace")
    assert not answer.startswith("SIP/2.0 200")
    deadline = time.monotonic() + 5
    while not (hits := FAIL2BAN_PJSIP.findall(pbx.log_file.read_text(errors="replace"))):
        assert time.monotonic() < deadline, "no line for fail2ban in messages.log"
        time.sleep(0.1)
    assert "127.0.0.1" in hits


def test_the_script_installs_every_file_and_the_prompts(deployed: Deployed) -> None:
    etc = deployed.pbx.host_dir / "etc"
    for path in TEMPLATES:
        text = (etc / path.name).read_text()
        assert "{{" not in text, path.name
        assert (etc / path.name).stat().st_mode & 0o777 == 0o640
    assert deployed.values["TRUNK_PASSWORD"] in (etc / "pjsip.conf").read_text()


def test_ari_conf_holds_a_crypt_of_the_password_never_the_password(deployed: Deployed) -> None:
    ari = (deployed.pbx.host_dir / "etc/ari.conf").read_text()
    assert deployed.values["ARI_PASSWORD"] not in ari
    assert re.search(r"^password_format = crypt$", ari, re.M)
    assert re.search(r"^password = \$sha1\$\d+\$[^$\s]+\$\S+$", ari, re.M)
    for lang in ("fr", "en"):
        wanted = sorted(p.name for p in (REPO_DIR / "sounds" / lang).glob("*.wav"))
        assert sorted(p.name for p in (deployed.sounds_dir / "std" / lang).iterdir()) == wanted


# -- the script and the guide, without Asterisk ------------------------------------------------------


PASSWORDS = ("ARI_PASSWORD", "TRUNK_PASSWORD")


@pytest.fixture
def values_file(tmp_path: Path) -> Path:
    values = {name: "192.0.2.1" for name in placeholders()}
    return write_values(tmp_path / "values", values | {name: secrets.token_hex(12) for name in PASSWORDS})


@pytest.mark.parametrize("key", PASSWORDS)
@pytest.mark.parametrize(("password", "reason"), [("change-me", "placeholder"), ("Change-Me-2026-please", "placeholder"), ("s3cret-pass", "too short")])
def test_the_script_refuses_the_example_password_and_a_short_one(values_file: Path, tmp_path: Path, key, password, reason) -> None:
    text = re.sub(rf"^{key}=.*$", f"{key}={password}", values_file.read_text(), flags=re.M)
    values_file.write_text(text)
    result = run_script("--values", str(values_file), str(tmp_path / "etc"))
    assert result.returncode == 1
    assert f"{key}: " in result.stderr and reason in result.stderr
    assert not any(p.suffix == ".conf" for p in (tmp_path / "etc").glob("*"))


def test_ip_authentication_leaves_the_registration_out(values_file: Path, tmp_path: Path) -> None:
    result = run_script("--values", str(values_file), "--ip-auth", str(tmp_path / "etc"))
    assert result.returncode == 0, result.stderr
    pjsip = (tmp_path / "etc/pjsip.conf").read_text()
    assert not re.search(r"^type\s*=\s*registration", pjsip, re.M)
    for kind in ("auth", "aor", "endpoint", "identify", "transport"):
        assert re.search(rf"^type\s*=\s*{kind}\s*$", pjsip, re.M), kind


def test_the_script_refuses_a_missing_value_and_writes_nothing(values_file: Path, tmp_path: Path) -> None:
    kept = [line for line in values_file.read_text().splitlines() if not line.startswith("TRUNK_SERVER=")]
    values_file.write_text("".join(line + "\n" for line in kept))
    result = run_script("--values", str(values_file), str(tmp_path / "etc"))
    assert result.returncode == 1
    assert "no value for TRUNK_SERVER" in result.stderr
    assert not any(p.suffix == ".conf" for p in (tmp_path / "etc").glob("*"))


def test_the_script_refuses_an_unknown_key_and_a_value_asterisk_would_cut(values_file: Path, tmp_path: Path) -> None:
    values_file.write_text(values_file.read_text() + "TRUNK_PASWORD=x\n")
    assert "no placeholder {{TRUNK_PASWORD}}" in run_script("--values", str(values_file), str(tmp_path / "a")).stderr
    text = values_file.read_text().replace("TRUNK_PASWORD=x\n", "")
    values_file.write_text(re.sub(r"^TRUNK_PASSWORD=.*$", "TRUNK_PASSWORD=a;b", text, flags=re.M))
    assert "use no ';'" in run_script("--values", str(values_file), str(tmp_path / "b")).stderr


def test_the_example_values_file_has_every_key_and_is_accepted_once_its_passwords_are_set(tmp_path: Path) -> None:
    example = REPO_DIR / "deploy/asterisk.values.example"
    keys = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example.read_text(), re.M))
    assert keys == placeholders()
    # As shipped, its "change-me" passwords are refused.
    result = run_script("--values", str(example), str(tmp_path / "as-shipped"))
    assert result.returncode == 1 and "placeholder" in result.stderr
    filled = example.read_text()
    for key in PASSWORDS:
        filled = filled.replace(f"{key}=change-me", f"{key}={secrets.token_hex(12)}")
    (tmp_path / "filled").write_text(filled)
    result = run_script("--values", str(tmp_path / "filled"), str(tmp_path / "etc"))
    assert result.returncode == 0, result.stderr


def test_the_guide_runs_the_script_and_documents_every_placeholder() -> None:
    guide = GUIDE.read_text()
    install_blocks = re.findall(r"```sh install\n(.*?)```", guide, re.S)
    assert any("deploy/install-asterisk-config.sh --values" in block for block in install_blocks)
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", guide, re.M))
    assert documented == placeholders()


def test_the_readme_links_the_guide() -> None:
    assert "docs/deploy.md" in (REPO_DIR / "README.md").read_text()
