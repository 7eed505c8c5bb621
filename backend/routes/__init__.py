"""One router per resource, mounted under /api by ``backend.app.install``."""
