/**
 * openai-realtime-voice-card: talk to an OpenAI Realtime voice profile from a dashboard.
 *
 * The entry module. The openai_api integration serves this folder and adds this file to every
 * dashboard (no build step, no dependencies, no resource to add). The other modules come by
 * relative imports, so they share this file's versioned folder URL:
 *   const.js       names, defaults, English text
 *   session.js     the call: WebRTC, signalling over HA's websocket, data channel, states (no DOM)
 *   transcript.js  the transcript, from the data channel's events
 *   audio.js       playback of the model's voice and the level meters
 *   styles.js      the card's style sheet
 *   card.js        the card element
 *   editor.js      the visual editor
 */

import { OpenAIRealtimeVoiceCard } from "./card.js";
import { CARD, EDITOR } from "./const.js";
import { OpenAIRealtimeVoiceCardEditor } from "./editor.js";

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

// The card picker: "By card" lists this entry; "By entity" asks it for a suggestion.
window.customCards = window.customCards || [];
if (!window.customCards.some((card) => card.type === CARD)) {
  window.customCards.push({
    type: CARD,
    name: "OpenAI Realtime voice",
    description: "Talk to an OpenAI Realtime voice profile: one tap starts a session.",
    preview: true,
    documentationURL: "https://github.com/openai-api-ha/openai_api#voice-card",
    getEntitySuggestion: (hass, entityId) =>
      OpenAIRealtimeVoiceCard.getEntitySuggestion(hass, entityId),
  });
}
