"""The Assist pipeline stages of a voice profile, built on the Realtime API.

Each stage has its own connection, so none can answer for another: speech-to-text is a
transcription session (the user's words, never the model's reply), the conversation agent a
text session per conversation, and text-to-speech `POST /audio/speech` (the exact text, with no
second model response to pay for).
"""
