"""The SIP trunk between the carrier simulator and the pbx: registration, calls, caller ID, DTMF."""

from __future__ import annotations

import asyncio

from harness import AriApp, channel_id, pbx_stasis_start, place_call, sip_register
from reconnect_pbx.sandbox import Sandbox
from reconnect_pbx.sandbox.instance import TRUNK_USERNAME


async def test_the_pbx_registers_to_the_carrier(sandbox: Sandbox) -> None:
    assert sandbox.pbx.registration_status("trunk") == "Registered"
    contacts = sandbox.carrier.rx("pjsip show contacts")
    assert f"{TRUNK_USERNAME}/sip:{TRUNK_USERNAME}@{sandbox.pbx.address}:{sandbox.pbx.sip_port}" in contacts


async def test_the_carrier_registrar_accepts_the_trunk_password_and_refuses_a_wrong_one(
    sandbox: Sandbox
) -> None:
    carrier = (sandbox.carrier.address, sandbox.carrier.sip_port)
    password = sandbox.pbx.secrets["TRUNK_PASSWORD"]
    # Sent from the pbx's address, as the registrar identifies the pbx by it.
    assert await sip_register(carrier, sandbox.pbx.address, TRUNK_USERNAME, password) == 200
    assert await sip_register(carrier, sandbox.pbx.address, TRUNK_USERNAME, password + "x") in (401, 403)
    # Neither query touched the pbx's own registration.
    assert sandbox.pbx.address in sandbox.carrier.rx("pjsip show contacts")


async def test_a_call_from_the_carrier_reaches_the_application_with_the_caller_and_the_did(
    
    carrier: AriApp, pbx_app: AriApp

) -> None:
    call = await place_call(carrier, "0142685300", caller_id="0142685301")
    start = await pbx_stasis_start(pbx_app, call)
    channel = channel_id(start)
    assert start["application"] == "reconnect-pbx"
    assert start["args"] == ["deposit", "+33142685300", "allowed_not_screened"]
    assert start["channel"]["caller"]["number"] == "0142685301"
    # The carrier put the DID in the user part of the Request-URI.
    request_uri = await pbx_app.variable(channel, "CHANNEL(pjsip,request_uri)")
    assert request_uri.startswith("sip:0142685300@")
    await call.hangup()
    await pbx_app.wait_event("StasisEnd", channel=channel)
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()


async def test_a_withheld_caller_arrives_with_presentation_prohibited(
    carrier: AriApp, pbx_app: AriApp
) -> None:
    call = await place_call(carrier, "+33142685300", caller_id="0142685302", withheld=True)
    start = await pbx_stasis_start(pbx_app, call)
    channel = channel_id(start)
    assert start["args"][:2] == ["deposit", "+33142685300"]
    assert start["args"][2].startswith("prohib")
    assert await pbx_app.variable(channel, "CALLERID(num-pres)") == start["args"][2]
    # From was anonymous; the number came in P-Asserted-Identity, for the application only.
    assert start["channel"]["caller"]["number"] == "0142685302"
    await call.hangup()
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()


async def test_rfc4733_dtmf_from_the_carrier_reaches_the_application(
    carrier: AriApp, pbx_app: AriApp
) -> None:
    call = await place_call(carrier, "+33142685300")
    start = await pbx_stasis_start(pbx_app, call)
    channel = channel_id(start)
    await pbx_app.post(f"/channels/{channel}/answer")
    await call.wait_answered()
    since = pbx_app.mark()
    await call.play()  # the caller's line is live, as on a real call
    await call.send_dtmf("1#")
    first = await pbx_app.wait_event("ChannelDtmfReceived", channel=channel, since=since)
    second = await pbx_app.wait_event(
        "ChannelDtmfReceived", lambda e: e is not first, channel=channel, since=since
    )
    assert (first["digit"], second["digit"]) == ("1", "#")
    await call.hangup()
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()


