"""The languages OpenAI's transcription and speech models support (their docs' list)."""

from __future__ import annotations

# https://platform.openai.com/docs/guides/speech-to-text#supported-languages; the same list for
# text to speech. The models also handle other languages, less well.
LANGUAGES = [
    "af-ZA", "ar-SA", "hy-AM", "az-AZ", "be-BY", "bs-BA", "bg-BG", "ca-ES", "zh-CN", "hr-HR",
    "cs-CZ", "da-DK", "nl-NL", "en-US", "et-EE", "fi-FI", "fr-FR", "gl-ES", "de-DE", "el-GR",
    "he-IL", "hi-IN", "hu-HU", "is-IS", "id-ID", "it-IT", "ja-JP", "kn-IN", "kk-KZ", "ko-KR",
    "lv-LV", "lt-LT", "mk-MK", "ms-MY", "mr-IN", "mi-NZ", "ne-NP", "no-NO", "fa-IR", "pl-PL",
    "pt-PT", "ro-RO", "ru-RU", "sr-RS", "sk-SK", "sl-SI", "es-ES", "sw-KE", "sv-SE", "fil-PH",
    "ta-IN", "th-TH", "tr-TR", "uk-UA", "ur-PK", "vi-VN", "cy-GB",
]  # fmt: skip


def iso_639_1(language: str | None) -> str | None:
    """Return the two-letter code the API takes (`en`) of an HA language tag (`en-US`)."""
    if not language:
        return None
    code = language.split("-", 1)[0].lower()
    return code if len(code) == 2 else None
