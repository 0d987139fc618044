/**
 * The audio side of a call in the page: plays the model's voice and measures the levels of the
 * microphone and of the voice for the card's meters. The session hands it the streams (it is
 * the session's media sink: microphone(stream), remote(stream), close()).
 */

// ~15 updates a second are plenty for a meter.
const METER_INTERVAL_MS = 66;

/** RMS level (0..1) of what an analyser hears right now. */
function rms(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (let i = 0; i < buffer.length; i++) sum += buffer[i] * buffer[i];
  return Math.sqrt(sum / buffer.length);
}

export class CallAudio {
  /**
   * Create it inside the user's tap: browsers let an AudioContext start only there.
   * @param {(mic: number, remote: number) => void} onLevels called with RMS levels (0..1)
   */
  constructor(onLevels) {
    this._onLevels = onLevels;
    this._closed = false;
    this._context = globalThis.AudioContext ? new AudioContext() : undefined;
    this._context?.resume().catch(() => {});
    // Never in the DOM: moving the card between columns must not pause the voice.
    this._player = new Audio();
    this._player.autoplay = true;
    this._mic = undefined;
    this._remote = undefined;
    this._frame = undefined;
    let last = 0;
    const tick = (now) => {
      if (this._closed) return;
      this._frame = requestAnimationFrame(tick);
      if (now - last < METER_INTERVAL_MS) return;
      last = now;
      this._onLevels(this._level(this._mic), this._level(this._remote));
    };
    this._frame = requestAnimationFrame(tick);
  }

  microphone(stream) {
    this._mic = this._analyser(stream);
  }

  remote(stream) {
    this._player.srcObject = stream;
    this._player.play().catch(() => {});
    this._remote = this._analyser(stream);
  }

  close() {
    if (this._closed) return;
    this._closed = true;
    cancelAnimationFrame(this._frame);
    this._player.srcObject = null;
    this._context?.close().catch(() => {});
    this._onLevels(0, 0);
  }

  _level(meter) {
    return meter ? rms(meter.analyser, meter.buffer) : 0;
  }

  _analyser(stream) {
    if (!this._context || this._closed) return undefined;
    try {
      const analyser = this._context.createAnalyser();
      analyser.fftSize = 1024;
      this._context.createMediaStreamSource(stream).connect(analyser);
      return { analyser, buffer: new Float32Array(analyser.fftSize) };
    } catch {
      return undefined; // the meter is a nicety, never a reason to fail a call
    }
  }
}
