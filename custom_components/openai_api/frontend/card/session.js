/**
 * The voice session behind one card: WebRTC, signalling over Home Assistant's websocket, the
 * call's data channel and the state the card shows. No DOM: the card renders what the session
 * says, and plays the audio through the media sink it lets the session create.
 *
 *   idle ──start──> connecting ──answer──> listening <──> thinking <──> speaking
 *     ^                 │                        │ (data channel, then the satellite entity)
 *     │                 └──────── error <────────┤ (a failure; start() again retries)
 *     └──────────── stop(), HA or OpenAI ended ──┘
 *
 * The API key never reaches the browser:
 *   - relay mode: the SDP offer goes through HA's websocket (openai_api/realtime/connect), HA
 *     posts it to OpenAI with its key and returns the answer;
 *   - ephemeral mode: HA mints a 30-second client secret (openai_api/realtime/ephemeral), the
 *     browser posts its offer to OpenAI itself, then asks HA to attach its sideband to the call
 *     (openai_api/realtime/attach).
 * Every way a call ends goes through stop(), which hangs up through HA
 * (openai_api/realtime/hangup), closes the peer connection and releases the microphone.
 *
 * Events: "change" (state, error, notice or live changed), "callstart" (a new call begins) and
 * "serverevent" (one parsed event of the call's data channel, as `detail`).
 */

import { DOMAIN, TEXT } from "./const.js";

// OpenAI has no trickle ICE: the offer must carry its candidates. Gathering without STUN
// servers finishes in milliseconds; the bound only matters on odd networks.
export const ICE_GATHERING_TIMEOUT_MS = 3000;
// The satellite entity echoes the same server events a little later than the data channel;
// while the data channel spoke recently, it wins.
export const DATA_CHANNEL_PRIORITY_MS = 1500;

/** The state each data-channel event puts the call in. */
const CHANNEL_PHASES = {
  "input_audio_buffer.speech_started": "listening",
  "input_audio_buffer.speech_stopped": "thinking",
  "response.created": "thinking",
  "output_audio_buffer.started": "speaking",
  "output_audio_buffer.stopped": "listening",
  "output_audio_buffer.cleared": "listening",
};

/** `error` codes with which the API ends a session (its 60-minute limit, a call hung up). */
const SESSION_OVER_CODES = new Set(["session_expired", "call_ended"]);

/** The state each state of the satellite entity puts a live call in. */
const ENTITY_PHASES = {
  idle: "listening", // a live call with nothing going on is listening
  listening: "listening",
  processing: "thinking",
  responding: "speaking",
};

const LIVE_STATES = new Set(["listening", "thinking", "speaking"]);

/** Raised inside a start-up that the user (or the page) cancelled meanwhile. */
class Cancelled extends Error {}

/** An error whose message is meant for the user as is. */
class UserError extends Error {}

/** What a session needs from the browser. Tests hand the session fakes instead. */
export function browserEnv() {
  const media = globalThis.navigator?.mediaDevices;
  return {
    secure: globalThis.isSecureContext === true,
    getUserMedia: media?.getUserMedia ? (constraints) => media.getUserMedia(constraints) : undefined,
    RTCPeerConnection: globalThis.RTCPeerConnection,
    MediaStream: globalThis.MediaStream,
    fetch: (...args) => globalThis.fetch(...args),
    now: () => Date.now(),
  };
}

