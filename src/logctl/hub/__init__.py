"""The hub: ingest over WebSocket, group-commit to PostgreSQL, broadcast, history API."""
