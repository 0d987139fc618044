/**
 * openai-realtime-voice-card: talk to an OpenAI Realtime voice profile from a dashboard.
 *
 * A plain ES module (no build step, no dependencies) served by the openai_api integration and
 * loaded on every dashboard. One tap opens a WebRTC call: the microphone goes to OpenAI, the
 * model's voice comes back, and Home Assistant controls the call through its sideband (tools,
 * satellite state, hang-up). The API key never reaches the browser:
 *   - relay mode: the browser's SDP offer goes through HA's websocket
 *     (openai_api/realtime/connect), HA posts it to OpenAI with its key;
 *   - ephemeral mode: HA mints a 60-second client secret, the browser posts its offer to OpenAI
 *     itself, then asks HA to attach its sideband to the call (openai_api/realtime/attach).
 */

const CARD = "openai-realtime-voice-card";
const EDITOR = `${CARD}-editor`;
const DOMAIN = "openai_api";
const MODES = ["relay", "ephemeral"];
const DEFAULTS = { mode: "relay", show_transcript: true };

// OpenAI has no trickle ICE: the offer must carry its candidates. Gathering without STUN
// servers finishes in milliseconds; the bound only matters on odd networks.
const ICE_GATHERING_TIMEOUT_MS = 3000;
// The satellite entity echoes the same server events a little later than the data channel;
// while the data channel spoke recently, it wins.
const DATA_CHANNEL_PRIORITY_MS = 1500;
// HA moves cards between columns (masonry re-layout, edit mode): only a lasting disconnect
// from the page means the card is gone.
const DETACH_GRACE_MS = 1000;
const MAX_TRANSCRIPT_LINES = 50;

const TEXT = {
  idle: "Ready",
  hint: "Tap to talk",
  connecting: "Connecting…",
  listening: "Listening",
  thinking: "Thinking…",
  speaking: "Speaking",
  error: "Error",
  start: "Start voice session",
  stop: "End voice session",
  retry: "Retry",
  you: "You",
  assistant: "Assistant",
  transcript: "Transcript",
  insecure:
    "Insecure origin: use https or localhost to reach Home Assistant, " +
    "browsers only give the microphone to secure pages.",
  noWebrtc: "This browser does not support WebRTC.",
  micDenied:
    "Microphone access was denied. Allow the microphone for this site in the browser, then retry.",
  noMic: "No microphone was found.",
  micBusy: "The microphone is in use by another application.",
  haLost: "The connection to Home Assistant was lost, so the session ended.",
  ended: "The session ended.",
  endedByHa: "Home Assistant ended the session.",
  mediaFailed: "The audio connection to OpenAI failed.",
  noCallId: "OpenAI's answer has no call id, so Home Assistant cannot attach to the call.",
  missing: "Entity not found",
  unknown: "Unknown error",
};

// --- helpers -------------------------------------------------------------------------------

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

/** RMS level (0..1) of what an analyser hears right now. */
function rms(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (let i = 0; i < buffer.length; i++) sum += buffer[i] * buffer[i];
  return Math.sqrt(sum / buffer.length);
}

/** Raised inside a start-up that the user (or the page) cancelled meanwhile. */
class Cancelled extends Error {}

/** An error whose message is meant for the user as is. */
class UserError extends Error {}

const ICONS = {
  mic:
    "M12,2A3,3 0 0,1 15,5V11A3,3 0 0,1 12,14A3,3 0 0,1 9,11V5A3,3 0 0,1 12,2M19,11C19,14.53 " +
    "16.39,17.44 13,17.93V21H11V17.93C7.61,17.44 5,14.53 5,11H7A5,5 0 0,0 12,16" +
    "A5,5 0 0,0 17,11H19Z",
  stop: "M18,18H6V6H18V18Z",
  alert:
    "M13,13H11V7H13M13,17H11V15H13M12,2A10,10 0 0,0 2,12A10,10 0 0,0 12,22A10,10 0 0,0 22,12" +
    "A10,10 0 0,0 12,2Z",
};

