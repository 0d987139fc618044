"""End-to-end tests: the voice card in Chromium, a real Home Assistant and the simulator."""