/** Wait until ICE gathering is complete (or the timeout), so the offer has every candidate. */
function iceGatheringComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class VoiceSession extends EventTarget {
  /**
   * @param {{entity: string, mode?: "relay" | "ephemeral"}} options the satellite and the mode
   * @param {ReturnType<typeof browserEnv>} env the browser's WebRTC, media and fetch
   */
  constructor({ entity, mode = "relay" }, env = browserEnv()) {
    super();
    this.entity = entity;
    this.mode = mode;
    /** idle | connecting | listening | thinking | speaking | error */
    this.state = "idle";
    /** The message of the error state. */
    this.error = undefined;
    /** Why the last call ended, when it was not the user's doing (shown while idle). */
    this.notice = undefined;
    this._env = env;
    this._call = undefined; // the live (or starting) call, see start()
    this._hass = undefined;
    this._connection = undefined;
    this._entityState = undefined;
    this._lastChannelEvent = 0;
    this._onDisconnected = () => this._call && this.stop({ error: TEXT.haLost });
  }

  /** Whether a call is live or starting. */
  get live() {
    return this._call !== undefined;
  }

  get callId() {
    return this._call?.callId;
  }

  get hass() {
    return this._hass;
  }

  /** HA's frontend object: its websocket connection, and the satellite entity to follow. */
  set hass(hass) {
    this._hass = hass;
    this._watch(hass?.connection);
    this._followEntity();
  }

  toggle(createMedia) {
    if (this._call) this.stop();
    else this.start(createMedia);
  }

  /**
   * Start a call. `createMedia()` returns the sink that plays and meters the call's audio
   * ({microphone(stream), remote(stream), close()}); it is called before the first await, so
   * inside the user's tap, where browsers let an AudioContext start.
   */
  async start(createMedia) {
    if (this._call || !this._hass) return;
    this.notice = undefined;
    const env = this._env;
    if (!env.secure || !env.getUserMedia) {
      this._fail(TEXT.insecure);
      return;
    }
    if (typeof env.RTCPeerConnection !== "function") {
      this._fail(TEXT.noWebrtc);
      return;
    }
    const call = {
      entity: this.entity,
      mode: this.mode,
      connection: this._hass.connection,
      ended: false,
      media: createMedia?.(),
    };
    this._call = call;
    this.error = undefined;
    this.dispatchEvent(new Event("callstart"));
    this._setState("connecting");
    try {
      await this._connect(call);
      this._lastChannelEvent = 0;
      this._setState("listening");
    } catch (err) {
      const cancelled = err instanceof Cancelled || call.ended;
      // When cancelled, stop() cleaned up already, but the microphone or the call may have
      // arrived since: teardown is idempotent.
      this._teardown(call);
      if (cancelled) return;
      this._call = undefined;
      const message = await this._describe(err);
      if (!this._call) this._fail(message); // unless a new call started meanwhile
    }
  }

  /** End the call (idempotent); with `error` the session shows it, with `notice` a status. */
  stop({ error, notice } = {}) {
    const call = this._call;
    if (call) {
      this._call = undefined;
      this._teardown(call);
    }
    this.notice = notice;
    if (error) this._fail(error);
    else if (call || this.state === "error") this._setState("idle");
    this._changed();
  }

  /** End the call and stop following HA's connection: the session is done for. */
  dispose() {
    this.stop();
    this._watch(undefined);
  }

  /** Bytes of audio received and sent: for diagnostics (and the end-to-end tests). */
  async rtcStats() {
    const pc = this._call?.pc;
    if (!pc) return null;
    const stats = { inbound_bytes: 0, outbound_bytes: 0, connection_state: pc.connectionState };
    (await pc.getStats()).forEach((report) => {
      if (report.kind !== "audio") return;
      if (report.type === "inbound-rtp") stats.inbound_bytes += report.bytesReceived ?? 0;
      if (report.type === "outbound-rtp") stats.outbound_bytes += report.bytesSent ?? 0;
    });
    return stats;
  }

  // --- state ------------------------------------------------------------------------------

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this._changed();
  }

  _fail(message) {
    this.error = message;
    if (this.state === "error") this._changed();
    else this._setState("error");
  }

  _changed() {
    this.dispatchEvent(new Event("change"));
  }

  _watch(connection) {
    if (connection === this._connection) return;
    this._connection?.removeEventListener("disconnected", this._onDisconnected);
    this._connection = connection;
    this._connection?.addEventListener("disconnected", this._onDisconnected);
  }

  // --- the call ---------------------------------------------------------------------------

  /** Microphone, peer connection, offer, answer: everything up to a live call. */
  async _connect(call) {
    const env = this._env;
    const check = () => {
      if (call.ended) throw new Cancelled();
    };
    try {
      call.stream = await env.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      if (err?.name === "NotAllowedError" || err?.name === "SecurityError") {
        throw new UserError(TEXT.micDenied);
      }
      if (err?.name === "NotFoundError") throw new UserError(TEXT.noMic);
      if (err?.name === "NotReadableError") throw new UserError(TEXT.micBusy);
      throw err;
    }
    check();
    const pc = new env.RTCPeerConnection();
    call.pc = pc;
    pc.ontrack = (event) => {
      const [stream] = event.streams;
      call.media?.remote(stream ?? new env.MediaStream([event.track]));
    };
    pc.onconnectionstatechange = () => {
      if (this._call === call && pc.connectionState === "failed") {
        this.stop({ error: TEXT.mediaFailed });
      }
    };
    const [track] = call.stream.getAudioTracks();
    pc.addTrack(track, call.stream);
    call.media?.microphone(call.stream);

    const dc = pc.createDataChannel("oai-events");
    call.dc = dc;
    dc.onmessage = (event) => this._onChannelMessage(call, event.data);
    dc.onclose = () => {
      if (this._call === call && this.state !== "connecting") this.stop({ notice: TEXT.ended });
    };

    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc, ICE_GATHERING_TIMEOUT_MS);
    check();
    const offer = pc.localDescription.sdp;
    const answer =
      call.mode === "ephemeral"
        ? await this._offerDirect(call, offer)
        : await this._offerThroughHa(call, offer);
    check();
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    check();
  }

  async _offerThroughHa(call, sdp) {
    const result = await call.connection.sendMessagePromise({
      type: "openai_api/realtime/connect",
      entity_id: call.entity,
      sdp,
    });
    call.callId = result.call_id; // set before any check, so a cancelled start hangs up
    return result.sdp;
  }

  /** Ephemeral mode: a short-lived secret from HA, the offer straight to OpenAI, then attach. */
  async _offerDirect(call, sdp) {
    const secret = await call.connection.sendMessagePromise({
      type: "openai_api/realtime/ephemeral",
      entity_id: call.entity,
    });
    if (call.ended) throw new Cancelled();
    let response;
    try {
      response = await this._env.fetch(secret.calls_url, {
        method: "POST",
        body: sdp,
        headers: { Authorization: `Bearer ${secret.value}`, "Content-Type": "application/sdp" },
      });
    } catch (err) {
      // A network error or a CORS refusal: the browser cannot reach the API itself.
      throw new UserError(`Cannot reach ${new URL(secret.calls_url).host}: ${err.message}`);
    }
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        message = (await response.json())?.error?.message ?? message;
      } catch {
        // not JSON: the status says enough
      }
      throw new UserError(`OpenAI refused the call: ${message}`);
    }
    const answer = await response.text();
    const callId = response.headers.get("Location")?.match(/rtc_[A-Za-z0-9_-]+/)?.[0];
    if (!callId) throw new UserError(TEXT.noCallId);
    if (call.ended) throw new Cancelled();
    const attached = await call.connection.sendMessagePromise({
      type: "openai_api/realtime/attach",
      entity_id: call.entity,
      call_id: callId,
    });
    call.callId = attached.call_id;
    return answer;
  }

  /** Release everything a call holds; safe on a half-built or already ended call. */
  _teardown(call) {
    call.ended = true;
    if (call.callId && !call.hungUp) {
      call.hungUp = true;
      // Best effort: if HA's websocket is gone, HA has hung up already.
      call.connection
        ?.sendMessagePromise({ type: "openai_api/realtime/hangup", call_id: call.callId })
        .catch(() => {});
    }
    call.dc?.close();
    call.pc?.close();
    call.stream?.getTracks().forEach((track) => track.stop());
    call.media?.close();
  }

  /** A user-facing message for an error, translated by HA when it has a translation key. */
  async _describe(err) {
    if (err instanceof UserError) return err.message;
    // home-assistant-js-websocket rejects with the error object, with {error} when the
    // connection closed under a command, or with the bare code 3 when it was already closed.
    if (err === 3 || err?.error?.code === 3) return TEXT.haLost;
    const error = err?.error ?? err;
    if (error?.translation_key && this._hass?.loadBackendTranslation) {
      try {
        const domain = error.translation_domain ?? DOMAIN;
        const localize = await this._hass.loadBackendTranslation("exceptions", domain);
        const text = localize(
          `component.${domain}.exceptions.${error.translation_key}.message`,
          error.translation_placeholders ?? {},
        );
        if (text) return text;
      } catch {
        // fall back to the English message HA already sent
      }
    }
    return error?.message || (typeof err === "string" ? err : TEXT.unknown);
  }

  // --- what the call tells us -------------------------------------------------------------

  _onChannelMessage(call, data) {
    if (this._call !== call) return;
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (!event || typeof event !== "object") return;
    if (event.type === "error" && SESSION_OVER_CODES.has(event.error?.code)) {
      // The API says the session is over: end here, before the media path notices it fail.
      this.stop({ notice: TEXT.ended });
      return;
    }
    const phase = CHANNEL_PHASES[event.type];
    // A response that starts while the model is still speaking does not make it "think".
    const keepsSpeaking = event.type === "response.created" && this.state === "speaking";
    if (phase && this.state !== "connecting" && !keepsSpeaking) {
      this._lastChannelEvent = this._env.now();
      this._setState(phase);
    }
    this.dispatchEvent(new CustomEvent("serverevent", { detail: event }));
  }

  /** Follow the satellite entity: its state, and whether HA still holds our call. */
  _followEntity() {
    const stateObj = this._hass?.states?.[this.entity];
    const call = this._call;
    if (!stateObj || !call) {
      this._entityState = stateObj?.state;
      return;
    }
    const callIds = stateObj.attributes?.call_ids ?? [];
    if (call.callId && callIds.includes(call.callId)) call.seenInEntity = true;
    else if (call.seenInEntity && this.state !== "connecting") {
      this.stop({ notice: TEXT.endedByHa });
      return;
    }
    if (stateObj.state === this._entityState) return;
    this._entityState = stateObj.state;
    const phase = ENTITY_PHASES[stateObj.state];
    if (!phase || !LIVE_STATES.has(this.state)) return;
    if (this._env.now() - this._lastChannelEvent < DATA_CHANNEL_PRIORITY_MS) return;
    this._setState(phase);
  }
}
