"""Local stand-ins for failing dependencies, so outages are simulated without touching the
shared PostgreSQL and Redis: a server that accepts connections and never answers (a hung
database), a port nobody listens on (a service that is down), and a TCP proxy that can be
cut and restored (a service that goes away and comes back)."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self


def closed_port() -> int:
    """A local port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class _Listener:
    """Accepts connections on 127.0.0.1 in a thread; `handle` gets each one."""

    def __init__(self, port: int = 0) -> None:
        self._server = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.port: int = self._server.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections.append(conn)
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        """Keep the connection open and never answer (override to do more)."""

    def close(self) -> None:
        """Stop listening (new connections are refused) and drop every open connection."""
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self._lock:
            connections, self.connections = self.connections, []
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SilentServer(_Listener):
    """A hung server: it accepts every connection and never sends a byte."""


class _Pipe(_Listener):
    def __init__(self, target: tuple[str, int], port: int) -> None:
        self._target = target
        super().__init__(port)

    def handle(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self.connections.append(upstream)
        for src, dst in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`. `cut()` drops every connection and stops
    listening (the service is down: connections are refused); `restore()` listens again on
    the same port (the service is back)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._pipe: _Pipe | None = _Pipe(target, 0)
        self.port = self._pipe.port

    def cut(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def restore(self) -> None:
        if self._pipe is None:
            self._pipe = _Pipe(self._target, self.port)

    def close(self) -> None:
        self.cut()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
