"""A small formant synthesizer: text becomes audio that sounds like someone talking.

No words are really pronounced, but the shape of speech is there, which is what a person
watching the dev set-up (and the level meters of the voice card) needs: syllables of voiced
sound at a speaking pitch that falls over the sentence and rises on a question, vowel formants
that glide from one syllable to the next, consonant noise and closures at syllable onsets, an
amplitude envelope on every syllable, and pauses between words and sentences.

Voiced sound is additive: the harmonics of a glottal pulse (falling 12 dB per octave) weighted
by three formant resonances of the syllable's vowel, which is what a vowel is acoustically.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import zlib

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48000  # WebRTC's Opus rate: frames go to the track without resampling
_TOP_HARMONIC_HZ = 5000.0
_LEAD = 0.05  # seconds of silence before the first word
_TAIL = 0.12  # and at most this much after the last
_LEVEL = 0.45  # peak amplitude: a voiced frame's RMS lands near 0.15-0.25, like real speech

# F1, F2, F3 (Hz) of a vowel, by the letter that spells it.
_VOWELS: dict[str, tuple[float, float, float]] = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (390, 1990, 2550),
    "o": (570, 840, 2410),
    "u": (440, 1020, 2240),
    "y": (300, 2100, 2700),
}
_BANDWIDTHS = (90.0, 110.0, 170.0)
_FORMANT_GAINS = (1.0, 0.6, 0.25)
# Onset consonants by sound class: noise band (Hz) and duration (s), or a closure.
_FRICATIVES: dict[str, tuple[float, float, float]] = {
    "s": (4000, 9000, 0.09),
    "z": (3500, 8000, 0.07),
    "c": (3500, 8500, 0.07),
    "f": (1500, 7000, 0.08),
    "v": (1200, 5000, 0.06),
    "h": (500, 3500, 0.06),
    "x": (2500, 7000, 0.08),
    "j": (2000, 5000, 0.06),
}
_PLOSIVES = frozenset("pbtdkgq")
_VOICES_HIGH = frozenset({"alloy", "coral", "marin", "sage", "shimmer", "ballad"})
_WORD = re.compile(r"[A-Za-z']+|[0-9]+|[.,;:!?]")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")


@dataclass(frozen=True, slots=True)
class Syllable:
    """One syllable to say: its vowel, what comes before it, and how long it lasts."""

    vowel: str
    onset: str  # consonant letters before the vowel ("" for none)
    seconds: float
    stressed: bool


@dataclass(frozen=True, slots=True)
class Word:
    """A word's syllables and the pause after it."""

    text: str
    syllables: tuple[Syllable, ...]
    pause: float  # seconds of silence after the word


@dataclass(frozen=True)
class Speech:
    """Synthesized audio (float mono at SAMPLE_RATE) and when each word starts in it."""

    samples: npt.NDArray[np.float32]
    word_starts: tuple[tuple[str, float], ...]

    @property
    def seconds(self) -> float:
        """Its length."""
        return len(self.samples) / SAMPLE_RATE


def plan(text: str, speed: float = 1.0) -> tuple[Word, ...]:
    """The words of `text` as syllables with durations (at `speed`, 1.0 = normal)."""
    tokens = _WORD.findall(text) or ["mm"]
    words: list[Word] = []
    for token in tokens:
        if not token[0].isalnum() and token[0] != "'":
            if words:
                pause = {",": 0.22, ";": 0.3, ":": 0.3}.get(token, 0.42)
                words[-1] = Word(words[-1].text, words[-1].syllables, pause / speed)
            continue
        spelled = _spell_digits(token.lower())
        words.append(Word(token, _syllables(spelled, speed), 0.07 / speed))
    if words:
        last = words[-1]
        words[-1] = Word(last.text, last.syllables, min(last.pause, _TAIL))
    return tuple(words)


def seconds(text: str, speed: float = 1.0) -> float:
    """How long `text` takes to say, without synthesizing it."""
    words = plan(text, speed)
    return _LEAD + sum(
        w.pause + sum(s.seconds + _onset_seconds(s.onset) for s in w.syllables) for w in words
    )


def synthesize(text: str, *, voice: str = "alloy", speed: float = 1.0) -> Speech:
    """Say `text` in a voice (its pitch range follows the voice's name)."""
    words = plan(text, speed)
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    base = 205.0 if voice in _VOICES_HIGH else 118.0
    question = text.rstrip().endswith("?")
    total = sum(len(w.syllables) for w in words)
    pieces: list[npt.NDArray[np.float64]] = [np.zeros(int(_LEAD * SAMPLE_RATE))]
    starts: list[tuple[str, float]] = []
    previous = _VOWELS["e"]
    position = 0.0
    index = 0
    for word in words:
        starts.append((word.text, position / SAMPLE_RATE))
        for syllable in word.syllables:
            progress = index / max(total - 1, 1)
            f0 = _pitch(base, progress, question, syllable.stressed, rng)
            piece = _render(syllable, previous, f0, rng)
            previous = _VOWELS[syllable.vowel]
            pieces.append(piece)
            position += len(piece)
            index += 1
        gap = np.zeros(int(word.pause * SAMPLE_RATE))
        pieces.append(gap)
        position += len(gap)
    audio = np.concatenate(pieces)
    starts = [(w, s + _LEAD) for w, s in starts]
    peak = float(np.max(np.abs(audio))) or 1.0
    return Speech((audio * (_LEVEL / peak)).astype(np.float32), tuple(starts))