const STYLE = `
  :host {
    display: block;
  }
  ha-card {
    height: 100%;
    box-sizing: border-box;
    padding: 16px;
    display: flex;
    flex-direction: column;
    gap: 12px;
    color: var(--primary-text-color);
    background: var(--ha-card-background, var(--card-background-color, #fff));
  }
  .header {
    display: flex;
    align-items: baseline;
    justify-content: space-between;
    gap: 8px;
    min-width: 0;
  }
  .name {
    font-size: 1.1rem;
    font-weight: 500;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .status {
    color: var(--secondary-text-color);
    font-size: 0.9rem;
    white-space: nowrap;
  }
  :host([data-state="error"]) .status {
    color: var(--error-color, #db4437);
  }

  /* The button, its level halo (mic, or the model while it speaks) and a busy spinner. */
  .stage {
    display: flex;
    justify-content: center;
    padding: 8px 0 4px;
  }
  .talk-wrap {
    position: relative;
    width: 96px;
    height: 96px;
    flex: none;
  }
  .halo {
    position: absolute;
    inset: 0;
    border-radius: 50%;
    background: var(--primary-color, #03a9f4);
    opacity: 0;
    pointer-events: none;
    transition: transform 80ms linear, opacity 200ms;
  }
  :host([data-live]) .halo {
    opacity: 0.3;
    transform: scale(calc(1 + var(--level, 0) * 0.35));
  }
  :host([data-state="speaking"]) .halo {
    background: var(--accent-color, var(--primary-color, #03a9f4));
  }
  .talk {
    position: relative;
    width: 96px;
    height: 96px;
    padding: 0;
    border: none;
    border-radius: 50%;
    cursor: pointer;
    display: flex;
    align-items: center;
    justify-content: center;
    background: var(--primary-color, #03a9f4);
    color: var(--text-primary-color, #fff);
    box-shadow: 0 2px 6px rgba(0, 0, 0, 0.25);
    transition: background 200ms, transform 100ms;
  }
  .talk:active {
    transform: scale(0.96);
  }
  .talk:focus-visible {
    outline: 3px solid var(--primary-text-color);
    outline-offset: 4px;
  }
  .talk:disabled {
    cursor: default;
    opacity: 0.5;
  }
  :host([data-live]) .talk,
  :host([data-state="connecting"]) .talk {
    background: var(--error-color, #db4437);
  }
  .talk svg {
    width: 44px;
    height: 44px;
    fill: currentColor;
  }
  .spinner {
    position: absolute;
    inset: -7px;
    border-radius: 50%;
    border: 3px solid transparent;
    border-top-color: var(--primary-color, #03a9f4);
    display: none;
    animation: spin 900ms linear infinite;
  }
  :host([data-state="connecting"]) .spinner,
  :host([data-state="thinking"]) .spinner {
    display: block;
  }
  @keyframes spin {
    to {
      transform: rotate(360deg);
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .spinner {
      animation-duration: 3s;
    }
    .halo,
    .meter > span {
      transition: none;
    }
  }

  /* One slot under the button: the hint when idle, the meters when live, or the error. */
  .below {
    display: grid;
    min-height: 36px;
    align-items: center;
  }
  .below > * {
    grid-area: 1 / 1;
  }
  .hint {
    text-align: center;
    color: var(--secondary-text-color);
    font-size: 0.9rem;
  }
  :host([data-live]) .hint,
  :host([data-state="connecting"]) .hint,
  :host([data-state="error"]) .hint {
    visibility: hidden;
  }
  .meters {
    display: flex;
    flex-wrap: wrap;
    justify-content: center;
    align-items: center;
    gap: 8px 16px;
    font-size: 0.8rem;
    color: var(--secondary-text-color);
    visibility: hidden;
  }
  :host([data-live]) .meters {
    visibility: visible;
  }
  .level {
    display: flex;
    align-items: center;
    gap: 6px;
  }
  .meter {
    width: 72px;
    height: 6px;
    border-radius: 3px;
    overflow: hidden;
    background: var(--divider-color, rgba(0, 0, 0, 0.12));
  }
  .meter > span {
    display: block;
    height: 100%;
    background: var(--primary-color, #03a9f4);
    transform-origin: left;
    transform: scaleX(var(--level, 0));
    transition: transform 80ms linear;
  }
  .error {
    display: none;
    align-items: center;
    gap: 8px;
    color: var(--error-color, #db4437);
    font-size: 0.9rem;
  }
  :host([data-state="error"]) .error {
    display: flex;
  }
  .error svg {
    width: 20px;
    height: 20px;
    flex: none;
    fill: currentColor;
  }
  .error .message {
    flex: 1;
    min-width: 0;
    overflow-wrap: anywhere;
  }
  .retry {
    flex: none;
    padding: 6px 14px;
    border: 1px solid var(--error-color, #db4437);
    border-radius: 18px;
    background: transparent;
    color: var(--error-color, #db4437);
    font: inherit;
    font-weight: 500;
    cursor: pointer;
  }
  .retry:focus-visible {
    outline: 2px solid var(--primary-text-color);
    outline-offset: 2px;
  }

  /* The transcript: the user's lines on the right, the assistant's on the left. */
  .transcript {
    display: flex;
    flex-direction: column;
    gap: 6px;
    max-height: 220px;
    overflow-y: auto;
    font-size: 0.95rem;
    line-height: 1.35;
  }
  .transcript:empty {
    display: none;
  }
  .line {
    margin: 0;
    padding: 6px 10px;
    border-radius: 12px;
    max-width: 85%;
    overflow-wrap: anywhere;
  }
  .line[hidden] {
    display: none;
  }
  .line.user {
    align-self: flex-end;
    background: var(--primary-color, #03a9f4);
    color: var(--text-primary-color, #fff);
  }
  .line.assistant {
    align-self: flex-start;
    background: var(--secondary-background-color, #e5e5e5);
  }
  .line.notice {
    align-self: center;
    background: none;
    color: var(--secondary-text-color);
    font-size: 0.8rem;
  }
  .line.pending {
    opacity: 0.7;
  }
  /* "You:" / "Assistant:" for screen readers; the layout says it visually. */
  .who {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
  }
`;

