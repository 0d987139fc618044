"""A local OpenAI API for tests, benchmarks and development: the Realtime API and speech.

It follows the official OpenAPI texts (simulator/openapi.json, simulator/openapi-audio.json):
`GET /models`; `POST /realtime/client_secrets`, `/realtime/translations/client_secrets` and
the legacy `/realtime/sessions` and `/realtime/transcription_sessions`; `POST /realtime/calls`
with a real WebRTC answerer (aiortc); phone calls over SIP (`ring`: a pending call and its
signed `realtime.call.incoming` webhook) and call control (`accept`, `reject`, `refer`,
`hangup`); the WebSocket `/realtime` as a call's sideband (`?call_id=`), a conversation
(`?model=`) or a transcription session (`?intent=transcription`); and `POST /audio/speech`.
Faults are switchable and every request is recorded. Calls with media listen to the caller and
answer speech with a scripted, spoken turn; text conversations follow a script (chat.py);
transcription hears a phrase written into the audio in tones (hearing.py).

Modules, each importing only those below it:
    app          the server (RealtimeSimulator) and its aiohttp application
    routes       the API's endpoints; control: the simulator's own (/_simulator)
    middleware   recording, faults, errors and CORS around every API request
    state        keys, secrets, calls, sockets, recorded requests, planned faults, ringing
    calls        one call or WebSocket session: transports, client events, the caller's voice
    conversation the model's side: items, responses, scripted turns, stream faults
    chat         the text script: what the model answers to a user's message
    sessions     session objects and `session.update`; legacy: the beta endpoints' shapes
    contract     request bodies and events checked against the spec, worded as OpenAI words
    spec         the OpenAPI texts, read as the API enforces them
    tts          `/audio/speech`'s formats; hearing: audio to text; speech: the voice
    webhooks     signed webhook deliveries (Standard Webhooks)
    faults, errors, vad, webrtc
"""

from . import hearing, speech
from .app import RealtimeSimulator
from .calls import SimCall
from .conversation import VOICE_TURN, Turn
from .state import RecordedRequest

__all__ = [
    "VOICE_TURN",
    "RealtimeSimulator",
    "RecordedRequest",
    "SimCall",
    "Turn",
    "hearing",
    "speech",
]
