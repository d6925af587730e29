"""The browser session's pure rules: a token in the URL once, then a signed HttpOnly cookie (core/routes.py, core/web.py)."""

from __future__ import annotations

import datetime as dt

from logctl.core import web
from logctl.core.routes import Access, HttpRequest, Login, Page, Refusal, Runs, Upgrade, route
from logctl.core.tokens import TokenTable, new_token, session_value

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
READER, WRITER = new_token(), new_token()
TABLE = TokenTable().with_token("r", READER, {"read"}, NOW).with_token("w", WRITER, {"write"}, NOW)
KEY = b"k" * 32
ACCESS = Access(tokens=TABLE, check_host=True, session_key=KEY)
HOST = ("Host", "127.0.0.1:8765")
ORIGIN = ("Origin", "http://127.0.0.1:8765")
SESSION = session_value(KEY, TABLE.entries[0])
COOKIE = ("Cookie", f"other=1; logctl-8765={SESSION}")


def _get(target: str, *headers: tuple[str, str], access: Access = ACCESS, tls: bool = False) -> object:
    return route(HttpRequest("GET", target, (HOST, *headers), tls), access)


def test_a_read_token_in_a_page_url_sets_the_cookie_and_redirects_without_it() -> None:
    """?token= on / or /runs/x: 303 to the same URL, other parameters kept in order, cookie HttpOnly, Strict, Path=/."""
    login = _get(f"/runs/a%2Fb?level=WARN&token={READER}&q=x%20y")
    assert login == Login("./a%2Fb?level=WARN&q=x+y", f"logctl-8765={SESSION}; Path=/; HttpOnly; SameSite=Strict", "r")
    assert _get(f"/?token={READER}") == Login("./", f"logctl-8765={SESSION}; Path=/; HttpOnly; SameSite=Strict", "r")
    assert isinstance(login, Login) and READER not in (login.set_cookie or "") and READER not in login.location
    secure = _get(f"/?token={READER}", tls=True)
    assert isinstance(secure, Login) and (secure.set_cookie or "").endswith("; Secure")


def test_a_bad_or_unscoped_token_in_the_url_is_refused_with_a_page() -> None:
    """A wrong token is 401, a write-only token 403, two tokens 400; each answered as a page, never setting a cookie."""
    for target, status, reason in ((f"/?token={'lgt_' + 'x' * 43}", 401, "bad_token"), (f"/?token={WRITER}", 403, "scope"),
                                   (f"/?token={READER}&token={READER}", 400, None), ("/?token=", 401, "bad_token")):
        refusal = _get(target)
        assert isinstance(refusal, Refusal) and (refusal.status, refusal.reason, refusal.page) == (status, reason, True), target


def test_without_tokens_a_token_in_the_url_is_only_taken_out_of_it() -> None:
    """A hub that needs no tokens redirects ?token= away and sets no cookie."""
    assert _get("/?match=b*&token=whatever", access=Access(check_host=True)) == Login("./?match=b%2A", None, None)


def test_the_cookie_authenticates_pages_api_and_websocket_from_the_own_origin() -> None:
    """With the session cookie: pages, /admin/runs and the handshake are let through with the token's scopes."""
    assert _get("/", COOKIE) == Page("index.html")
    assert isinstance(_get("/admin/runs", COOKIE, ORIGIN, ("Sec-Fetch-Site", "same-origin")), Runs)
    assert _get("/ws", COOKIE, ORIGIN, ("Upgrade", "websocket")) == Upgrade(frozenset({"read"}), "r")


def test_the_cookie_is_not_taken_from_another_origin_or_site() -> None:
    """Another port's page (same-site), a cross-site fetch, or an allowed origin's page calling the hub from its own origin
    cannot use the cookie; a page served under an allowed origin (a proxy's public origin) can."""
    allowing = Access(tokens=TABLE, check_host=True, session_key=KEY, allow_origins=frozenset({"https://logs.example.com"}))
    proxied = (COOKIE, ("Origin", "https://logs.example.com"), ("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "cors"))
    assert isinstance(_get("/admin/runs", *proxied, access=allowing), Runs)
    cases = [
        ((COOKIE, ("Origin", "https://logs.example.com"), ("Sec-Fetch-Site", "cross-site")), allowing),
        ((COOKIE, ("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "no-cors")), ACCESS),
        ((COOKIE, ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "cors")), ACCESS),
    ]
    for headers, access in cases:
        refusal = _get("/admin/runs", *headers, access=access)
        assert isinstance(refusal, Refusal) and (refusal.status, refusal.reason) == (401, "cross_site_session"), headers
    # Following a link from another site to a page is a top-level navigation: the page opens.
    assert _get("/", COOKIE, ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate")) == Page("index.html")


def test_a_revoked_or_replaced_token_ends_its_sessions() -> None:
    """Without the entry, or with a new token under the same name, or with another key, the cookie is 401 bad_session."""
    replaced = TABLE.without("r").with_token("r", new_token(), {"read"}, NOW)
    for access in (Access(tokens=TABLE.without("r"), session_key=KEY), Access(tokens=replaced, session_key=KEY),
                   Access(tokens=TABLE, session_key=b"x" * 32)):
        refusal = _get("/", COOKIE, access=access)
        assert isinstance(refusal, Refusal) and (refusal.status, refusal.reason, refusal.page) == (401, "bad_session", True)
    forged = ("Cookie", "logctl-8765=r." + "0" * 64)
    assert isinstance(_get("/", forged), Refusal) and isinstance(_get("/", ("Cookie", f"logctl-9999={SESSION}")), Refusal)


def test_a_page_without_credentials_is_a_401_page() -> None:
    """No token and no cookie on a page: 401 answered as a page (the hub explains ?token=)."""
    refusal = _get("/runs/x")
    assert isinstance(refusal, Refusal) and (refusal.status, refusal.reason, refusal.page) == (401, "missing_token", True)
    api = _get("/admin/runs")
    assert isinstance(api, Refusal) and not api.page


def test_cookie_names_and_parsing() -> None:
    """The cookie is named per port (hubs on one host do not clash); values are found among others."""
    assert web.cookie_name("127.0.0.1:8765") == "logctl-8765" and web.cookie_name("[::1]:9") == "logctl-9"
    assert web.cookie_name("localhost") == "logctl" == web.cookie_name(None) == web.cookie_name("[::1]")
    assert web.cookie_values(["a=1; logctl-1=x", "logctl-1=y"], "logctl-1") == ["x", "y"]
    assert web.without_token("/", "token=a") == "./" and web.without_token("/runs/x", "a=1&token=t&b=") == "./x?a=1&b="
    assert web.without_token("/runs/a:b", "token=t") == "./a:b"  # never read as a scheme