// --- the card ------------------------------------------------------------------------------

class OpenAIRealtimeVoiceCard extends HTMLElement {
  static getConfigElement() {
    return document.createElement(EDITOR);
  }

  /** The first satellite of this integration, so the card works as soon as it is added. */
  static getStubConfig(hass) {
    const entity = Object.keys(hass?.states ?? {}).find(
      (id) => id.startsWith("assist_satellite.") && hass.entities?.[id]?.platform === DOMAIN,
    );
    return { entity: entity ?? "", ...DEFAULTS };
  }

  constructor() {
    super();
    this._config = undefined;
    this._hass = undefined;
    this._session = undefined; // the live (or starting) session, see _start
    this._state = "idle";
    this._lines = []; // transcript: {role, itemId, text, final, el}
    this._entityState = undefined;
    this._lastChannelEvent = 0;
    this._detachTimer = undefined;
    this._connection = undefined;
    this._onHaDisconnected = () => this._session && this._stop({ error: TEXT.haLost });
    this._onPageHide = () => this._stop();
    this._build();
  }

  setConfig(config) {
    if (!config || typeof config !== "object") throw new Error("Invalid configuration");
    if (!config.entity || typeof config.entity !== "string") {
      throw new Error(
        "Set `entity` to a voice satellite of the OpenAI API integration (assist_satellite.…)",
      );
    }
    if (!config.entity.startsWith("assist_satellite.")) {
      throw new Error(`\`entity\` must be an assist_satellite entity, got ${config.entity}`);
    }
    if (config.mode !== undefined && !MODES.includes(config.mode)) {
      throw new Error(`\`mode\` must be one of ${MODES.join(", ")}, got ${config.mode}`);
    }
    if (config.show_transcript !== undefined && typeof config.show_transcript !== "boolean") {
      throw new Error("`show_transcript` must be true or false");
    }
    const previous = this._config;
    this._config = { ...DEFAULTS, ...config };
    // A session belongs to one profile and one mode: a new configuration ends it.
    if (previous && (previous.entity !== config.entity || previous.mode !== this._config.mode)) {
      this._stop();
    }
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    if (hass?.connection !== this._connection) {
      this._connection?.removeEventListener("disconnected", this._onHaDisconnected);
      this._connection = hass?.connection;
      this._connection?.addEventListener("disconnected", this._onHaDisconnected);
    }
    this._followEntity();
    this._render();
  }

