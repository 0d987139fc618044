"""A local OpenAI Realtime API for tests, benchmarks and development.

It follows the official OpenAPI text (simulator/openapi.json): `GET /models`,
`POST /realtime/client_secrets`, `POST /realtime/calls` with a real WebRTC answerer (aiortc),
call control (`hangup`, `accept`, `reject`, `refer`) and the sideband WebSocket
`/realtime?call_id=…`, with switchable faults and a record of every request.
"""

from .app import RealtimeSimulator, RecordedRequest
from .calls import SimCall, Turn

__all__ = ["RealtimeSimulator", "RecordedRequest", "SimCall", "Turn"]
