"""Custom integrations (kept so tests import this package before the harness's own)."""
