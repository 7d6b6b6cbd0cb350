"""A TCP proxy on loopback that can be cut and restored: a broker's network going away.

Stopping it closes every connection it carries and refuses new ones, as a broker that stopped
does for its clients; started again on the same port, clients reconnect through it. Used where
the broker itself is shared and cannot be stopped (the machine's RabbitMQ).
`swallow()` keeps connections open but drops what clients send: a link that died silently.
A subclass sees each answer of the server in `answered` (tests/test_redis_broker_take.py cuts
every connection at the answer that hands a worker a message).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self

CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `upstream` while started."""

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self.upstream = upstream
        self.port = port
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._swallowing = threading.Event()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Listen (on the same port as before after a stop) and forward."""
        self._swallowing.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one (both directions, at once)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            open_sockets, self._sockets = self._sockets, set()
        for sock in open_sockets:
            _close(sock)

    def swallow(self) -> None:
        """Keep every connection open but drop what clients send from now on."""
        self._swallowing.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    _close(client)
                    _close(server)
                    return
                self._sockets.update((client, server))
            for source, target, outgoing in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, target, outgoing), daemon=True
                ).start()

    def answered(self, data: bytes, client: socket.socket) -> bool:
        """Pass `data`, from the server, on to `client`; False ends the connection."""
        client.sendall(data)
        return True

    def _pump(self, source: socket.socket, target: socket.socket, outgoing: bool) -> None:
        try:
            while data := source.recv(CHUNK):
                if not outgoing:
                    if not self.answered(data, target):
                        break
                elif not self._swallowing.is_set():
                    target.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