def pcm16(samples: npt.NDArray[np.floating]) -> bytes:
    """Floats in -1..1 as signed 16-bit little-endian samples."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def resample(
    samples: npt.NDArray[np.floating], from_rate: int, to_rate: int
) -> npt.NDArray[np.float32]:
    """Audio at another sample rate (band-limited: the spectrum is cut or padded)."""
    if from_rate == to_rate or len(samples) == 0:
        return np.asarray(samples, dtype=np.float32)
    length = round(len(samples) * to_rate / from_rate)
    spectrum = np.fft.rfft(samples)
    bins = length // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), complex)])
    return (np.fft.irfft(spectrum, length) * (length / len(samples))).astype(np.float32)


def _spell_digits(token: str) -> str:
    # Digits as roughly as many syllables as they take to say.
    return re.sub(r"[0-9]", "ta", token)


def _syllables(word: str, speed: float) -> tuple[Syllable, ...]:
    groups = list(_VOWEL_GROUP.finditer(word))
    if not groups:
        return (Syllable("e", word[:2], 0.16 / speed, True),)
    out: list[Syllable] = []
    before = 0
    for number, group in enumerate(groups):
        onset = word[before : group.start()]
        letters = len(onset) + len(group.group())
        seconds = (0.11 + 0.025 * min(letters, 5)) / speed
        out.append(Syllable(group.group()[0], onset, seconds, number == 0))
        before = group.end()
    return tuple(out)


def _pitch(
    base: float, progress: float, question: bool, stressed: bool, rng: np.random.Generator
) -> tuple[float, float]:
    """A syllable's pitch at its start and end: declination, accents, a rise on questions."""
    level = base * (1.12 - 0.25 * progress)
    if question and progress > 0.8:
        level *= 1.0 + 1.5 * (progress - 0.8)
    if stressed:
        level *= 1.08
    jitter = 1.0 + rng.uniform(-0.03, 0.03)
    return level * jitter, level * (0.94 if not question else 1.04)


def _render(
    syllable: Syllable,
    previous: tuple[float, float, float],
    f0: tuple[float, float],
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    onset = _onset(syllable.onset, rng)
    n = int(syllable.seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    vibrato = 1.0 + 0.01 * np.sin(2 * np.pi * 5.5 * t)
    pitch = np.linspace(f0[0], f0[1], n) * vibrato
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    # The formants glide from the previous vowel over the first third (coarticulation).
    target = np.array(_VOWELS[syllable.vowel])
    glide = np.clip(t / (syllable.seconds / 3), 0.0, 1.0)[:, None]
    formants = np.array(previous)[None, :] * (1 - glide) + target[None, :] * glide
    voiced = np.zeros(n)
    top = int(_TOP_HARMONIC_HZ / max(f0))
    for k in range(1, top + 1):
        frequency = k * pitch
        weight = _envelope(frequency, formants) / k  # glottal source tilt
        voiced += weight * np.sin(k * phase)
    voiced /= np.max(np.abs(voiced)) or 1.0
    nasal = syllable.onset[-1:] in ("m", "n", "l", "r", "w")
    return np.concatenate([onset, voiced * _amplitude(n, soft_start=nasal)])


def _envelope(
    frequency: npt.NDArray[np.float64], formants: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    total = np.zeros_like(frequency)
    for index, (bandwidth, gain) in enumerate(zip(_BANDWIDTHS, _FORMANT_GAINS, strict=True)):
        distance = (frequency - formants[:, index]) / (bandwidth / 2)
        total += gain / (1.0 + distance**2)
    return total


def _amplitude(n: int, *, soft_start: bool) -> npt.NDArray[np.float64]:
    """Rise, a slowly falling body, and a release: the loudness of one syllable."""
    attack = int((0.045 if soft_start else 0.025) * SAMPLE_RATE)
    release = int(0.05 * SAMPLE_RATE)
    envelope = np.linspace(1.0, 0.7, n)
    attack, release = min(attack, n // 2), min(release, n // 2)
    envelope[:attack] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
    envelope[n - release :] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, release))
    return envelope


def _onset_seconds(letters: str) -> float:
    return sum(
        _FRICATIVES[c][2] if c in _FRICATIVES else 0.047 if c in _PLOSIVES else 0.0
        for c in letters[-2:]
    )


def _onset(letters: str, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Noise for a fricative, a closure and burst for a plosive, nothing otherwise."""
    pieces: list[npt.NDArray[np.float64]] = []
    for letter in letters[-2:]:
        if letter in _FRICATIVES:
            low, high, seconds = _FRICATIVES[letter]
            pieces.append(_noise(low, high, seconds, 0.15, rng))
        elif letter in _PLOSIVES:
            pieces.append(np.zeros(int(0.035 * SAMPLE_RATE)))
            pieces.append(_noise(1000, 6000, 0.012, 0.3, rng))
    return np.concatenate(pieces) if pieces else np.zeros(0)


def _noise(
    low: float, high: float, seconds: float, level: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[(frequencies < low) | (frequencies > high)] = 0
    noise = np.fft.irfft(spectrum, n)
    noise *= level / (np.max(np.abs(noise)) or 1.0)
    return noise * np.hanning(n)
