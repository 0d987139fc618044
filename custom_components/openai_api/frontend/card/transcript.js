/**
 * The transcript of a call: what the user and the assistant said, from the data channel's
 * events. `Transcript` is the model (no DOM); `TranscriptView` keeps a log element in step
 * with it, line by line (text only, never HTML).
 *
 * Order is the conversation's, not the order transcripts arrive in: the user's line is reserved
 * when their speech starts (its transcription finishes after the answer has begun), and the
 * assistant's line when its first delta arrives. Deltas append; a final text replaces them, and
 * deltas after it are ignored. Lines without text yet are kept but not shown.
 */

import { TEXT } from "./const.js";

export const MAX_TRANSCRIPT_LINES = 50;

export class Transcript {
  constructor(limit = MAX_TRANSCRIPT_LINES) {
    this.limit = limit;
    /** @type {{role: "user" | "assistant" | "notice", itemId?: string, text: string, final: boolean}[]} */
    this.lines = [];
  }

  clear() {
    this.lines = [];
  }

  /**
   * Apply one server event. Returns the line it touched and the lines the limit dropped, or
   * undefined when the event says nothing about the transcript.
   */
  apply(event) {
    switch (event?.type) {
      case "input_audio_buffer.speech_started":
      case "input_audio_buffer.committed":
        return this._line("user", event.item_id);
      case "conversation.item.input_audio_transcription.delta":
        return this._line("user", event.item_id, event.delta, false);
      case "conversation.item.input_audio_transcription.completed":
        return this._line("user", event.item_id, event.transcript, true);
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta":
        return this._line("assistant", event.item_id, event.delta, false);
      case "response.output_audio_transcript.done":
        return this._line("assistant", event.item_id, event.transcript, true);
      case "response.output_text.done":
        return this._line("assistant", event.item_id, event.text, true);
      case "error":
        // Non-fatal API errors (a bad event, a failed tool) do not end the call: show them.
        return this._line("notice", undefined, event.error?.message ?? TEXT.unknown, true);
      default:
        return undefined;
    }
  }

  /** Add to or replace a line; deltas append, a final text replaces. */
  _line(role, itemId, text = "", final = false) {
    const dropped = [];
    let line = itemId
      ? this.lines.find((l) => l.itemId === itemId && l.role === role)
      : undefined;
    if (!line) {
      line = { role, itemId, text: "", final: false };
      this.lines.push(line);
      while (this.lines.length > this.limit) dropped.push(this.lines.shift());
    }
    if (typeof text === "string" && (text || final)) {
      if (final) line.text = text;
      else if (!line.final) line.text += text;
      line.final = line.final || final;
    }
    return { line, dropped };
  }
}

export class TranscriptView {
  /** @param {HTMLElement} box the log element the lines go in */
  constructor(box, limit = MAX_TRANSCRIPT_LINES) {
    this.box = box;
    this.transcript = new Transcript(limit);
    this._elements = new Map(); // line -> its <p>
  }

  clear() {
    this.transcript.clear();
    this._elements.clear();
    this.box.replaceChildren();
  }

  apply(event) {
    const change = this.transcript.apply(event);
    if (!change) return;
    for (const line of change.dropped) {
      this._elements.get(line)?.remove();
      this._elements.delete(line);
    }
    this._render(change.line);
  }

  _render(line) {
    let el = this._elements.get(line);
    if (!el) {
      el = document.createElement("p");
      el.className = `line ${line.role}`;
      // "You:" / "Assistant:" for screen readers; the layout says it visually.
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = { user: `${TEXT.you}: `, assistant: `${TEXT.assistant}: ` }[line.role] ?? "";
      const body = document.createElement("span");
      body.className = "text";
      el.append(who, body);
      this._elements.set(line, el);
      this.box.append(el);
    }
    el.querySelector(".text").textContent = line.text;
    el.hidden = !line.text;
    el.classList.toggle("pending", !line.final);
    el.dataset.final = String(line.final);
    this.box.scrollTop = this.box.scrollHeight;
  }
}
