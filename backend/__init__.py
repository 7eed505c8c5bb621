"""FastAPI app: REST and streaming API under /api, settings, auth, limits."""
