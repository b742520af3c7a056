"""A few calls with the real prompts (seconds long, played in real time), not the short test set."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from app_process import AppProcess
from deposit_helpers import leave_message, media_names, wait_for_messages

pytestmark = pytest.mark.realprompts


@pytest.fixture
def app_with_real_prompts(running_app: AppProcess) -> Iterator[AppProcess]:
    with running_app.reconfigured(voicemail_prompt_set="std") as app:
        yield app


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_a_caller_hears_the_real_greeting_in_the_persons_language_and_leaves_a_message(
    app_with_real_prompts, carrier, observer, enrol, db, language
):
    person = enrol(language=language)
    caller = f"01{secrets.randbelow(10**8):08d}"
    call = await leave_message(carrier, observer, person.national, caller)
    messages = await wait_for_messages(db, person.mailbox_id, 1, timeout=30)
    assert messages[0].caller_number == "+33" + caller[1:]
    await call.wait_hung_up()
    observed = await observer.call_from(caller)
    assert all(uri.startswith(f"sound:reconnect/std/{language}/") for uri in observed.media)
    assert media_names(observed.media)[0] == "greeting-default-intro"
    assert media_names(observed.media)[-1] == "beep"
