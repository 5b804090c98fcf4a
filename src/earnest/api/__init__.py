"""The HTTP API (FastAPI): routes parse, call a use case, and map the result."""

from earnest.api.app import create_app

__all__ = ["create_app"]
