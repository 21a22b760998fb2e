"""What checking a caller's credential costs per request, with OAuth 2.0 tokens on: ``python -m bench.auth``.

The authenticator runs here as the gate runs it (``Authenticator.authenticate`` on a request's
headers): the start-up API keys first, then OAuth 2.0 access tokens (``bridge.gate.oauth``).
The issuer's keys (RS256: RSA 2048; ES256: P-256) are served as a JWKS by a small HTTP server
on 127.0.0.1 in this process and fetched once, at set-up, as the bridge fetches them at
start; no request below does any I/O. Per request, median over batches:

- an API key (what every keyed bridge pays today), for comparison;
- a JWT seen for the first time: the header read, the cached key looked up, the signature
  verified, the claims checked (every token is distinct, so nothing is remembered);
- the same JWT again: a caller reusing its token, which the bridge remembers until it expires;
- for scale, the signature check alone (``cryptography``'s verify on the same tokens), the floor
  no JOSE library can go under, and the machine's load average, which moves all of these.

``--throughput`` also loads real bridges (``POST /servers/rich/tools/echo`` over stdio, c=8):
one that takes an API key only, and one that takes OAuth 2.0 tokens (from the JWKS above) with
limits on (a caller rate, calls in flight per caller, and a server rate and concurrency, all set
above what the load reaches, so every check runs and none refuses), sent one RS256 token as a
client reuses its token. Rounds interleave the two; the target is ≥ 0.95× of the key-only rps.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from bench.measure import Cell, load_cell
from bench.targets import Upstream, running_bridge
from bridge.config import OAuthSettings
from bridge.gate import AccessTokens, Authenticator, ProtectedResource, StaticKeys

__all__ = ["measure", "measure_auth", "measure_throughput", "table", "throughput_table"]

#: Requests per timed batch, and batches (the median batch is reported).
BATCH = 400
BATCHES = 11
RESOURCE = "http://127.0.0.1:8000"
ISSUER = "https://issuer.example"
API_KEY = "bench-api-key"
#: The figure the issue sets: JWT validation with a cached key, per request.
TARGET_US = 50.0
#: What the throughput bridges are told: limits far above the load, so each check runs and passes.
LIMITS = [
    "--rate-limit",
    "1000000/minute",
    "--max-concurrent-calls",
    "64",
    "--server-limit",
    "rich=100000/second,concurrent=64",
]


class _Headers:
    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items

    def get(self, key: str, default: str) -> str:
        return self._items.get(key, default)


@contextmanager
def _jwks_server(jwks: dict[str, Any]) -> Iterator[str]:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


def _tokens(key: RSAKey | ECKey, alg: str, count: int) -> list[str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": RESOURCE, "sub": "bench", "iat": now, "exp": now + 3600, "scope": "use"}
    return [jwt.encode({"alg": alg, "kid": key.kid}, {**claims, "jti": str(i)}, key) for i in range(count)]


def _signature_check(key: RSAKey | ECKey, tokens: list[str]) -> Callable[[int], None]:
    """The bare ``cryptography`` verify of each token's signature: no parsing, no claims."""
    public: Any = key.public_key
    split = [t.rpartition(".") for t in tokens]
    inputs = [(signed.encode(), base64.urlsafe_b64decode(sig + "==")) for signed, _, sig in split]
    if isinstance(key, ECKey):
        inputs = [(m, encode_dss_signature(int.from_bytes(s[:32]), int.from_bytes(s[32:]))) for m, s in inputs]

    def verify(batch: int) -> None:
        for message, signature in inputs[batch * BATCH : (batch + 1) * BATCH]:
            if isinstance(key, RSAKey):
                public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                public.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    return verify


def _median_us(run_batch: Callable[[int], None]) -> tuple[float, float]:
    """Median and best µs per request over the batches: on a shared machine the best batch is the
    one least slowed by others, the nearest to what the work itself costs."""
    per_request = []
    for batch in range(BATCHES):
        began = time.perf_counter()
        run_batch(batch)
        per_request.append((time.perf_counter() - began) / BATCH)
    return statistics.median(per_request) * 1e6, min(per_request) * 1e6


def measure_auth() -> dict[str, tuple[float, float]]:
    """Median and best µs per request for each kind of credential (see the module's notes)."""
    rsa_key = RSAKey.generate_key(2048, {"kid": "rsa", "use": "sig"})
    ec_key = ECKey.generate_key("P-256", {"kid": "ec", "use": "sig"})
    jwks = {"keys": [rsa_key.as_dict(private=False), ec_key.as_dict(private=False)]}
    with _jwks_server(jwks) as url:
        settings = OAuthSettings(issuer=ISSUER, jwks_url=url)
        tokens = AccessTokens.create(settings, RESOURCE)
    resource = ProtectedResource(RESOURCE, (ISSUER,), tokens.scopes.names)
    authenticator = Authenticator([StaticKeys((API_KEY,)), tokens], resource=resource)

    def headers(credential: str) -> _Headers:
        return _Headers({"authorization": f"Bearer {credential}"})

    results: dict[str, tuple[float, float]] = {}
    keyed = headers(API_KEY)
    results["API key"] = _median_us(lambda _: [authenticator.authenticate(keyed) for _ in range(BATCH)] and None)
    for alg, key in (("RS256", rsa_key), ("ES256", ec_key)):
        minted = _tokens(key, alg, BATCH * BATCHES)
        fresh = [headers(t) for t in minted]

        def first_time(batch: int, fresh: list[_Headers] = fresh) -> None:
            for h in fresh[batch * BATCH : (batch + 1) * BATCH]:
                authenticator.authenticate(h)

        results[f"{alg} JWT, first use"] = _median_us(first_time)
        again = fresh[0]
        results[f"{alg} JWT, again"] = _median_us(
            lambda _, h=again: [authenticator.authenticate(h) for _ in range(BATCH)] and None
        )
        results[f"{alg} signature check alone"] = _median_us(_signature_check(key, minted))
    return results


