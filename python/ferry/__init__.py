"""Ferry Python SDK."""
