"""The per-request cost of the access check: ``core.routes.route()`` with and without tokens.

Run:  .venv/bin/python bench/bench_auth.py [--tokens 1,10,100] [--requests 20000]

Times the pure routing decision for a history GET, CPU time per call (``time.process_time``):
no access rules (as before issue 8), the loopback Host/Origin checks, and a bearer token
checked against tables of N tokens (SHA-256 once, then ``hmac.compare_digest`` against every
stored hash), and the web viewer's session cookie instead of the token (the entry found by
name, one HMAC-SHA256, one constant-time comparison; docs/security.md). Nothing here is
asserted anywhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from logctl.core.routes import Access, HttpRequest, route
from logctl.core.tokens import TokenTable, new_token, session_value


def per_call(request: HttpRequest, access: Access, n: int) -> float:
    """Microseconds of CPU per ``route(request, access)``, best of 3 rounds of ``n`` calls."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(n):
            route(request, access)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="1,10,100", help="table sizes to try")
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    target, host = "/admin/runs/build-1/logs?limit=100", ("Host", "127.0.0.1:8765")
    base = per_call(HttpRequest("GET", target, (host,)), Access(), args.requests)
    print(f"no access rules                   {base:6.2f} µs/request")
    checks = per_call(HttpRequest("GET", target, (host, ("Origin", "http://127.0.0.1:8765"))), Access(check_host=True), args.requests)
    print(f"Host + Origin checks              {checks:6.2f} µs/request  (+{checks - base:.2f})")
    now = dt.datetime.now(dt.timezone.utc)
    for size in (int(s) for s in args.tokens.split(",")):
        table, token = TokenTable(), ""
        for i in range(size):
            token = new_token()
            table = table.with_token(f"t{i}", token, {"read"}, now)
        request = HttpRequest("GET", target, (host, ("Authorization", f"Bearer {token}")))
        cost = per_call(request, Access(tokens=table, check_host=True), args.requests)
        print(f"Host + bearer token, {size:4d} tokens  {cost:6.2f} µs/request  (+{cost - base:.2f})")
        key = b"k" * 32
        cookie = ("Cookie", f"logctl-8765={session_value(key, table.entries[-1])}")
        request = HttpRequest("GET", target, (host, ("Origin", "http://127.0.0.1:8765"), ("Sec-Fetch-Site", "same-origin"), cookie))
        cost = per_call(request, Access(tokens=table, check_host=True, session_key=key), args.requests)
        print(f"Host + session cookie, {size:4d} tokens {cost:6.2f} µs/request  (+{cost - base:.2f})")


if __name__ == "__main__":
    main()
