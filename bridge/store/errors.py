"""What can go wrong in keeping records: the store's own error tree.

A store error stops start-up with one line that names the database and the reason. During a
request the edges answer it 503 ``store-unavailable`` (``bridge.errors.StoreUnavailable``, with
``Retry-After``) and log the reason, which names the database: the tree stands apart from
``bridge.errors`` so that no message of it reaches a caller. Driver errors (``sqlite3.Error``, and
``OSError`` while the file is made; ``psycopg.Error``) are translated into it where they enter, in
the engine's module, ``from exc``.

::

    StoreError              the database cannot be opened, migrated or used
    ├── UnsupportedDatabase the URL names an engine this bridge cannot use (yet)
    └── SchemaTooNew        a newer bridge has migrated the database past what this one knows

Messages never quote stored values: the registrations hold upstream secrets.
"""

from __future__ import annotations

__all__ = ["SchemaTooNew", "StoreError", "UnsupportedDatabase"]


class StoreError(Exception):
    """The database cannot be opened, migrated or used; the message says which and why."""


class UnsupportedDatabase(StoreError):
    """The URL names an engine this bridge has no driver for."""


class SchemaTooNew(StoreError):
    """The database holds migrations this bridge does not know; it is left untouched."""
