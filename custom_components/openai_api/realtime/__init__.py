"""Live Realtime voice calls: session config, tools, the sideband loop and their manager."""