  get hass() {
    return this._hass;
  }

  getCardSize() {
    return this._config?.show_transcript === false ? 3 : 5;
  }

  getGridOptions() {
    const rows = this._config?.show_transcript === false ? 3 : 5;
    return { columns: 6, rows, min_columns: 3, min_rows: 3 };
  }

  connectedCallback() {
    clearTimeout(this._detachTimer);
    // Attributes only once attached: a constructor may not add any (createElement rules).
    if (!this.hasAttribute("data-state")) this.setAttribute("data-state", this._state);
    window.addEventListener("pagehide", this._onPageHide);
    if (this._hass && !this._connection) this.hass = this._hass;
  }

  disconnectedCallback() {
    window.removeEventListener("pagehide", this._onPageHide);
    clearTimeout(this._detachTimer);
    this._detachTimer = setTimeout(() => {
      if (this.isConnected) return;
      this._stop();
      this._connection?.removeEventListener("disconnected", this._onHaDisconnected);
      this._connection = undefined;
    }, DETACH_GRACE_MS);
  }

  /** Bytes of audio received and sent: for diagnostics (and the end-to-end tests). */
  async rtcStats() {
    const pc = this._session?.pc;
    if (!pc) return null;
    const stats = { inbound_bytes: 0, outbound_bytes: 0, connection_state: pc.connectionState };
    (await pc.getStats()).forEach((report) => {
      if (report.kind !== "audio") return;
      if (report.type === "inbound-rtp") stats.inbound_bytes += report.bytesReceived ?? 0;
      if (report.type === "outbound-rtp") stats.outbound_bytes += report.bytesSent ?? 0;
    });
    return stats;
  }

  // --- DOM: built once, then updated in place (transcripts are text, never HTML) ----------

  _build() {
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `
      <style>${STYLE}</style>
      <ha-card>
        <div class="header">
          <div class="name"></div>
          <div class="status" role="status" aria-live="polite"></div>
        </div>
        <div class="stage">
          <div class="talk-wrap">
            <div class="halo"></div>
            <div class="spinner"></div>
            <button class="talk" type="button" aria-pressed="false">
              <svg viewBox="0 0 24 24" aria-hidden="true"><path d="${ICONS.mic}"></path></svg>
            </button>
          </div>
        </div>
        <div class="below">
          <div class="hint"></div>
          <div class="meters" aria-hidden="true">
            <span class="level">
              ${TEXT.you}<span class="meter mic"><span></span></span>
            </span>
            <span class="level">
              ${TEXT.assistant}<span class="meter remote"><span></span></span>
            </span>
          </div>
          <div class="error" role="alert">
            <svg viewBox="0 0 24 24" aria-hidden="true"><path d="${ICONS.alert}"></path></svg>
            <span class="message"></span>
            <button class="retry" type="button">${TEXT.retry}</button>
          </div>
        </div>
        <div class="transcript" role="log" aria-live="polite" aria-label="${TEXT.transcript}"></div>
      </ha-card>`;
    const $ = (selector) => root.querySelector(selector);
    this._els = {
      name: $(".name"),
      status: $(".status"),
      talk: $(".talk"),
      icon: $(".talk path"),
      halo: $(".halo"),
      micMeter: $(".meter.mic"),
      remoteMeter: $(".meter.remote"),
      hint: $(".hint"),
      errorMessage: $(".error .message"),
      retry: $(".retry"),
      transcript: $(".transcript"),
    };
    // A native <button> gives Enter and Space for free.
    this._els.talk.addEventListener("click", () => this._toggle());
    this._els.retry.addEventListener("click", () => this._start());
  }

