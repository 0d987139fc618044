/**
 * The voice card: a button that starts and ends a voice session, its status, the level meters
 * and the transcript. The card is the view and the page's side of a call (the tap, the page
 * going away, the card leaving the view); the session (session.js) does the call itself.
 */

import { CallAudio } from "./audio.js";
import { CARD_TYPE, DEFAULTS, EDITOR, MODES, TEXT, isVoiceSatellite } from "./const.js";
import { VoiceSession } from "./session.js";
import { cardStyles } from "./styles.js";
import { TranscriptView } from "./transcript.js";

// HA moves cards between columns (masonry re-layout, edit mode): only a lasting disconnect
// from the page means the card is gone.
const DETACH_GRACE_MS = 1000;

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

const TEMPLATE = `
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
        <span class="level">${TEXT.you}<span class="meter mic"><span></span></span></span>
        <span class="level">${TEXT.assistant}<span class="meter remote"><span></span></span></span>
      </div>
      <div class="error" role="alert">
        <div class="what">
          <svg viewBox="0 0 24 24" aria-hidden="true"><path d="${ICONS.alert}"></path></svg>
          <span class="message"></span>
        </div>
        <button class="retry" type="button">${TEXT.retry}</button>
      </div>
    </div>
    <div class="transcript" role="log" aria-live="polite" aria-label="${TEXT.transcript}"></div>
  </ha-card>`;

/** Check a card configuration; throws the message HA shows in place of the card. */
function validate(config) {
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
}

export class OpenAIRealtimeVoiceCard extends HTMLElement {
  static getConfigElement() {
    return document.createElement(EDITOR);
  }

  /** The first satellite of this integration, so the card works as soon as it is added. */
  static getStubConfig(hass) {
    const entity = Object.keys(hass?.states ?? {}).find((id) => isVoiceSatellite(hass, id));
    return { entity: entity ?? "", ...DEFAULTS };
  }

  /**
   * The card picker's "By entity" tab (HA 2026.10's generateCardSuggestions asks every
   * window.customCards entry): this card for this integration's satellites.
   */
  static getEntitySuggestion(hass, entityId) {
    return isVoiceSatellite(hass, entityId)
      ? { config: { type: CARD_TYPE, entity: entityId } }
      : null;
  }

  constructor() {
    super();
    this._config = undefined;
    this._hass = undefined;
    this._session = undefined; // one per satellite and mode, see setConfig
    this._detachTimer = undefined;
    this._onSessionChange = () => this._render();
    this._onCallStart = () => this._transcript.clear();
    this._onServerEvent = (event) => this._transcript.apply(event.detail);
    this._onPageHide = () => this._session?.stop();
    this._build();
  }

  setConfig(config) {
    validate(config);
    this._config = { ...DEFAULTS, ...config };
    // A session belongs to one profile and one mode: a new configuration ends it.
    const session = this._session;
    if (session?.entity !== this._config.entity || session?.mode !== this._config.mode) {
      this._replaceSession(new VoiceSession(this._config));
    }
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    if (this._session) this._session.hass = hass;
    this._render();
  }

  get hass() {
    return this._hass;
  }

  getCardSize() {
    return this._config?.show_transcript === false ? 3 : 5;
  }

  /**
   * Sections view: the whole width of a section (12 columns) by default, at least half of it,
   * and as tall as its content (the transcript grows, up to its own scroll height).
   */
  getGridOptions() {
    return { columns: 12, rows: "auto", min_columns: 6, min_rows: 4 };
  }

  connectedCallback() {
    clearTimeout(this._detachTimer);
    // Attributes only once attached: a constructor may not add any (createElement rules).
    if (!this.hasAttribute("data-state")) this.setAttribute("data-state", this._state());
    window.addEventListener("pagehide", this._onPageHide);
    // Back after a lasting detach: follow HA's connection again.
    if (this._session && this._hass && !this._session.hass) this._session.hass = this._hass;
  }

  disconnectedCallback() {
    window.removeEventListener("pagehide", this._onPageHide);
    clearTimeout(this._detachTimer);
    this._detachTimer = setTimeout(() => {
      if (this.isConnected || !this._session) return;
      this._session.stop();
      this._session.hass = undefined; // stop listening to HA's connection
    }, DETACH_GRACE_MS);
  }

  /** Bytes of audio received and sent: for diagnostics (and the end-to-end tests). */
  async rtcStats() {
    return (await this._session?.rtcStats()) ?? null;
  }

  // --- the session ------------------------------------------------------------------------

  _replaceSession(session) {
    const previous = this._session;
    if (previous) {
      previous.removeEventListener("change", this._onSessionChange);
      previous.removeEventListener("callstart", this._onCallStart);
      previous.removeEventListener("serverevent", this._onServerEvent);
      previous.dispose();
    }
    this._session = session;
    session.addEventListener("change", this._onSessionChange);
    session.addEventListener("callstart", this._onCallStart);
    session.addEventListener("serverevent", this._onServerEvent);
    if (this._hass) session.hass = this._hass;
  }

  _start() {
    this._session?.start(() => this._media());
  }

  _toggle() {
    this._session?.toggle(() => this._media());
  }

  /** The page's side of the call's audio: playback and the meters. */
  _media() {
    return new CallAudio((mic, remote) => this._showLevels(mic, remote));
  }

  _state() {
    return this._session?.state ?? "idle";
  }

  // --- DOM: built once, then updated in place (transcripts are text, never HTML) ----------

  _build() {
    const root = this.attachShadow({ mode: "open" });
    root.adoptedStyleSheets = [cardStyles()];
    root.innerHTML = TEMPLATE;
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
    this._transcript = new TranscriptView(this._els.transcript);
    // A native <button> gives Enter and Space for free.
    this._els.talk.addEventListener("click", () => this._toggle());
    this._els.retry.addEventListener("click", () => this._start());
  }

  _render() {
    if (!this._els || !this._config) return;
    const session = this._session;
    const state = this._state();
    const stateObj = this._hass?.states?.[this._config.entity];
    const name =
      this._config.name ?? stateObj?.attributes?.friendly_name ?? this._config.entity;
    this._els.name.textContent = name;
    const live = session?.live ?? false;
    this._els.talk.disabled = !live && this._hass !== undefined && !stateObj;
    this._els.talk.setAttribute("aria-pressed", String(live));
    this._els.talk.setAttribute("aria-label", `${live ? TEXT.stop : TEXT.start}: ${name}`);
    this._els.icon.setAttribute("d", live ? ICONS.stop : ICONS.mic);
    this._els.hint.textContent =
      stateObj || !this._hass ? TEXT.hint : `${TEXT.missing}: ${this._config.entity}`;
    this._els.status.textContent =
      state === "idle" && session?.notice ? session.notice : TEXT[state];
    if (state === "error") this._els.errorMessage.textContent = session.error ?? TEXT.unknown;
    this._els.transcript.hidden = !this._config.show_transcript;
    this.dataset.state = state;
    this.toggleAttribute("data-live", live && state !== "connecting");
  }

  _showLevels(mic, remote) {
    // Speech RMS is rarely above 0.25: scale so normal speech fills the meter.
    const scale = (level) => Math.min(1, level * 4).toFixed(3);
    this._els.micMeter.style.setProperty("--level", scale(mic));
    this._els.remoteMeter.style.setProperty("--level", scale(remote));
    const voice = this._state() === "speaking" ? remote : mic;
    this._els.halo.style.setProperty("--level", scale(voice));
    this.dataset.micLevel = mic.toFixed(3);
    this.dataset.remoteLevel = remote.toFixed(3);
  }
}
