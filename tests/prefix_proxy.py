"""A real reverse proxy on loopback for tests: a hub served under a path prefix, as docs/security.md's nginx example."""

from __future__ import annotations

import dataclasses
import socket
import threading

from helpers import HubProcess

__all__ = ["PrefixProxy", "ProxiedHub"]


class PrefixProxy:
    """A real reverse proxy on loopback serving a hub under ``prefix``, as docs/security.md's nginx example does.

    It takes the prefix off each request's path and, with ``rewrite_host``, sends the hub's own
    ``Host`` (nginx's ``$proxy_host``); every other header (``Origin``, ``Cookie``,
    ``Authorization``, ``Upgrade``) is passed on unchanged. A WebSocket upgrade is relayed both
    ways for as long as it lasts; any other request is one request per connection (as the hub
    answers it). A path outside the prefix gets 404. ``paths`` lists every request's path as
    the proxy received it. ``target_port`` may be set after the proxy starts (the hub may need
    the proxy's origin to start).
    """

    def __init__(self, target_port: int = 0, prefix: str = "/pfx", *, rewrite_host: bool = False) -> None:
        self.target_port, self.prefix, self.rewrite_host = target_port, prefix, rewrite_host
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.paths: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk or len(head) > 65536:
                    return
                head += chunk
            head, rest = head.split(b"\r\n\r\n", 1)
            line, *fields = head.decode("latin-1").split("\r\n")
            method, path, version = line.split(" ", 2)
            self.paths.append(path)
            if not path.startswith(self.prefix + "/"):
                client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if self.rewrite_host:
                fields = [f for f in fields if f.partition(":")[0].strip().lower() != "host"]
                fields.insert(0, f"Host: 127.0.0.1:{self.target_port}")
            upgrade = any(f.partition(":")[0].strip().lower() == "upgrade" for f in fields)
            forwarded = "\r\n".join([f"{method} {path[len(self.prefix):]} {version}", *fields]) + "\r\n\r\n"
            with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
                upstream.sendall(forwarded.encode("latin-1") + rest)
                if not upgrade:  # the hub answers one request and closes; nothing more goes up unrewritten
                    self._pipe(upstream, client)
                    return
                back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
                back.start()
                self._pipe(client, upstream)
                back.join(timeout=10)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()


@dataclasses.dataclass(frozen=True)
class ProxiedHub:
    """A hub that needs tokens, behind a :class:`PrefixProxy`; ``reader`` and ``writer`` are a read and a write token."""

    hub: HubProcess
    proxy: PrefixProxy
    reader: str
    writer: str

    @property
    def base(self) -> str:
        """The hub's root URL through the proxy: ``http://127.0.0.1:PORT/logctl/``."""
        return f"{self.proxy.origin}{self.proxy.prefix}/"
