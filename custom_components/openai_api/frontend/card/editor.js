/**
 * The card's visual editor: HA's own form (ha-form) with the satellite (only this
 * integration's are offered), the name, the connection mode and the transcript switch.
 */

import { DEFAULTS, DOMAIN } from "./const.js";

export const SCHEMA = [
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
    "Direct lets the browser reach OpenAI itself with a 30-second key.",
};

export class OpenAIRealtimeVoiceCardEditor extends HTMLElement {
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
