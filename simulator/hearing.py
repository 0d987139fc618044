"""What the simulator hears in a user's audio: a phrase written in tones, else speech, else nothing.

The API's transcription models turn speech into words; the simulator cannot, so a test writes
the words into the audio in a code of tones that the simulator reads back. The mapping:

1. A phrase in tones (`encode`) is heard as that phrase. The code: a start tone (2700 Hz,
   100 ms), then every UTF-8 byte of the phrase as two tones, its high nibble then its low one,
   each 30 ms of one of 16 frequencies (700 + 100·n Hz, n = 0…15) followed by 20 ms of
   silence, then an end tone (3000 Hz, 100 ms). All of it lies in the telephone band, and it
   survives resampling (HA's pipeline sends 16 kHz audio, upsampled to 24 kHz) and any gain.
   The first complete code in the audio counts; speech before or after it does not.
2. Otherwise audio with at least `SPEECH_SECONDS` of sound louder than `LOUD` (-40 dBFS) is
   speech the simulator cannot make out, and is heard as `DEFAULT_PHRASE`,
   "Turn on the test light".
3. Otherwise (silence, a click): "", as the API transcribes silence.

`speech_with_phrase` makes audio that sounds like speech and carries its phrase: the code,
then the simulator's synthesized voice saying it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import speech

DEFAULT_PHRASE = "Turn on the test light"
API_RATE = 24000  # `audio/pcm` input is 24 kHz 16-bit mono little-endian
TELEPHONE_RATE = 8000  # `audio/pcmu` and `audio/pcma` (G.711)
START_HZ = 2700.0
END_HZ = 3000.0
NIBBLE_HZ = tuple(700.0 + 100.0 * n for n in range(16))
MARK_SECONDS = 0.1  # the start and end tones
TONE_SECONDS = 0.03  # a nibble's tone, then
GAP_SECONDS = 0.02  # silence
LEVEL = 0.3  # amplitude of the tones written
LOUD = 0.01  # RMS (0..1) of audio that is not silence: -40 dBFS
SPEECH_SECONDS = 0.25

_WINDOW = 0.01  # seconds of audio per analysed frame
_HOP = 0.005
_TOLERANCE_HZ = 35.0  # how far a tone may drift (resampling, interpolation) and still count
_TONAL = 0.6  # share of a frame's power near its peak that makes it a tone
_MIN_RUN = 2  # frames a tone must last to count (shorter is a transition)
_START, _END = 16, 17  # symbol numbers of the marks (0..15 are nibbles)


def encode(phrase: str, rate: int = API_RATE) -> npt.NDArray[np.float32]:
    """The phrase in tones (floats in -1..1 at `rate`), as described above."""
    pieces = [_tone(START_HZ, MARK_SECONDS, rate)]
    for byte in phrase.encode():
        for nibble in (byte >> 4, byte & 0x0F):
            pieces.append(_tone(NIBBLE_HZ[nibble], TONE_SECONDS, rate))
            pieces.append(np.zeros(round(GAP_SECONDS * rate)))
    pieces.append(_tone(END_HZ, MARK_SECONDS, rate))
    return np.concatenate(pieces).astype(np.float32)


def speech_with_phrase(phrase: str, rate: int = API_RATE) -> npt.NDArray[np.float32]:
    """Audio that sounds like someone saying `phrase` and carries it: the code, then the voice."""
    voice = speech.resample(speech.synthesize(phrase).samples, speech.SAMPLE_RATE, rate)
    pause = np.zeros(round(0.03 * rate), dtype=np.float32)  # short: one utterance to a VAD
    audio: npt.NDArray[np.float32] = np.concatenate([encode(phrase, rate), pause, voice * 0.8])
    return audio.astype(np.float32)


def hear(samples: npt.NDArray[np.floating], rate: int = API_RATE) -> str:
    """What the audio says, by the mapping above."""
    symbols, loud = _frames(np.asarray(samples, dtype=np.float64), rate)
    phrase = _decode(_runs(symbols))
    if phrase is not None:
        return phrase
    return DEFAULT_PHRASE if loud * _HOP >= SPEECH_SECONDS else ""


def hear_pcm(audio: bytes, audio_format: dict[str, object] | None = None) -> str:
    """What audio in a session's input format says (`audio/pcm` 24 kHz, or G.711 at 8 kHz)."""
    return hear(*decode(audio, audio_format))


def decode(
    audio: bytes, audio_format: dict[str, object] | None = None
) -> tuple[npt.NDArray[np.float64], int]:
    """Audio in a session's input format as floats, and their rate."""
    kind = (audio_format or {}).get("type", "audio/pcm")
    if kind == "audio/pcmu":
        return _mu_law(audio), TELEPHONE_RATE
    if kind == "audio/pcma":
        return _a_law(audio), TELEPHONE_RATE
    return pcm16_to_float(audio), API_RATE


def bytes_per_second(audio_format: dict[str, object] | None = None) -> int:
    """How many bytes a second of audio takes in a session's input format."""
    kind = (audio_format or {}).get("type", "audio/pcm")
    return TELEPHONE_RATE if kind in ("audio/pcmu", "audio/pcma") else 2 * API_RATE


