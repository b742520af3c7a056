"""What the bench's callers send, and how loud what was stored is.

- ``caller.wav``: A-law WAV that SIPp streams (``rtp_stream``): a lead-in of silence while the
  greeting plays, ``speech_seconds`` of real speech (espeak-ng, French), then silence, still RTP,
  until the pbx hangs up.
- ``message.wav``: the same speech as 16-bit WAV, stored beforehand in the mailboxes that login
  calls listen to.
- ``*.pcap``: RTP (A-law silence with RFC 4733 key presses at given times) that SIPp replays
  (``play_pcap_audio``) for the login calls. Generated here so that every key of a call has its
  own RTP timestamp: replaying one capture per key would repeat timestamps, and Asterisk drops an
  event whose timestamp it has just seen.
"""

from __future__ import annotations

import array
import io
import math
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

from reconnect_pbx.sandbox.speech import render_speech

SPEECH_TEXT = (
    "Bonjour, c'est un message de test pour le banc de charge. "
    "Rappelez-moi quand vous pourrez, merci beaucoup. A bientot."
)
# A-law silence (the code of a zero sample).
ALAW_SILENCE = 0xD5
# A stored message quieter than this RMS (0..1) counts as silent (the e2e tests use the same).
SILENT_RMS = 0.005
RTP_PAYLOAD_ALAW = 8
RTP_PAYLOAD_EVENT = 101
PTIME_MS = 20
SAMPLES_PER_PACKET = 8000 * PTIME_MS // 1000


def render_caller_audio(directory: Path, *, lead_seconds: float, speech_seconds: float, tail_seconds: float) -> None:
    """``caller.wav`` (A-law, for SIPp) and ``message.wav`` (16-bit) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        speech = render_speech(SPEECH_TEXT, Path(tmp) / "speech.wav", seconds=speech_seconds)
        subprocess.run(
            ["sox", str(speech), "-e", "a-law", str(directory / "caller.wav"),
             "pad", str(lead_seconds), str(tail_seconds)],
            check=True,
        )
        (directory / "message.wav").write_bytes(speech.read_bytes())


def wav_rms(data: bytes) -> float:
    """RMS level (0..1) of 16-bit WAV audio, on every 4th sample (plenty for speech vs silence)."""
    with wave.open(io.BytesIO(data)) as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("not 16-bit audio")
        samples = array.array("h", wav.readframes(wav.getnframes()))[::4]
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


def write_keys_pcap(path: Path, keys: list[tuple[float, str]], total_seconds: float, *, ssrc: int = 0x5EC0DE) -> None:
    """RTP for one caller: A-law silence for ``total_seconds``, and each ``(at_seconds, "digits")``
    sent as RFC 4733 events (100 ms each, 100 ms apart) from ``at_seconds`` on.

    A classic pcap of Ethernet/IPv4/UDP packets; SIPp rewrites addresses and ports when it plays it.
    """
    events: dict[int, tuple[str, int]] = {}  # packet index -> (key, packet index within the key)
    for at, digits in keys:
        start = round(at * 1000 / PTIME_MS)
        for n, key in enumerate(digits):
            first = start + n * 10  # 200 ms per key: 100 ms tone, 100 ms gap
            for i in range(8):  # 5 packets of tone, 3 end packets (retransmitted, RFC 4733 2.5.1.4)
                events[first + i] = (key, i)
    packets = round(total_seconds * 1000 / PTIME_MS)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # DLT_EN10MB
    seq = 0
    for index in range(packets):
        timestamp = index * SAMPLES_PER_PACKET
        if index in events:
            key, i = events[index]
            code = "0123456789*#".index(key)  # RFC 4733: 10 is *, 11 is #
            event_start = (index - i) * SAMPLES_PER_PACKET
            end = i >= 5
            duration = min(i + 1, 5) * SAMPLES_PER_PACKET
            payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration)
            marker = 0x80 if i == 0 else 0
            rtp = struct.pack("!BBHII", 0x80, marker | RTP_PAYLOAD_EVENT, seq, event_start, ssrc) + payload
        else:
            rtp = struct.pack("!BBHII", 0x80, RTP_PAYLOAD_ALAW, seq, timestamp, ssrc)
            rtp += bytes([ALAW_SILENCE]) * SAMPLES_PER_PACKET
        seq = (seq + 1) & 0xFFFF
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        micros = index * PTIME_MS * 1000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