def measure_throughput(seconds: float, rounds: int) -> list[dict[str, Any]]:
    """Rounds of: a key-only bridge, then one with OAuth tokens and limits on (see the module's notes)."""
    key = RSAKey.generate_key(2048, {"kid": "rsa", "use": "sig"})
    (token,) = _tokens(key, "RS256", 1)
    upstream = Upstream.rich_stdio()
    cell = Cell(8, seconds, 1.0)
    runs: list[dict[str, Any]] = []
    with _jwks_server({"keys": [key.as_dict(private=False)]}) as url, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        oauth = ["--api-key", API_KEY, "--oauth-issuer", ISSUER, "--oauth-jwks-url", url]
        oauth += ["--oauth-audience", RESOURCE, *LIMITS]
        keyed_headers, token_headers = [f"X-API-Key: {API_KEY}"], [f"Authorization: Bearer {token}"]
        for round_ in range(rounds):
            with running_bridge([upstream], work, options=["--api-key", API_KEY], headers=keyed_headers) as endpoint:
                keyed = load_cell(endpoint, upstream, cell)
            with running_bridge([upstream], work, options=oauth, headers=token_headers) as endpoint:
                limited = load_cell(endpoint, upstream, cell)
            runs.append({"key": keyed, "oauth_limits": limited})
            print(
                f"round {round_ + 1}: key only {keyed['rps']:.0f}/s, OAuth + limits {limited['rps']:.0f}/s"
                f" ({limited['rps'] / keyed['rps']:.2f}×), bridge CPU {keyed['proxy_cpu_ms']:.3f}"
                f" → {limited['proxy_cpu_ms']:.3f} ms/call, errors {keyed['errors']}/{limited['errors']}",
                file=sys.stderr,
            )
    return runs


def throughput_table(runs: list[dict[str, Any]]) -> str:
    keyed = statistics.median(r["key"]["rps"] for r in runs)
    limited = statistics.median(r["oauth_limits"]["rps"] for r in runs)
    cpu_keyed = statistics.median(r["key"]["proxy_cpu_ms"] for r in runs)
    cpu_limited = statistics.median(r["oauth_limits"]["proxy_cpu_ms"] for r in runs)
    ratios = ", ".join(f"{r['oauth_limits']['rps'] / r['key']['rps']:.2f}×" for r in runs)
    return "\n".join(
        [
            "| rich echo, stdio, c=8 | rps | ÷ key only | bridge CPU ms/call |",
            "| --- | ---: | ---: | ---: |",
            f"| API key only | {keyed:.0f} | 1.00 | {cpu_keyed:.3f} |",
            f"| OAuth 2.0 token + limits | {limited:.0f} | {limited / keyed:.2f} | {cpu_limited:.3f} |",
            "",
            f"Medians of {len(runs)} interleaved rounds; each round's ratio: {ratios}.",
        ]
    )


def measure(seconds: float, rounds: int) -> dict[str, Any]:
    """What ``bench/run.py --auth`` runs: the per-request checks (credentials and limits) and the throughput."""
    from bench.limit_checks import measure_limits

    checks = {**measure_auth(), **measure_limits()}
    return {"checks": checks, "throughput": measure_throughput(seconds, rounds)}


def table(result: dict[str, Any]) -> str:
    rows = [f"| {name} | {median:.1f} | {best:.1f} |" for name, (median, best) in result["checks"].items()]
    head = ["| check | µs per request (median) | best batch |", "| --- | ---: | ---: |"]
    return "\n".join([*head, *rows, "", throughput_table(result["throughput"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--throughput", action="store_true", help="also load key-only and OAuth + limits bridges")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = measure_auth()
    print(f"| credential | µs per request, median of {BATCHES} batches of {BATCH} | best batch |")
    print("| --- | ---: | ---: |")
    for name, (median, best) in results.items():
        print(f"| {name} | {median:.1f} | {best:.1f} |")
    for name, (median, _) in results.items():
        if "JWT" in name:
            print(f"{name}: {'within' if median <= TARGET_US else 'over'} the {TARGET_US:.0f} µs target")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.throughput:
        print(throughput_table(measure_throughput(args.seconds, args.rounds)))


if __name__ == "__main__":
    main()
