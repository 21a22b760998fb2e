"""The HTTP edge: the only layer that knows Flask."""

from bridge.rest.app import create_app

__all__ = ["create_app"]