async def test_dtmf_sent_as_tones_in_the_audio_reaches_the_application(carrier: AriApp, pbx_app: AriApp) -> None:
    # A caller whose keys are tones (an old phone, a gateway): no telephone-event on that leg, so
    # the pbx (dtmf_mode = auto) listens for them in the audio.
    call = await place_call(carrier, "+33142685300", endpoint="pbx-inband")
    start = await pbx_stasis_start(pbx_app, call)
    channel = channel_id(start)
    await pbx_app.post(f"/channels/{channel}/answer")
    await call.wait_answered()
    since = pbx_app.mark()
    await call.send_dtmf("1#", duration_ms=150, between_ms=150)
    first = await pbx_app.wait_event("ChannelDtmfReceived", channel=channel, since=since)
    second = await pbx_app.wait_event(
        "ChannelDtmfReceived", lambda e: e is not first, channel=channel, since=since
    )
    assert (first["digit"], second["digit"]) == ("1", "#")
    await call.hangup()
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()


async def test_the_callers_audio_is_recorded_by_the_pbx(carrier: AriApp, pbx_app: AriApp) -> None:
    call = await place_call(carrier, "+33142685300")
    start = await pbx_stasis_start(pbx_app, call)
    channel = channel_id(start)
    await pbx_app.post(f"/channels/{channel}/answer")
    await call.wait_answered()
    await call.play()
    name = f"trunk-test-{channel}"
    since = pbx_app.mark()
    await pbx_app.post(f"/channels/{channel}/record", name=name, format="wav", ifExists="overwrite")
    await pbx_app.wait_event("RecordingStarted", since=since)
    await asyncio.sleep(1.5)  # the caller speaks a while; the duration is then read on Asterisk's side
    await pbx_app.post(f"/recordings/live/{name}/stop")
    finished = await pbx_app.wait_event("RecordingFinished", since=since)
    assert finished["recording"]["duration"] >= 1
    await pbx_app.delete(f"/recordings/stored/{name}")
    await call.hangup()
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()


async def test_no_channel_is_left_when_the_pbx_hangs_up(carrier: AriApp, pbx_app: AriApp) -> None:
    call = await place_call(carrier, "+33142685300")
    start = await pbx_stasis_start(pbx_app, call)
    channel = channel_id(start)
    await pbx_app.post(f"/channels/{channel}/answer")
    await call.wait_answered()
    await pbx_app.delete(f"/channels/{channel}")
    await call.wait_hung_up()
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()


async def test_no_channel_is_left_when_the_caller_hangs_up_while_ringing(
    carrier: AriApp, pbx_app: AriApp
) -> None:
    call = await place_call(carrier, "+33142685300")
    start = await pbx_stasis_start(pbx_app, call)
    await call.hangup()
    await pbx_app.wait_event("StasisEnd", channel=channel_id(start))
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()


async def test_a_call_from_the_pbx_reaches_the_carrier_presenting_the_chosen_number(
    carrier: AriApp, pbx_app: AriApp
) -> None:
    # What callbacks will do: the carrier challenges the INVITE, the pbx authenticates.
    since = carrier.mark()
    channel = await pbx_app.post(
        "/channels",
        endpoint="PJSIP/0612345678@trunk",
        app="reconnect-pbx",
        appArgs="callback",
        callerId="+33142685300",
        timeout=10,
    )
    start = await carrier.wait_event("StasisStart", lambda e: e["args"][:1] == ["from-pbx"], since=since)
    assert start["args"] == ["from-pbx", "0612345678"]
    assert start["channel"]["caller"]["number"] == "+33142685300"
    await carrier.post(f"/channels/{channel_id(start)}/answer")
    await pbx_app.wait_event("StasisStart", channel=channel["id"])
    await pbx_app.delete(f"/channels/{channel['id']}")
    await carrier.wait_no_channels()
    await pbx_app.wait_no_channels()
