"""The kept answers of Idempotency-Keys, in a real SQLite file, and the gate's rules over them."""

from __future__ import annotations

import threading

import pytest

from bridge.errors import IdempotencyKeyInFlight, IdempotencyKeyReused, RequestInvalid, ToolFailed, UpstreamUnavailable
from bridge.gate.idempotency import Answer, Idempotency, fingerprint, keeps, parse_key
from bridge.store import Store
from bridge.store.idempotency import KeptAnswer
from tests.store.conftest import Clock


def keep(keys: Idempotency, subject: str, key: str, answer: Answer, print_: str = "p") -> None:
    claim = keys.claim(subject, key, print_)
    written = threading.Event()
    failures: list[BaseException | None] = []

    def done(error: BaseException | None) -> None:
        failures.append(error)
        written.set()

    claim.keep(answer, done)
    assert written.wait(10)
    assert failures == [None]
    claim.release()


ANSWER = Answer.of(200, [("content-type", "application/json"), ("content-length", "9")], b'{"ok": 1}')


def test_a_kept_answer_is_found_again_with_its_status_headers_and_body(store: Store) -> None:
    keys = Idempotency(store.idempotency, store.writer)
    keep(keys, "alice", "k1", ANSWER)
    claim = keys.claim("alice", "k1", "p")
    assert claim.earlier() == Answer(200, (("content-type", "application/json"),), b'{"ok": 1}')
    claim.release()


def test_the_same_key_of_another_caller_is_another_key(store: Store) -> None:
    keys = Idempotency(store.idempotency, store.writer)
    keep(keys, "alice", "k1", ANSWER)
    claim = keys.claim("bob", "k1", "p")
    assert claim.earlier() is None
    claim.release()


def test_a_kept_key_with_another_fingerprint_is_reused(store: Store) -> None:
    keys = Idempotency(store.idempotency, store.writer)
    keep(keys, "alice", "k1", ANSWER)
    claim = keys.claim("alice", "k1", "other")
    with pytest.raises(IdempotencyKeyReused):
        claim.earlier()
    claim.release()


def test_a_held_key_refuses_a_duplicate_with_409_and_another_request_with_422(store: Store) -> None:
    keys = Idempotency(store.idempotency, store.writer)
    held = keys.claim("alice", "k1", "p")
    with pytest.raises(IdempotencyKeyInFlight) as duplicate:
        keys.claim("alice", "k1", "p")
    assert duplicate.value.headers() == {"Retry-After": "1"}
    with pytest.raises(IdempotencyKeyReused):
        keys.claim("alice", "k1", "other")
    held.release()
    keys.claim("alice", "k1", "p").release()  # free again


def test_an_expired_answer_is_not_found_and_is_swept_by_a_later_keep(store: Store) -> None:
    clock = Clock()
    keys = Idempotency(store.idempotency, store.writer, ttl=10, clock=clock)
    keep(keys, "alice", "old", ANSWER)
    clock.now += 11
    claim = keys.claim("alice", "old", "p")
    assert claim.earlier() is None
    claim.release()
    assert store.idempotency.count() == 1
    keep(keys, "alice", "new", ANSWER)
    assert store.idempotency.count() == 1
    assert store.idempotency.find("alice", "new", clock.now) is not None


def test_a_key_kept_again_after_it_expired_replaces_the_old_answer(store: Store) -> None:
    clock = Clock()
    keys = Idempotency(store.idempotency, store.writer, ttl=10, clock=clock)
    keep(keys, "alice", "k", ANSWER, "first")
    clock.now += 11
    keep(keys, "alice", "k", Answer(201, (), b"{}"), "second")
    found = store.idempotency.find("alice", "k", clock.now)
    assert found == KeptAnswer("second", 201, (), "{}", clock.now + 10)


def test_answers_survive_the_store_being_closed_and_opened(store_target: str) -> None:
    with Store.open(store_target) as first:
        keep(Idempotency(first.idempotency, first.writer), "alice", "k1", ANSWER)
    with Store.open(store_target) as again:
        claim = Idempotency(again.idempotency, again.writer).claim("alice", "k1", "p")
        assert claim.earlier() == Answer(200, (("content-type", "application/json"),), b'{"ok": 1}')


@pytest.mark.parametrize(
    ("values", "key"),
    [(["abc-123"], "abc-123"), (['"abc 123"'], "abc 123"), ([' "a\\"b" '], 'a"b'), (["k" * 255], "k" * 255)],
)
def test_a_key_is_a_quoted_string_or_a_token(values: list[str], key: str) -> None:
    assert parse_key(values) == key


@pytest.mark.parametrize("values", [[], ["a", "b"], [""], ['""'], ["a b"], ['"\u00e9"'], ['"x'], ["k" * 256]])
def test_anything_else_is_400_at_the_header(values: list[str]) -> None:
    with pytest.raises(RequestInvalid) as refused:
        parse_key(values)
    assert [e.pointer for e in refused.value.errors] == ["/headers/Idempotency-Key"]


def test_the_fingerprint_is_of_the_parsed_body_and_the_path() -> None:
    assert fingerprint("POST", "/tools/a", {"x": 1, "y": [1, 2]}) == fingerprint(
        "POST", "/tools/a", {"y": [1, 2], "x": 1}
    )
    assert fingerprint("POST", "/tools/a", {"x": 1}) != fingerprint("POST", "/tools/b", {"x": 1})
    assert fingerprint("POST", "/tools/a", {"x": 1}) != fingerprint("POST", "/tools/a", {"x": 2})


def test_kept_are_the_answers_of_a_tool_that_ran() -> None:
    assert keeps(200, None)
    assert keeps(202, None)
    assert keeps(422, ToolFailed("no", {"content": []}))
    assert not keeps(503, UpstreamUnavailable("down", server="s"))
    assert not keeps(400, RequestInvalid("bad"))
    assert not keeps(500, RuntimeError("bug"))
