"""Speech for the sandbox's callers to say: the demo's, the tests' and the load bench's.

espeak-ng speaks French, sox makes it telephone audio (8 kHz, mono, 16-bit WAV), which the
carrier plays into a call. Both are Debian packages (scripts/install-system-packages).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

# Enough repetitions of any of our sentences for a minute of speech.
_REPEATS = 30


def render_speech(text: str, target: Path, *, seconds: float | None = None, pad_after: float = 0.0) -> Path:
    """``text`` spoken into ``target``: exactly ``seconds`` long when given (the text repeated as
    needed, then cut), followed by ``pad_after`` seconds of silence."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", "fr", "-s", "150", "-w", str(raw), text], check=True)
        effects = ["repeat", str(_REPEATS), "trim", "0", str(seconds)] if seconds is not None else []
        if pad_after:
            effects += ["pad", "0", str(pad_after)]
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(target), *effects], check=True)
    return target
