"""What a failed playback's log line may say: never the digits of a number, nor stored audio."""

from reconnect_pbx.flows.channel import loggable_media
from reconnect_pbx.prompts import digits_media


def test_a_number_said_digit_by_digit_and_stored_audio_are_not_spelled_out_in_the_log() -> None:
    media = [
        "sound:reconnect/short/fr/greeting-default-intro",
        *digits_media("+33142685300", "fr", "short"),
        "sound:/var/lib/reconnect-pbx/play/0123456789abcdef",
        "sound:reconnect/short/fr/beep",
    ]
    logged = loggable_media(media)
    assert logged == [
        "sound:reconnect/short/fr/greeting-default-intro", "<digits>", "<stored audio>", "sound:reconnect/short/fr/beep",
    ]
    assert not any(digit in "".join(logged) for digit in ("0142685300", "0123456789abcdef"))
