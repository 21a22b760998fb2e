"""Typed REST client and server-stub generator (see the issue on generated clients)."""
