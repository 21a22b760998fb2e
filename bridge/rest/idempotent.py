"""``Idempotency-Key`` on the Flask tool-call views: replayed, or answered, kept, then returned.

The Flask side of ``bridge.gate.idempotency`` (the loop's is ``bridge.endpoint.idempotent``).
A view wrapped with ``idempotent`` runs as before when the request has no such header. With
one, the first answer (or the tool's own error) is committed to the store before it is
returned, and the key is let go after, in every case.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable

from flask import Response, request

from bridge.errors import BridgeError
from bridge.gate.idempotency import HEADER, Answer, Claim, Idempotency, fingerprint, keeps, parse_key
from bridge.rest import problems
from bridge.rest.http import body, principal

__all__ = ["idempotent"]

log = logging.getLogger(__name__)

View = Callable[..., Response]
#: Seconds an answer waits for its commit before it is returned anyway (a stuck disk must not hold callers).
COMMIT_WAIT = 10.0


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
        answer = Answer.of(response.status_code, list(response.headers.items()), response.get_data())
        written = threading.Event()
        failures: list[BaseException] = []

        def done(failure: BaseException | None) -> None:  # on the writer's thread
            if failure is not None:
                failures.append(failure)
            written.set()

        claim.keep(answer, done)
        if not written.wait(COMMIT_WAIT):
            failures.append(TimeoutError(f"not committed within {COMMIT_WAIT:g} s"))
        if failures:  # the caller still gets the answer; a retry may run the tool again
            log.warning("an idempotent answer could not be kept: %s", failures[0])
    return response


def _replay(answer: Answer) -> Response:
    response = Response(answer.body, status=answer.status)
    for name, value in answer.replayed():
        response.headers[name] = value
    return response
