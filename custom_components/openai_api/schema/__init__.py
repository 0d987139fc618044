"""Validation in one place: the API contract, the values a browser sends, their building blocks.

- `validators`: probatio building blocks that never coerce and never crash on odd input.
- `contract`: the request bodies of OpenAI's Realtime API (shared by the actions, the voice
  profile flow and the websocket API).
- `sdp`: the SDP offer a browser hands to HA.
"""
