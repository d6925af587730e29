"""The web viewer's routes and HTTP rules are pure decisions (core/routes.py, core/web.py)."""

from __future__ import annotations

import pytest

from logctl.core import web
from logctl.core.routes import Access, HttpRequest, Page, Refusal, Static, Upgrade, route


def test_the_root_is_the_runs_page_unless_it_is_a_websocket_handshake() -> None:
    """GET / is the runs page; GET / with ``Upgrade: websocket`` is still the WebSocket endpoint, as is /ws."""
    assert route(HttpRequest("GET", "/")) == Page("index.html")
    assert route(HttpRequest("HEAD", "/?match=build-*")) == Page("index.html")
    assert route(HttpRequest("GET", "/", (("Upgrade", "websocket"),))) == Upgrade()
    assert route(HttpRequest("GET", "/ws", (("Upgrade", "websocket"),))) == Upgrade()


def test_every_thread_has_the_same_thread_page() -> None:
    """/runs/{thread_id} is thread.html for any valid (URL-encoded) id; an id no thread may have is 400."""
    for target in ("/runs/demo-build", "/runs/a%2Fb", "/runs/%3Cscript%3E?level=WARN&q=x", "/runs/%E2%80%AEevil"):
        assert route(HttpRequest("GET", target)) == Page("thread.html", depth=1), target
    for target in ("/runs/" + "x" * 300, "/runs/%00", "/runs/%FF"):
        decision = route(HttpRequest("GET", target))
        assert isinstance(decision, Refusal) and decision.status == 400, target
    for target in ("/runs/", "/runs/a/b"):
        decision = route(HttpRequest("GET", target))
        assert isinstance(decision, Refusal) and decision.status == 404, target


def test_a_selection_of_threads_has_the_thread_page_too() -> None:
    """/runs?match=build-* (several threads as one stream) is thread.html, at the root's depth; the page reads the
    selection from the query."""
    for target in ("/runs?match=build-*", "/runs?thread=a&thread=b", "/runs"):
        assert route(HttpRequest("GET", target)) == Page("thread.html", depth=0), target


def test_a_page_is_rebased_for_its_depth() -> None:
    """A page's relative href and src get one ../ per folder (./ becomes ../); absolute URLs, schemes and fragments stay."""
    page = (b'<script type="module" async src="static/a.js"></script><link rel="icon" href="static/i.svg">'
            b'<a href="./">home</a><a href="/abs">x</a><a href="#top">y</a><a href="https://e.example/">z</a>'
            b'<a href="mailto:a@b">m</a><p>href="static/not-an-attribute"</p>')
    assert web.rebase_page(page, 0) == page
    assert web.rebase_page(page, 1) == (
        b'<script type="module" async src="../static/a.js"></script><link rel="icon" href="../static/i.svg">'
        b'<a href="../">home</a><a href="/abs">x</a><a href="#top">y</a><a href="https://e.example/">z</a>'
        b'<a href="mailto:a@b">m</a><p>href="static/not-an-attribute"</p>'
    )
    assert web.rebase_page(b'<a href="runs/x">', 2) == b'<a href="../../runs/x">'


def test_the_viewers_files_use_no_absolute_url() -> None:
    """No page or module of the web viewer names a URL from the server's root (``/static/…``, ``from "/…"``), which a
    proxy serving the hub under a path prefix would send to its own root (docs/web.md: Relative URLs)."""
    import re
    from importlib import resources

    absolute = re.compile(r'url\(\s*["\']?/|(?:href|src)\s*=\s*["\']/|(?:from|import)\s*\(?\s*["\']/|fetch\(\s*["\'`]/|new (?:URL|WebSocket)\(\s*["\'`]/')
    static = resources.files("logctl.web").joinpath("static")
    names = [f.name for f in static.iterdir() if f.name.endswith((".html", ".js", ".css"))]
    assert {"thread.html", "thread.js", "thread-feed.js", "thread-boot.js"} <= set(names)
    found = {name: absolute.findall(static.joinpath(name).read_text()) for name in names}
    assert not {name: hits for name, hits in found.items() if hits}


@pytest.mark.parametrize("name", ["style.css", "runs.js", "a/b.svg", "favicon.svg", "x-1_2.json"])
def test_static_names_that_may_be_asked_for(name: str) -> None:
    """Plain names of known kinds, in at most a few plain folders, are static routes."""
    assert route(HttpRequest("GET", f"/static/{name}")) == Static(name)


@pytest.mark.parametrize("name", [
    "../pyproject.toml", "..", "a/../b.js", "%2e%2e/x.js", "..%2fx.js", ".hidden.js", "a//b.js", "/etc/passwd",
    "x.py", "x", "x.js/", "a\\b.js", "x.js%00", "x.JS.py", "a/b/c/d/e.js", "", "...js",
])
def test_static_names_that_can_never_name_a_file(name: str) -> None:
    """Traversal, encoded characters, hidden files and unknown kinds are 404 before any file is looked up."""
    decision = route(HttpRequest("GET", f"/static/{name}"))
    assert isinstance(decision, Refusal) and decision.status == 404, name
    assert not web.is_static_name(name)


def test_static_files_need_no_token_but_pages_need_read() -> None:
    """With tokens required, /static/ is open (it is the package's code) while / and /runs/x are 401."""
    from logctl.core.tokens import TokenTable

    access = Access(tokens=TokenTable())
    assert route(HttpRequest("GET", "/static/runs.js"), access) == Static("runs.js")
    for target in ("/", "/runs/x"):
        decision = route(HttpRequest("GET", target), access)
        assert isinstance(decision, Refusal) and decision.status == 401, target


def test_content_types_by_extension() -> None:
    """Each kind served has its content type; anything else has none (and is never served)."""
    assert web.content_type("a.js") == "text/javascript; charset=utf-8"
    assert web.content_type("a.css") == "text/css; charset=utf-8"
    assert web.content_type("a.html") == "text/html; charset=utf-8"
    assert web.content_type("a.py") is None and web.content_type("js") is None


def test_conditional_requests() -> None:
    """If-None-Match with the ETag (in a list, weak or ``*``) means 304; another tag or none means 200."""
    tag = web.etag(b"body")
    assert web.not_modified(tag, tag) and web.not_modified(tag, f'"x", W/{tag}') and web.not_modified(tag, "*")
    assert not web.not_modified(tag, None) and not web.not_modified(tag, '"other"')
    assert web.etag(b"body") != web.etag(b"body2")


def test_security_headers_name_only_a_plain_host_for_websockets() -> None:
    """The CSP is default-src 'self'; connect-src adds ws/wss of the Host only when it is a plain host[:port]."""
    headers = dict(web.security_headers("127.0.0.1:8765"))
    assert headers["Content-Security-Policy"].startswith("default-src 'self';")
    assert "connect-src 'self' ws://127.0.0.1:8765 wss://127.0.0.1:8765;" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    for hostile in ("evil; script-src *", "a b", "x'y", None):
        assert "connect-src 'self';" in dict(web.security_headers(hostile))["Content-Security-Policy"]
    assert "ws://[::1]:9 " in dict(web.security_headers("[::1]:9"))["Content-Security-Policy"]
