"""The whole deployment at once: three ``mcp-bridge serve`` on PostgreSQL (``--store``) and Redis
(``--redis-url``) behind a real nginx running the shipped config, under tool-call load.

One scenario, as an operator's day would have it: client threads call a tool through nginx the
whole time; a webhook subscription made through nginx delivers every call's event to a receiver
here (which checks each signature); event-stream subscribers follow the calls through nginx and
directly on one instance; a registration and a key made through nginx are live on every
instance (each asked on its own port) within a second; then one instance is killed (``kill -9``).
Only the requests in flight on it fail; later ones succeed on the others; no event is lost (every
call that succeeded is seen, in order, by every subscriber, those cut off by the kill resuming
through nginx with ``Last-Event-ID``); no delivery is lost (each event is delivered under one
``webhook-id``, at least once), and the deliveries the killed instance held are made by another
once its lease (two seconds here) lapses.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from harness import TimedOut, free_port, poll, running_nginx
from tests.deploy.killed import only_in_flight_failed
from tests.events.sse import Message, SseClient
from tests.harness.postgres import PostgresCluster, postgres_cluster  # noqa: F401  (the fixture)
from tests.instances.conftest import LIVE_WITHIN, RICH, seconds_until
from tests.limits.conftest import redis_url  # noqa: F401  (the fixture: a redis-server of its own)
from tests.servers.launch import running_http_server
from tests.support import BridgeProcess, bridge_process

KEY = "key-of-the-full-deployment"
ADMIN = "admin-key-of-the-full-deployment"
INSTANCES = 3
#: Seconds a delivery's lease lasts: the killed instance's deliveries are taken over after it.
LEASE = 2
#: Client threads calling through nginx the whole time, each one call after another.
LOAD_THREADS = 6
#: How long each call takes upstream, so that some are in flight when the instance is killed.
CALL_SECONDS = 0.2
#: How long the receiver takes to answer a delivery, so that some are in flight at the kill too.
ANSWER_AFTER = 0.3
#: The one kind of event the subscribers and the subscription follow: one per call.
FINISHED = "tool.call.finished"


@dataclass
class Deployment:
    url: str
    instances: list[BridgeProcess]


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_cluster: PostgresCluster,  # noqa: F811
    redis_url: str,  # noqa: F811
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("full")
    args = (
        "--api-key", KEY, "--admin-key", ADMIN, "--allow-private-upstreams", "--allow-private-webhooks",
        "--webhook-retry-delays", "0.5,0.5,0.5,0.5,0.5", "--delivery-lease", str(LEASE), "--redis-url", redis_url,
    )  # fmt: skip
    with ExitStack() as stack:
        store = stack.enter_context(postgres_cluster.database())
        instances = [
            stack.enter_context(bridge_process(root / f"b{i}", RICH, *args, "--store", store)) for i in range(INSTANCES)
        ]
        port, _ = stack.enter_context(running_nginx(root / "nginx", [_port(b.url) for b in instances]))
        yield Deployment(f"http://127.0.0.1:{port}", instances)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# ---- the webhook receiver: a real HTTP server in this process, checking signatures ----


@dataclass(frozen=True)
class Heard:
    webhook_id: str
    event: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """Deliveries heard (signature checked), oldest first; ``refused`` those whose signature failed."""

    port: int
    secret: str = ""
    heard: list[Heard] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/mcp"

    def snapshot(self) -> list[Heard]:
        with self.lock:
            return list(self.heard)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver(free_port())

    class Endpoint(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                event = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
            except WebhookVerificationError:
                with receiver.lock:
                    receiver.refused += 1
                self._answer(401)
                return
            with receiver.lock:
                receiver.heard.append(Heard(self.headers["webhook-id"], event, time.monotonic()))
            time.sleep(ANSWER_AFTER)
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # an answer to the killed instance has nobody to go to

    server = Server(("127.0.0.1", receiver.port), Endpoint)
    thread = threading.Thread(target=server.serve_forever, name="webhook receiver")
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# ---- event-stream subscribers, each read by a thread of its own ----


@dataclass
class Subscriber:
    """Follows ``FINISHED`` events on ``url``; when the connection is cut, connects again there
    with ``Last-Event-ID`` (``resumed`` counts how often)."""

    url: str
    seen: list[Message] = field(default_factory=list)
    resumed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def open(self) -> SseClient:
        headers = {"X-API-Key": KEY}
        if self.seen:  # resuming: what followed the last event seen comes first
            headers["Last-Event-ID"] = str(self.seen[-1].id)
        client = SseClient(self.url, f"/mcp/stream?type={FINISHED}", headers, timeout=10)
        assert client.status == 200, client.body
        return client

    def follow(self, client: SseClient) -> None:
        while not self.stop.is_set():
            try:
                self.seen.append(client.next(timeout=0.2))
            except TimeoutError:
                continue
            except (EOFError, OSError):  # its instance was killed
                client.close()
                reopened = poll(self._reopen, 10, interval=0.1, what="the stream again through nginx")
                assert reopened is not None
                client = reopened
                self.resumed += 1
        client.close()

    def _reopen(self) -> SseClient | None:
        try:
            return self.open()
        except (OSError, TimeoutError):
            return None


@contextmanager
def subscribed(urls: list[str]) -> Iterator[list[Subscriber]]:
    subscribers = [Subscriber(url) for url in urls]
    clients = [s.open() for s in subscribers]
    for client in clients:
        with pytest.raises(TimeoutError):
            client.next(timeout=0.3)  # its opening comment read: it follows the feed from now on
    threads = [
        threading.Thread(target=s.follow, args=(c,), name=f"sse {s.url}")
        for s, c in zip(subscribers, clients, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        yield subscribers
    finally:
        for subscriber in subscribers:
            subscriber.stop.set()
        for thread in threads:
            thread.join(15)


# ---- the load ----


@dataclass(frozen=True)
class Sent:
    request_id: str
    began: float
    ended: float
    #: The answer's status; 0 when the connection failed.
    status: int
    content_type: str = ""
    body: bytes = b""


@contextmanager
def under_load(url: str) -> Iterator[list[list[Sent]]]:
    """``LOAD_THREADS`` threads calling ``slow`` through ``url``, each call with a request id of its
    own (``load-THREAD-N``), until the block ends; each thread's calls in the order sent."""
    sent: list[list[Sent]] = [[] for _ in range(LOAD_THREADS)]
    stop = threading.Event()

    def load(thread: int) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                request_id = f"load-{thread}-{len(sent[thread])}"
                headers = {"X-API-Key": KEY, "X-Request-Id": request_id}
                began = time.monotonic()
                try:
                    response = session.post(
                        f"{url}/servers/rich/tools/slow", json={"seconds": CALL_SECONDS}, headers=headers, timeout=30
                    )
                except requests.ConnectionError:
                    sent[thread].append(Sent(request_id, began, time.monotonic(), 0))
                    continue
                answer = Sent(
                    request_id,
                    began,
                    time.monotonic(),
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.content,
                )
                sent[thread].append(answer)

    threads = [threading.Thread(target=load, args=(n,), name=f"load {n}") for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    try:
        yield sent
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def _count(sent: list[list[Sent]]) -> int:
    return sum(len(calls) for calls in sent)


def _request_id(event: dict[str, Any]) -> str:
    request_id: str = event["data"]["requestId"]
    return request_id


# ---- the scenario ----


def _as_admin(method: str, url: str, body: Any = None) -> requests.Response:
    return requests.request(method, url, json=body, headers={"X-API-Key": ADMIN}, timeout=30)


def _live_everywhere(deployment: Deployment, holds: Any, what: str) -> None:
    """``holds(instance_url)`` true on every instance, asked on its own port, within a second."""
    took = seconds_until(lambda: all(holds(b.url) for b in deployment.instances), what=what)
    assert took <= LIVE_WITHIN, f"{what} after {took:.2f} s"


def _far_says(url: str, text: str) -> str | None:
    """What the server registered as ``far`` echoes when called through the instance at ``url``."""
    answer = requests.post(f"{url}/servers/far/tools/echo", json={"text": text}, headers={"X-API-Key": KEY}, timeout=5)
    return answer.json()["content"][0]["text"] if answer.status_code == 200 else None


def _registration_and_key_are_live_everywhere(deployment: Deployment) -> None:
    with running_http_server("http", name="far") as far:
        made = _as_admin(
            "POST", f"{deployment.url}/servers", {"name": "far", "transport": "streamable-http", "url": far}
        )
        assert made.status_code == 201, made.text
        _live_everywhere(
            deployment,
            lambda url: _far_says(url, "hi") == "hi",
            "the server registered through nginx served everywhere",
        )
        assert _as_admin("DELETE", f"{deployment.url}/servers/far").status_code == 204

    made = _as_admin("POST", f"{deployment.url}/keys", {"name": "deployed", "scopes": ["use"]})
    assert made.status_code == 201, made.text
    key = made.json()

    def answers(url: str) -> int:
        return requests.get(f"{url}/tools", headers={"X-API-Key": key["key"]}, timeout=5).status_code

    _live_everywhere(deployment, lambda url: answers(url) == 200, "the key made through nginx accepted everywhere")
    assert _as_admin("DELETE", f"{deployment.url}/keys/{key['id']}").status_code in (200, 204)
    _live_everywhere(deployment, lambda url: answers(url) == 401, "the key revoked through nginx refused everywhere")


def _every_instance_delivers(deployment: Deployment, receiver: Receiver) -> None:
    """Until each instance has delivered an event of a call made on it: all follow the subscription."""
    for n, instance in enumerate(deployment.instances):
        request_id = f"probe-{n}"

        def delivered(url: str = instance.url, request_id: str = request_id) -> bool:
            answer = requests.post(
                f"{url}/servers/rich/tools/echo",
                json={"text": "probe"},
                headers={"X-API-Key": KEY, "X-Request-Id": request_id},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            return any(_request_id(h.event) == request_id for h in receiver.snapshot())

        poll(delivered, 15, interval=0.3, what=f"instance {n} to deliver to the subscription made through nginx")


def test_three_instances_on_postgresql_and_redis_behind_nginx_lose_nothing_to_a_kill_9_under_load(
    deployment: Deployment,
) -> None:
    survivor, victim = deployment.instances[2], deployment.instances[1]
    with receiving() as receiver:
        made = _as_admin("POST", f"{deployment.url}/webhooks", {"url": receiver.url, "types": [FINISHED]})
        assert made.status_code == 201, made.text
        receiver.secret = made.json()["secret"]
        webhook = made.json()["id"]
        _every_instance_delivers(deployment, receiver)

        # Three subscribers through nginx (round robin: one on each instance), one on the survivor directly.
        with subscribed([deployment.url] * INSTANCES + [survivor.url]) as subscribers:
            with under_load(deployment.url) as sent:
                poll(lambda: _count(sent) >= 20, 30, what="calls under way through nginx")
                _registration_and_key_are_live_everywhere(deployment)

                before = _count(sent)
                killed = time.monotonic()
                victim.process.popen.send_signal(signal.SIGKILL)
                victim.process.popen.wait(10)
                dead = time.monotonic()  # its sockets are closed once it is reaped
                poll(lambda: _count(sent) >= before + 30, 30, what="calls after the kill")

            succeeded = [[s for s in calls if s.status == 200] for calls in sent]
            wanted = {s.request_id for calls in succeeded for s in calls}

            def missing() -> list[list[str]]:
                return [sorted(wanted - {_request_id(m.data) for m in s.seen}) for s in subscribers]

            try:
                poll(lambda: not any(missing()), 15)
            except TimedOut:
                ended = {s.request_id: round(s.ended - killed, 3) for calls in succeeded for s in calls}
                told = [{r: ended[r] for r in lost} for lost in missing()]
                pytest.fail(f"calls that succeeded not seen (when they ended, from the kill), by subscriber: {told}")

        poll(lambda: {_request_id(h.event) for h in receiver.snapshot()} >= wanted, 30, what="every call delivered")

        def settled() -> list[dict[str, Any]] | None:
            found: list[dict[str, Any]] = _as_admin(
                "GET", f"{survivor.url}/webhooks/{webhook}/deliveries?limit=500"
            ).json()["deliveries"]
            return found if all(d["status"] == "delivered" for d in found) else None

        logged = poll(settled, 15, what="every delivery recorded delivered")
        assert logged is not None
        heard = receiver.snapshot()
        refused = receiver.refused

    everything = [s for calls in sent for s in calls]
    # Only the requests in flight on the killed instance failed, as nginx's 502 problem or a cut connection.
    failed = only_in_flight_failed(everything, killed, dead, at_most=LOAD_THREADS, statuses=(0, 502, 503), later=20)
    for s in failed:
        if s.status:
            assert s.content_type == "application/problem+json", s.body
            assert json.loads(s.body)["status"] == s.status

    # No event lost: each subscriber saw every call that succeeded, each event once, in order.
    for subscriber in subscribers:
        ids = [str(m.id) for m in subscriber.seen]
        assert len(set(ids)) == len(ids), f"an event twice on {subscriber.url}"
        assert ids == sorted(ids), f"events out of order on {subscriber.url}"
        order = [_request_id(m.data) for m in subscriber.seen]
        for calls in succeeded:  # each thread's calls, one after another, in the order they were made
            mine = [s.request_id for s in calls]
            made_here = set(mine)
            assert [r for r in order if r in made_here] == mine
    cut = [s for s in subscribers[:INSTANCES] if s.resumed]
    assert len(cut) == 1, "one stream through nginx was on the killed instance, and it resumed"
    assert subscribers[-1].resumed == 0

    # No delivery lost: every event delivered, under one webhook-id each, exactly once after dedupe.
    assert refused == 0, "a delivery whose signature did not verify"
    webhook_ids_of: dict[str, set[str]] = defaultdict(set)  # event id: the webhook-ids it came under
    events_of: dict[str, set[str]] = defaultdict(set)  # request id: the events delivered for it
    for h in heard:
        webhook_ids_of[h.event["id"]].add(h.webhook_id)
        events_of[_request_id(h.event)].add(h.event["id"])
    assert all(len(events_of[request_id]) == 1 for request_id in wanted), "a call that succeeded has one event"
    # ... the very event the subscribers saw.
    streamed = {_request_id(m.data): m.data["id"] for m in subscribers[-1].seen}
    assert {r: streamed[r] for r in wanted} == {r: next(iter(events_of[r])) for r in wanted}
    assert all(len(ids) == 1 for ids in webhook_ids_of.values()), "an event delivered under two webhook-ids"
    assert Counter(d["id"] for d in logged) == Counter({w: 1 for ids in webhook_ids_of.values() for w in ids})
    # The killed instance's attempts in flight were made again by another once their lease lapsed.
    times = Counter(h.webhook_id for h in heard)
    again = [h for h in heard if times[h.webhook_id] > 1 and h.at > dead]
    assert again, "a delivery the killed instance was making is made again by another"
    for h in again:
        assert min(x.at for x in heard if x.webhook_id == h.webhook_id) < dead  # the killed instance's attempt
        assert h.at >= killed + LEASE * 0.5  # once the lease it held (renewed every third of it) lapsed
