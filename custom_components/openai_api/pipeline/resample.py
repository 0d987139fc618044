"""16 kHz PCM (what HA's voice surfaces send) to 24 kHz PCM (what the Realtime API takes)."""

from __future__ import annotations

import array
import sys


class Upsampler:
    """Linear interpolation from 16 kHz to 24 kHz, mono signed 16-bit little-endian, streamed.

    Three output samples for every two input samples; a sample and an odd byte are carried over
    between chunks, so chunk boundaries make no difference to the result. Linear interpolation
    is enough for speech recognition, and needs nothing beyond the standard library.
    """

    def __init__(self) -> None:
        self._pending = b""  # an odd byte left over from the last chunk
        self._carry: list[int] = []  # samples not yet paired

    def feed(self, chunk: bytes) -> bytes:
        """Return the 24 kHz audio for as much of `chunk` as can be converted yet."""
        data = self._pending + chunk
        usable = len(data) - len(data) % 2
        self._pending = data[usable:]
        samples = array.array("h")
        samples.frombytes(data[:usable])
        if sys.byteorder == "big":
            samples.byteswap()
        buffered = self._carry + samples.tolist()
        out = array.array("h")
        # Output samples fall at 0, 2/3 and 4/3 input steps from a: a itself, then 2/3 of the
        # way from a to b, then 1/3 of the way from b to the next sample c.
        index = 0
        while index + 2 < len(buffered):
            a, b, c = buffered[index], buffered[index + 1], buffered[index + 2]
            out.extend((a, (a + 2 * b) // 3, (2 * b + c) // 3))
            index += 2
        self._carry = buffered[index:]
        if sys.byteorder == "big":
            out.byteswap()
        return out.tobytes()

    def flush(self) -> bytes:
        """Return the audio left at the end of the stream."""
        out = array.array("h")
        if len(self._carry) == 2:
            a, b = self._carry
            out.extend((a, (a + 2 * b) // 3, b))
        elif len(self._carry) == 1:
            out.extend((self._carry[0], self._carry[0]))
        self._carry = []
        if sys.byteorder == "big":
            out.byteswap()
        return out.tobytes()
