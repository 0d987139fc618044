/** Names, defaults and the English text the voice card's modules share. */

export const DOMAIN = "openai_api";
export const CARD = "openai-realtime-voice-card";
export const EDITOR = `${CARD}-editor`;
export const CARD_TYPE = `custom:${CARD}`;
export const MODES = ["relay", "ephemeral"];
export const DEFAULTS = { mode: "relay", show_transcript: true };

export const TEXT = {
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

/** Whether `entityId` is a voice satellite of this integration (the card's only valid entity). */
export function isVoiceSatellite(hass, entityId) {
  return (
    typeof entityId === "string" &&
    entityId.startsWith("assist_satellite.") &&
    hass?.entities?.[entityId]?.platform === DOMAIN
  );
}
