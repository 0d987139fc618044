"""Development tools: a real Home Assistant with this integration, used by scripts and e2e tests."""