def pcm16_to_float(audio: bytes) -> npt.NDArray[np.float64]:
    """Signed 16-bit little-endian samples as floats in -1..1 (an odd last byte is dropped)."""
    usable = len(audio) - len(audio) % 2
    return np.frombuffer(audio[:usable], dtype="<i2").astype(np.float64) / 32768.0


def _tone(hz: float, seconds: float, rate: int) -> npt.NDArray[np.float64]:
    n = round(seconds * rate)
    ramp = min(round(0.003 * rate), n // 2)  # 3 ms fades: no clicks between symbols
    envelope = np.ones(n)
    envelope[:ramp] = np.linspace(0.0, 1.0, ramp)
    envelope[n - ramp :] = np.linspace(1.0, 0.0, ramp)
    tone: npt.NDArray[np.float64] = LEVEL * envelope * np.sin(2 * np.pi * hz * np.arange(n) / rate)
    return tone


@dataclass(frozen=True, slots=True)
class _Run:
    symbol: int
    frames: int


def _frames(samples: npt.NDArray[np.float64], rate: int) -> tuple[list[int | None], int]:
    """Each frame's symbol (None: silence or no known tone) and the count of loud frames."""
    size, hop = max(round(_WINDOW * rate), 8), max(round(_HOP * rate), 1)
    if len(samples) < size:
        return [], 0
    frames = np.lib.stride_tricks.sliding_window_view(samples, size)[::hop]
    loud = np.sqrt(np.mean(frames**2, axis=1)) >= LOUD
    n_fft = 1 << max(12, (size - 1).bit_length() + 2)  # zero-padded: a fine peak estimate
    power = np.abs(np.fft.rfft(frames[loud] * np.hanning(size), n_fft, axis=1)) ** 2
    peaks = np.argmax(power, axis=1)
    # A Hann window spreads a pure tone over 2 bins either side of its own resolution.
    spread = 2 * n_fft // size
    band = np.arange(-spread, spread + 1)
    near = np.take_along_axis(power, np.clip(peaks[:, None] + band, 0, power.shape[1] - 1), 1)
    tonal = near.sum(axis=1) >= _TONAL * power.sum(axis=1)
    marks = np.array([*NIBBLE_HZ, START_HZ, END_HZ])
    distance = np.abs(np.fft.rfftfreq(n_fft, 1 / rate)[peaks][:, None] - marks[None, :])
    best = np.argmin(distance, axis=1)
    known = tonal & (distance[np.arange(len(best)), best] <= _TOLERANCE_HZ)
    symbols: list[int | None] = [None] * len(frames)
    for index, symbol, ok in zip(np.flatnonzero(loud), best, known, strict=True):
        if ok:
            symbols[index] = int(symbol)
    return symbols, int(loud.sum())


def _runs(symbols: list[int | None]) -> list[_Run | None]:
    """Consecutive frames of one symbol as runs; silence and unknown sound as None."""
    runs: list[_Run | None] = []
    for symbol in symbols:
        last = runs[-1] if runs else None
        if symbol is not None and last is not None and last.symbol == symbol:
            runs[-1] = _Run(symbol, last.frames + 1)
        else:
            runs.append(None if symbol is None else _Run(symbol, 1))
    return [r for r in runs if r is None or r.frames >= _MIN_RUN]


def _decode(runs: list[_Run | None]) -> str | None:
    """The phrase of the first complete code: a start mark, whole bytes, the end mark."""
    tones = [r.symbol for r in runs if r is not None]
    for start, symbol in enumerate(tones):
        if symbol != _START or (start + 1 < len(tones) and tones[start + 1] == _START):
            continue
        end = next((i for i in range(start + 1, len(tones)) if tones[i] >= _START), None)
        if end is None or tones[end] != _END:
            continue
        nibbles = tones[start + 1 : end]
        if nibbles and len(nibbles) % 2 == 0:
            data = bytes(hi << 4 | lo for hi, lo in zip(nibbles[::2], nibbles[1::2], strict=True))
            return data.decode(errors="replace")
    return None


def _mu_law(audio: bytes) -> npt.NDArray[np.float64]:
    """G.711 μ-law bytes as floats (ITU-T G.711's expansion)."""
    u = ~np.frombuffer(audio, dtype=np.uint8)
    exponent = (u >> 4) & 0x07
    magnitude = ((((u & 0x0F).astype(np.int32) << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude) / 32768.0


def _a_law(audio: bytes) -> npt.NDArray[np.float64]:
    """G.711 A-law bytes as floats (ITU-T G.711's expansion)."""
    a = np.frombuffer(audio, dtype=np.uint8) ^ 0x55
    exponent = ((a >> 4) & 0x07).astype(np.int32)
    mantissa = (a & 0x0F).astype(np.int32)
    magnitude = np.where(
        exponent == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0),
    )
    return np.where(a & 0x80, magnitude, -magnitude) / 32768.0
