/**
 * The card's styles: one constructed style sheet, shared by every card on the page.
 *
 * Layout: the card fills the width it gets (a full section row by default) and stays usable
 * down to about 150 px (half a section on a phone). Text wraps between words, never inside
 * one; only a single word longer than the line (an entity id, a host name) may break.
 * Colours come from the theme (--primary-color, --card-background-color, --error-color, ...).
 */

export const CSS = `
  :host {
    display: block;
  }
  ha-card {
    height: 100%;
    min-width: 0;
    box-sizing: border-box;
    padding: 16px;
    display: flex;
    flex-direction: column;
    gap: 12px;
    color: var(--primary-text-color);
    background: var(--ha-card-background, var(--card-background-color, #fff));
  }
  .header,
  .stage,
  .below {
    flex: none;
  }
  .header {
    display: flex;
    align-items: baseline;
    justify-content: space-between;
    gap: 8px;
    min-width: 0;
  }
  .name {
    min-width: 0;
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
    overflow-wrap: break-word;
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
  /* The message beside its icon; Retry beside it, or under it on the right when narrow. */
  .error {
    display: none;
    flex-wrap: wrap;
    align-items: center;
    justify-content: flex-end;
    gap: 8px;
    color: var(--error-color, #db4437);
    font-size: 0.9rem;
  }
  :host([data-state="error"]) .error {
    display: flex;
  }
  .what {
    flex: 1 1 12em;
    min-width: 0;
    display: flex;
    align-items: center;
    gap: 8px;
  }
  .what svg {
    width: 20px;
    height: 20px;
    flex: none;
    fill: currentColor;
  }
  .error .message {
    min-width: 0;
    overflow-wrap: break-word;
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
    flex: 0 1 auto;
    min-height: 0;
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
    overflow-wrap: break-word;
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

let sheet;

/** The style sheet, built on first use. */
export function cardStyles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}
