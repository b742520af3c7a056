"""The files in asterisk-conf/ and dialplan/ are exactly what the running pbx loaded."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from harness import AriApp, channel_id, pbx_stasis_start, place_call
from reconnect_pbx.sandbox import Sandbox, template
from reconnect_pbx.sandbox.instance import (
    CARRIER_DIR,
    CONF_DIR,
    DIALPLAN_DIR,
    SOUNDS_DIR,
    SOUNDS_TARGET,
    relocate_directories,
)

REPO_FILES = sorted(CONF_DIR.glob("*.conf")) + sorted(DIALPLAN_DIR.glob("*.conf"))


def loaded_modules(output: str) -> set[str]:
    return {
        line.split()[0]
        for line in output.splitlines()
        if " Running " in line and line.split()[0].endswith(".so")
    }


def listed_modules(modules_conf: Path) -> list[str]:
    return re.findall(r"^\s*load\s*=>?\s*(\S+\.so)\s*$", modules_conf.read_text(), re.M)


def contexts(path: Path) -> list[str]:
    return re.findall(r"^\[([^\]]+)\]", path.read_text(), re.M)


def sections(path: Path) -> list[tuple[str, dict[str, str]]]:
    """The sections of a pjsip.conf-like file, repeated names kept apart."""
    result: list[tuple[str, dict[str, str]]] = []
    for line in path.read_text().splitlines():
        line = line.split(";", 1)[0].strip()
        if header := re.fullmatch(r"\[([^\]]+)\].*", line):
            result.append((header.group(1), {}))
        elif "=" in line and result:
            key, value = (part.strip() for part in line.split("=", 1))
            result[-1][1][key.rstrip(">").strip()] = value.lstrip(">").strip()
    return result


# -- every file is loaded ----------------------------------------------------------------------


def test_every_repo_config_file_is_loaded_by_the_pbx(sandbox: Sandbox) -> None:
    loaded = {line.split()[-1] for line in sandbox.pbx.rx("config list").splitlines() if "/etc/" in line}
    missing = [path.name for path in REPO_FILES if f"{sandbox.pbx.dir}/etc/{path.name}" not in loaded]
    assert REPO_FILES and not missing


@pytest.mark.parametrize("role", ["pbx", "carrier"])
def test_asterisk_starts_without_any_error_or_warning(sandbox: Sandbox, role: str) -> None:
    instance = getattr(sandbox, role)
    noisy = [line for line in instance.startup_log.splitlines() if re.search(r"\] (ERROR|WARNING)\[", line)]
    assert instance.startup_log and noisy == []


@pytest.mark.parametrize("role", ["pbx", "carrier"])
def test_every_module_in_modules_conf_is_running(sandbox: Sandbox, role: str) -> None:
    instance = getattr(sandbox, role)
    listed = listed_modules(instance.host_dir / "etc/modules.conf")
    running = loaded_modules(instance.rx("module show"))
    assert listed and [name for name in listed if name not in running] == []


def test_modules_conf_loads_nothing_else(sandbox: Sandbox) -> None:
    listed = set(listed_modules(CONF_DIR / "modules.conf"))
    assert "autoload = no" in (CONF_DIR / "modules.conf").read_text()
    assert loaded_modules(sandbox.pbx.rx("module show")) == listed


def test_the_pbx_uses_the_instance_directories(sandbox: Sandbox) -> None:
    settings = sandbox.pbx.rx("core show settings")
    for label, directory in [
        ("Configuration file", f"{sandbox.pbx.dir}/etc/asterisk.conf"),
        ("Spool directory", f"{sandbox.pbx.dir}/spool"),
        ("Log directory", f"{sandbox.pbx.dir}/log"),
        ("Run/Sockets directory", f"{sandbox.pbx.dir}/run"),
        ("Data directory", "/usr/share/asterisk"),
    ]:
        assert re.search(rf"{re.escape(label)}:\s+{re.escape(directory)}\s*$", settings, re.M), label
    assert (sandbox.pbx.host_dir / "spool/recording").is_dir()


def test_the_directories_section_is_not_a_template() -> None:
    # Debian's "[directories](!)" is silently ignored in a file given with -C.
    assert re.search(r"^\[directories\]\s*$", (CONF_DIR / "asterisk.conf").read_text(), re.M)
    with pytest.raises(Exception, match="template"):
        relocate_directories("[directories](!)\nastetcdir => /etc/asterisk\n", {"astetcdir": "/x"})


# -- what each file configures -----------------------------------------------------------------


def test_every_dialplan_context_exists(sandbox: Sandbox) -> None:
    names = [name for path in sorted(DIALPLAN_DIR.glob("*.conf")) for name in contexts(path)]
    assert "from-trunk" in names
    for name in names:
        assert f"[ Context '{name}' created by 'pbx_config' ]" in sandbox.pbx.rx(f"dialplan show {name}")


def test_the_dialplan_never_dials_out_nor_uses_macro() -> None:
    for path in DIALPLAN_DIR.glob("*.conf"):
        code = "\n".join(line.split(";", 1)[0] for line in path.read_text().splitlines())
        assert not re.search(r"\b(Dial|Originate|Macro|Queue|Page)\s*\(", code, re.I), path.name


def test_the_trunk_is_loaded_as_configured(sandbox: Sandbox) -> None:
    endpoint = sandbox.pbx.rx("pjsip show endpoint trunk")
    for option, value in [
        ("context", "from-trunk"),
        ("dtmf_mode", "auto"),
        ("direct_media", "false"),
        ("trust_id_inbound", "true"),
        ("trust_id_outbound", "true"),
        ("send_pai", "true"),
        ("allow", "(alaw|ulaw)"),
        ("transport", "transport-udp"),
    ]:
        assert re.search(rf"^\s*{option}\s*:\s*{re.escape(value)}\s*$", endpoint, re.M), option
    assert f"Match: {sandbox.carrier.address}/32" in endpoint
    assert sandbox.pbx.registration_status("trunk") == "Registered"
    transport = sandbox.pbx.rx("pjsip show transport transport-udp")
    assert f"{sandbox.pbx.address}:{sandbox.pbx.sip_port}" in transport


@pytest.mark.parametrize(
    "path", [CONF_DIR / "pjsip.conf", CARRIER_DIR / "pjsip.conf"], ids=["pbx", "carrier"]
)
def test_every_pjsip_endpoint_and_registration_names_its_transport(path: Path) -> None:
    # Without one, Asterisk resolves names with its own resolver and calls stall.
    objects = [
        (name, options)
        for name, options in sections(path)
        if options.get("type") in ("endpoint", "registration")
    ]
    assert objects and [name for name, options in objects if "transport" not in options] == []


def test_ari_listens_on_the_rendered_address_for_its_user_only(sandbox: Sandbox) -> None:
    status = sandbox.pbx.rx("http show status")
    assert f"Bound to {sandbox.pbx.address}:{sandbox.pbx.http_port}" in status
    users = [line.split()[-1] for line in sandbox.pbx.rx("ari show users").splitlines()[2:] if line.strip()]
    assert users == ["reconnect"]
    info = f"{sandbox.pbx.ari_url}/ari/asterisk/info"
    assert httpx.get(info, auth=("reconnect", sandbox.pbx.ari_password)).status_code == 200
    assert httpx.get(info, auth=("reconnect", "wrong")).status_code == 401


def test_rtp_uses_the_rendered_port_range(sandbox: Sandbox) -> None:
    settings = sandbox.pbx.rx("rtp show settings")
    start, end = sandbox.pbx.rtp_range
    assert re.search(rf"Port start:\s+{start}\b", settings) and re.search(rf"Port end:\s+{end}\b", settings)


def test_asterisk_logs_notices_warnings_and_errors_to_messages_log(sandbox: Sandbox) -> None:
    channels = [line for line in sandbox.pbx.rx("logger show channels").splitlines() if " File " in line]
    assert len(channels) == 1
    name, levels = channels[0].split()[0], channels[0].split(" - ")[1].split()
    # The CLI cuts the channel name short.
    assert f"{sandbox.pbx.dir}/log/messages.log".startswith(name)
    assert levels == ["NOTICE", "WARNING", "ERROR"]
    assert sandbox.pbx.log_file.stat().st_size > 0


def test_the_repo_prompts_are_installed_where_the_application_plays_them(sandbox: Sandbox) -> None:
    installed = sandbox.pbx.root.host_path(SOUNDS_TARGET)
    for set_name, source in [("std", SOUNDS_DIR), ("short", SOUNDS_DIR / "short")]:
        for lang in ("fr", "en"):
            if (source / lang).is_dir():
                names = sorted(p.name for p in (source / lang).iterdir() if p.is_file())
                assert sorted(p.name for p in (installed / set_name / lang).iterdir()) == names


def test_the_repo_holds_no_secret() -> None:
    for path in REPO_FILES:
        for line in path.read_text().splitlines():
            if re.match(r"\s*password\s*=", line):
                assert "{{" in line, f"{path.name}: {line}"


# -- placeholders ------------------------------------------------------------------------------


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(template.TemplateError, match="SIP_PORT"):
        template.render("bind = {{SIP_ADDRESS}}:{{SIP_PORT}}", {"SIP_ADDRESS": "127.0.0.1"})


def test_a_value_without_a_placeholder_is_an_error() -> None:
    with pytest.raises(template.TemplateError, match="SIP_PROT"):
        template.check_all_used(["bind = {{SIP_PORT}}"], {"SIP_PORT": "5060", "SIP_PROT": "5060"})


def test_placeholders_do_not_touch_dialplan_variables() -> None:
    text = "exten = _X.,1,Set(DID=${EXTEN:1})\n same = n,Set(X=$[1+1])\nbind = {{SIP_PORT}}"
    rendered = template.render(text, {"SIP_PORT": 5060})
    assert rendered.endswith("${EXTEN:1})\n same = n,Set(X=$[1+1])\nbind = 5060")


def test_every_placeholder_of_the_repo_files_is_rendered(sandbox: Sandbox) -> None:
    for path in sandbox.pbx.sources().values():
        rendered = (sandbox.pbx.host_dir / "etc" / path.name).read_text()
        assert "{{" not in rendered, path.name


# -- the DID, normalised -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialled", "did"),
    [
        ("+33142685300", "+33142685300"),
        ("0033142685300", "+33142685300"),
        ("33142685300", "+33142685300"),
        ("0142685300", "+33142685300"),
        ("0612345678", "+33612345678"),
        # Not a French number in a form we know: handed over as is.
        ("+442079460000", "+442079460000"),
        ("3615", "3615"),
        ("01426853001", "01426853001"),
    ],
)
async def test_the_dialled_number_reaches_the_application_in_e164(
    carrier: AriApp, pbx_app: AriApp, dialled: str, did: str
) -> None:
    call = await place_call(carrier, dialled, caller_id="0142685300")
    start = await pbx_stasis_start(pbx_app, call)
    assert start["args"] == ["deposit", did, "allowed_not_screened"]
    assert start["channel"]["dialplan"]["exten"] == dialled
    await call.hangup()
    await pbx_app.wait_event("StasisEnd", channel=channel_id(start))
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()
