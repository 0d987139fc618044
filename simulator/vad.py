"""Server-side voice activity detection: where speech starts and stops in a caller's audio.

Like the API's `server_vad`, it works on loudness alone: speech starts once the audio has been
above the threshold for long enough, and stops after a stretch of silence. "Long enough" rules
out clicks and beeps: Chromium's fake microphone beeps for 20 ms every 500 ms, which must not
count as someone talking.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any

MIN_SPEECH = 0.18  # seconds of loud audio, within the last WINDOW, that start speech
WINDOW = 0.3
# `semantic_vad` waits for the end of a thought; its eagerness is how long it tolerates silence.
_EAGERNESS_SILENCE = {"low": 1.2, "medium": 0.6, "auto": 0.6, "high": 0.3}


class Activity(Enum):
    """What a frame of audio changed."""

    STARTED = "started"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class VadSettings:
    """Detection parameters, from the session's `turn_detection`."""

    level: float  # RMS (0..1) above which a frame is voice
    silence: float  # seconds of quiet that end speech
    prefix_padding: float  # seconds of audio before the detected start that count as speech

    @classmethod
    def from_turn_detection(cls, turn: dict[str, Any]) -> VadSettings:
        """Settings for a `server_vad` or `semantic_vad` configuration."""
        threshold = float(turn.get("threshold", 0.5))
        if turn.get("type") == "semantic_vad":
            silence = _EAGERNESS_SILENCE.get(str(turn.get("eagerness", "auto")), 0.6)
        else:
            silence = int(turn.get("silence_duration_ms", 500)) / 1000
        # 0.5, the default threshold, is about -34 dBFS: quiet speech, well above room noise.
        return cls(
            level=0.004 + 0.032 * threshold,
            silence=silence,
            prefix_padding=int(turn.get("prefix_padding_ms", 300)) / 1000,
        )


class VoiceActivity:
    """Feeds on per-frame levels; says when speech starts and stops, on the audio's own clock."""

    def __init__(self) -> None:
        self.clock = 0.0  # seconds of audio heard
        self.speaking = False
        self.started_at = 0.0  # when the current (or last) speech started
        self.last_voice = 0.0  # end of the last loud frame
        self._recent: deque[tuple[float, float]] = deque()  # (end, seconds) of loud frames

    def feed(self, level: float, seconds: float, settings: VadSettings) -> Activity | None:
        """One frame: its RMS level and length."""
        start = self.clock
        self.clock += seconds
        loud = level >= settings.level
        if loud:
            self.last_voice = self.clock
            self._recent.append((self.clock, seconds))
        while self._recent and self._recent[0][0] <= self.clock - WINDOW:
            self._recent.popleft()
        if not self.speaking:
            if loud and sum(length for _end, length in self._recent) >= MIN_SPEECH:
                self.speaking = True
                first = self._recent[0][0] - self._recent[0][1]
                self.started_at = max(0.0, min(first, start) - settings.prefix_padding)
                return Activity.STARTED
            return None
        if not loud and self.clock - self.last_voice >= settings.silence:
            self.speaking = False
            self._recent.clear()
            return Activity.STOPPED
        return None
