"""``Idempotency-Key`` on the Flask tool-call views: replayed, or answered, kept, then returned.

The Flask side of ``bridge.gate.idempotency`` (the loop's is ``bridge.endpoint.idempotent``).
A view wrapped with ``idempotent`` runs as before when the request has no such header. With
one, the first answer (or the tool's own error) is committed to the store before it is
returned, and the key is let go after, in every case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Response, request

from bridge.errors import BridgeError
from bridge.gate.idempotency import HEADER, Answer, Claim, Idempotency, fingerprint, keeps, parse_key
from bridge.rest import problems
from bridge.rest.http import body, principal

__all__ = ["idempotent"]

View = Callable[..., Response]


def idempotent(keys: Idempotency | None, view: View) -> View:
    """``view``, honouring the request's ``Idempotency-Key`` (when ``keys`` is given)."""
    if keys is None:
        return view

    @functools.wraps(view)
    def keyed(**params: str) -> Response:
        if HEADER not in request.headers:
            return view(**params)
        key = parse_key(request.headers.getlist(HEADER))
        claim = keys.claim(principal().subject, key, fingerprint("POST", request.path, body({})))
        try:
            earlier = claim.earlier()
            if earlier is not None:
                return _replay(earlier)
            return _kept(claim, view, params)
        finally:
            claim.release()

    return keyed


def _kept(claim: Claim, view: View, params: dict[str, str]) -> Response:
    error: BridgeError | None = None
    try:
        response = view(**params)
    except BridgeError as exc:
        if not keeps(exc.status, exc):
            raise  # answered as ever, by the app's error handler; nothing kept
        error, response = exc, problems.problem_response(exc)
    if keeps(response.status_code, error):
        claim.keep_and_wait(Answer.of(response.status_code, list(response.headers.items()), response.get_data()))
    return response


def _replay(answer: Answer) -> Response:
    response = Response(answer.body, status=answer.status)
    for name, value in answer.replayed():
        response.headers[name] = value
    return response