  _render() {
    if (!this._els || !this._config) return;
    const stateObj = this._hass?.states?.[this._config.entity];
    const name =
      this._config.name ?? stateObj?.attributes?.friendly_name ?? this._config.entity;
    this._els.name.textContent = name;
    const live = this._session !== undefined;
    this._els.talk.disabled = !live && this._hass !== undefined && !stateObj;
    this._els.talk.setAttribute("aria-pressed", String(live));
    this._els.talk.setAttribute("aria-label", `${live ? TEXT.stop : TEXT.start}: ${name}`);
    this._els.icon.setAttribute("d", live ? ICONS.stop : ICONS.mic);
    this._els.hint.textContent =
      stateObj || !this._hass ? TEXT.hint : `${TEXT.missing}: ${this._config.entity}`;
    this._els.status.textContent =
      this._state === "idle" && this._notice ? this._notice : TEXT[this._state];
    this._els.transcript.hidden = !this._config.show_transcript;
    this.toggleAttribute("data-live", live && this._state !== "connecting");
  }

  _setState(state) {
    if (state === this._state) return;
    this._state = state;
    this.setAttribute("data-state", state);
    this._render();
  }

  // --- session lifecycle ------------------------------------------------------------------

  _toggle() {
    if (this._session) this._stop();
    else this._start();
  }

