"""A local OpenAI Realtime API for tests, benchmarks and development.

It follows the official OpenAPI text (simulator/openapi.json): `GET /models`,
`POST /realtime/client_secrets`, `POST /realtime/calls` with a real WebRTC answerer (aiortc),
call control (`hangup`, `accept`, `reject`, `refer`) and the sideband WebSocket
`/realtime?call_id=…`, with switchable faults and a record of every request. Calls with media
listen to the caller and answer speech with a scripted, spoken turn.

Modules, each importing only those below it:
    app          the server (RealtimeSimulator) and its aiohttp application
    routes       the API's endpoints; control: the simulator's own (/_simulator)
    middleware   recording, faults, errors and CORS around every API request
    state        keys, secrets, calls, recorded requests, planned faults
    calls        one call: transports, client events, listening to the caller
    conversation the model's side: items, responses, scripted turns
    sessions     session objects and `session.update`
    contract     request bodies and events checked against the spec, worded as OpenAI words
    spec         the OpenAPI text, read as the API enforces it
    faults, errors, speech, vad, webrtc
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