  async _start() {
    if (this._session || !this._config || !this._hass) return;
    this._notice = undefined;
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      this._fail(TEXT.insecure);
      return;
    }
    if (typeof RTCPeerConnection === "undefined") {
      this._fail(TEXT.noWebrtc);
      return;
    }
    const session = {
      entity: this._config.entity,
      mode: this._config.mode,
      connection: this._hass.connection,
      ended: false,
      // Created inside the tap so the browser lets it run (autoplay policy).
      audioContext: window.AudioContext ? new AudioContext() : undefined,
    };
    session.audioContext?.resume().catch(() => {});
    this._session = session;
    this._clearTranscript();
    this._setState("connecting");
    try {
      await this._connect(session);
      this._lastChannelEvent = 0;
      this._setState("listening");
    } catch (err) {
      const cancelled = err instanceof Cancelled || session.ended;
      // When cancelled, _stop cleaned up already, but the microphone or the call may have
      // arrived since: teardown is idempotent.
      this._teardown(session);
      if (cancelled) return;
      this._session = undefined;
      const message = await this._describe(err);
      if (!this._session) this._fail(message); // unless a new session started meanwhile
    }
  }

  /** Microphone, peer connection, offer, answer: everything up to a live call. */
  async _connect(session) {
    const check = () => {
      if (session.ended) throw new Cancelled();
    };
    try {
      session.stream = await navigator.mediaDevices.getUserMedia({
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
    const pc = new RTCPeerConnection();
    session.pc = pc;
    session.audio = new Audio(); // never in the DOM: moving the card must not pause it
    session.audio.autoplay = true;
    pc.ontrack = (event) => {
      const [stream] = event.streams;
      session.audio.srcObject = stream ?? new MediaStream([event.track]);
      session.audio.play().catch(() => {});
      session.remoteAnalyser = this._analyser(session, session.audio.srcObject);
    };
    pc.onconnectionstatechange = () => {
      if (this._session === session && pc.connectionState === "failed") {
        this._stop({ error: TEXT.mediaFailed });
      }
    };
    const [track] = session.stream.getAudioTracks();
    pc.addTrack(track, session.stream);
    session.micAnalyser = this._analyser(session, session.stream);
    this._startMeters(session);

    const dc = pc.createDataChannel("oai-events");
    session.dc = dc;
    dc.onmessage = (event) => this._onChannelMessage(session, event.data);
    dc.onclose = () => {
      if (this._session === session && this._state !== "connecting") {
        this._stop({ notice: TEXT.ended });
      }
    };

    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc, ICE_GATHERING_TIMEOUT_MS);
    check();
    const offer = pc.localDescription.sdp;
    const answer =
      session.mode === "ephemeral"
        ? await this._offerDirect(session, offer)
        : await this._offerThroughHa(session, offer);
    check();
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    check();
  }

  async _offerThroughHa(session, sdp) {
    const result = await session.connection.sendMessagePromise({
      type: "openai_api/realtime/connect",
      entity_id: session.entity,
      sdp,
    });
    session.callId = result.call_id; // set before any check, so a cancelled start hangs up
    return result.sdp;
  }

  /** Ephemeral mode: a short-lived secret from HA, the offer straight to OpenAI, then attach. */
  async _offerDirect(session, sdp) {
    const secret = await session.connection.sendMessagePromise({
      type: "openai_api/realtime/ephemeral",
      entity_id: session.entity,
    });
    if (session.ended) throw new Cancelled();
    let response;
    try {
      response = await fetch(secret.calls_url, {
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
    if (session.ended) throw new Cancelled();
    const attached = await session.connection.sendMessagePromise({
      type: "openai_api/realtime/attach",
      entity_id: session.entity,
      call_id: callId,
    });
    session.callId = attached.call_id;
    return answer;
  }

  /** End the session (idempotent); with `error` the card shows it, with `notice` a status. */
  _stop({ error, notice } = {}) {
    const session = this._session;
    if (session) {
      this._session = undefined;
      this._teardown(session);
    }
    this._notice = notice;
    if (error) this._fail(error);
    else if (session || this._state === "error") this._setState("idle");
    this._render();
  }

  /** Release everything a session holds; safe on a half-built or already ended session. */
  _teardown(session) {
    session.ended = true;
    cancelAnimationFrame(session.frame);
    if (session.callId && !session.hungUp) {
      session.hungUp = true;
      // Best effort: if HA's websocket is gone, HA has hung up already.
      session.connection
        ?.sendMessagePromise({ type: "openai_api/realtime/hangup", call_id: session.callId })
        .catch(() => {});
    }
    session.dc?.close();
    session.pc?.close();
    session.stream?.getTracks().forEach((track) => track.stop());
    if (session.audio) session.audio.srcObject = null;
    session.audioContext?.close().catch(() => {});
    this._showLevels(0, 0);
  }

  _fail(message) {
    this._els.errorMessage.textContent = message;
    this._setState("error");
    this._render();
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

  _onChannelMessage(session, data) {
    if (this._session !== session) return;
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    const phase = {
      "input_audio_buffer.speech_started": "listening",
      "input_audio_buffer.speech_stopped": "thinking",
      "response.created": "thinking",
      "output_audio_buffer.started": "speaking",
      "output_audio_buffer.stopped": "listening",
      "output_audio_buffer.cleared": "listening",
    }[event.type];
    if (phase && this._state !== "connecting") {
      // A response that starts while the model is still speaking does not make it "think".
      if (!(event.type === "response.created" && this._state === "speaking")) {
        this._lastChannelEvent = Date.now();
        this._setState(phase);
      }
    }
    switch (event.type) {
      case "input_audio_buffer.speech_started":
      case "input_audio_buffer.committed":
        // Reserve the user's line now: transcription finishes after the answer has started.
        this._line("user", event.item_id);
        break;
      case "conversation.item.input_audio_transcription.delta":
        this._line("user", event.item_id, event.delta, false);
        break;
      case "conversation.item.input_audio_transcription.completed":
        this._line("user", event.item_id, event.transcript, true);
        break;
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta":
        this._line("assistant", event.item_id, event.delta, false);
        break;
      case "response.output_audio_transcript.done":
        this._line("assistant", event.item_id, event.transcript, true);
        break;
      case "response.output_text.done":
        this._line("assistant", event.item_id, event.text, true);
        break;
      case "error":
        // Non-fatal API errors (a bad event, a failed tool) do not end the call: show them.
        this._line("notice", undefined, event.error?.message ?? TEXT.unknown, true);
        break;
      default:
        break;
    }
  }

  /** Follow the satellite entity: its state, and whether HA still holds our call. */
  _followEntity() {
    const stateObj = this._hass?.states?.[this._config?.entity];
    const session = this._session;
    if (!stateObj || !session) {
      this._entityState = stateObj?.state;
      return;
    }
    const callIds = stateObj.attributes?.call_ids ?? [];
    if (session.callId && callIds.includes(session.callId)) session.seenInEntity = true;
    else if (session.seenInEntity && this._state !== "connecting") {
      this._stop({ notice: TEXT.endedByHa });
      return;
    }
    if (stateObj.state === this._entityState) return;
    this._entityState = stateObj.state;
    const phase = {
      idle: "listening", // a live call with nothing going on is listening
      listening: "listening",
      processing: "thinking",
      responding: "speaking",
    }[stateObj.state];
    if (!phase || this._state === "connecting" || this._state === "error") return;
    if (Date.now() - this._lastChannelEvent < DATA_CHANNEL_PRIORITY_MS) return;
    this._setState(phase);
  }

  // --- transcript -------------------------------------------------------------------------

  _clearTranscript() {
    this._lines = [];
    this._els.transcript.replaceChildren();
  }

  /** Add to or replace a line; deltas append, a final text replaces. */
  _line(role, itemId, text = "", final = false) {
    let line = itemId ? this._lines.find((l) => l.itemId === itemId && l.role === role) : undefined;
    if (!line) {
      const el = document.createElement("p");
      el.className = `line ${role}`;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = { user: `${TEXT.you}: `, assistant: `${TEXT.assistant}: ` }[role] ?? "";
      const body = document.createElement("span");
      body.className = "text";
      el.append(who, body);
      el.hidden = true; // until it has text
      line = { role, itemId, text: "", final: false, el, body };
      this._lines.push(line);
      this._els.transcript.append(el);
      while (this._lines.length > MAX_TRANSCRIPT_LINES) this._lines.shift().el.remove();
    }
    if (typeof text !== "string" || (!text && !final)) return;
    if (final) line.text = text;
    else if (!line.final) line.text += text;
    line.final = line.final || final;
    line.body.textContent = line.text;
    line.el.hidden = !line.text;
    line.el.classList.toggle("pending", !line.final);
    line.el.dataset.final = String(line.final);
    const box = this._els.transcript;
    box.scrollTop = box.scrollHeight;
  }

  // --- levels -------------------------------------------------------------------------------

  _analyser(session, stream) {
    if (!session.audioContext) return undefined;
    try {
      const analyser = session.audioContext.createAnalyser();
      analyser.fftSize = 1024;
      session.audioContext.createMediaStreamSource(stream).connect(analyser);
      return { analyser, buffer: new Float32Array(analyser.fftSize) };
    } catch {
      return undefined; // the meter is a nicety, never a reason to fail a call
    }
  }

  _startMeters(session) {
    let last = 0;
    const tick = (now) => {
      if (session.ended) return;
      session.frame = requestAnimationFrame(tick);
      if (now - last < 66) return; // ~15 updates a second are plenty for a meter
      last = now;
      const level = (meter) => (meter ? rms(meter.analyser, meter.buffer) : 0);
      this._showLevels(level(session.micAnalyser), level(session.remoteAnalyser));
    };
    session.frame = requestAnimationFrame(tick);
  }

  _showLevels(mic, remote) {
    // Speech RMS is rarely above 0.25: scale so normal speech fills the meter.
    const scale = (level) => Math.min(1, level * 4).toFixed(3);
    this._els.micMeter.style.setProperty("--level", scale(mic));
    this._els.remoteMeter.style.setProperty("--level", scale(remote));
    this._els.halo.style.setProperty("--level", scale(this._state === "speaking" ? remote : mic));
    this.dataset.micLevel = mic.toFixed(3);
    this.dataset.remoteLevel = remote.toFixed(3);
  }
}

// --- the visual editor ----------------------------------------------------------------------

const SCHEMA = [
  {
    name: "entity",
    required: true,
    selector: { entity: { filter: { domain: "assist_satellite", integration: DOMAIN } } },
  },
  { name: "name", selector: { text: {} } },
  {
    name: "mode",
    selector: {
      select: {
        mode: "dropdown",
        options: [
          { value: "relay", label: "Relay through Home Assistant" },
          { value: "ephemeral", label: "Direct to OpenAI with a short-lived key" },
        ],
      },
    },
  },
  { name: "show_transcript", selector: { boolean: {} } },
];

const LABELS = {
  entity: "Voice satellite",
  name: "Name",
  mode: "Connection",
  show_transcript: "Show transcript",
};

const HELPERS = {
  mode:
    "Relay sends the call through Home Assistant (works wherever HA does). " +
    "Direct lets the browser reach OpenAI itself with a 60-second key.",
};

class OpenAIRealtimeVoiceCardEditor extends HTMLElement {
  setConfig(config) {
    this._config = config;
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  _render() {
    if (!this._config) return;
    if (!this._form) {
      // ha-form is HA's own form element; it is loaded whenever the card editor is open.
      this._form = document.createElement("ha-form");
      this._form.schema = SCHEMA;
      this._form.computeLabel = (schema) => LABELS[schema.name] ?? schema.name;
      this._form.computeHelper = (schema) => HELPERS[schema.name];
      this._form.addEventListener("value-changed", (event) => {
        event.stopPropagation();
        const config = { ...this._config, ...event.detail.value };
        if (!config.name) delete config.name;
        this._config = config;
        this.dispatchEvent(
          new CustomEvent("config-changed", { detail: { config }, bubbles: true, composed: true }),
        );
      });
      this.appendChild(this._form);
    }
    this._form.hass = this._hass;
    this._form.data = { ...DEFAULTS, ...this._config };
  }
}

// HA imports this module in parallel with its own app, and the app replaces
// window.customElements with a scoped-registry polyfill when it loads: an element defined
// before that is invisible to HA ("Custom element doesn't exist"). So define once the app has
// defined its root element (the polyfill also defines it natively, so the native registry's
// whenDefined sees it), or after a while on a page that is not HA's app.
const nativeRegistry = window.customElements;
Promise.race([
  nativeRegistry.whenDefined("home-assistant"),
  new Promise((resolve) => setTimeout(resolve, 10000)),
]).then(() => {
  const registry = window.customElements;
  if (!registry.get(CARD)) registry.define(CARD, OpenAIRealtimeVoiceCard);
  if (!registry.get(EDITOR)) registry.define(EDITOR, OpenAIRealtimeVoiceCardEditor);
});

window.customCards = window.customCards || [];
if (!window.customCards.some((card) => card.type === CARD)) {
  window.customCards.push({
    type: CARD,
    name: "OpenAI Realtime voice",
    description: "Talk to an OpenAI Realtime voice profile: one tap starts a session.",
    preview: true,
    documentationURL: "https://github.com/openai-api-ha/openai_api#voice-card",
  });
}
