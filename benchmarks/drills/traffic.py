"""Steady traffic for a drill: load callbacks and webhook deliveries at fixed rates, sent by a
pool of keep-alive HTTP connections, with BigCommerce's behaviour for deliveries: one that is
not answered 2xx is sent again (a new webhook-id, the same event: hash and time) until it is.

BigCommerce waits longer between its retries (minutes); the drill waits RETRY_SECONDS, so a
fault's every retry falls inside the run. Every answer is kept with its time and status.
"""

from __future__ import annotations

import heapq
import http.client
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from bcapp.simulator.signing import jwt_claims, sign_jwt, standard_webhook_headers
from benchmarks.load_throughput import OWNER, STORE_HASH

RETRY_SECONDS = 1.0
SENDERS = 24
TIMEOUT_SECONDS = 10.0
LOAD_OK = 302  # a load answers with a redirect into the app


@dataclass(frozen=True)
class Answer:
    """One request's outcome: when it was answered, what it was, its status (0: none)."""

    at: float
    kind: str  # "load" or "webhook"
    status: int


@dataclass
class Event:
    """One webhook event: its number (the order id), hash and time, and its attempts."""

    number: int
    hash: str
    created_at: int
    attempts: int = 0


@dataclass
class Traffic:
    """Loads and deliveries at `loads` and `deliveries` per second to `url` while running."""

    url: str
    client_id: str
    secret: str
    loads: float
    deliveries: float
    answers: list[Answer] = field(default_factory=list)
    acked: dict[int, float] = field(default_factory=dict)  # event number: when answered 2xx
    sent_events: int = 0
    _jobs: queue.Queue[tuple[str, Event | None] | None] = field(default_factory=queue.Queue)
    _retries: list[tuple[float, int, Event]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sending: threading.Event = field(default_factory=threading.Event)
    _in_flight: int = 0
    _stopped: bool = False
    _threads: list[threading.Thread] = field(default_factory=list)
    _run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def start(self) -> None:
        """Start sending new loads and events."""
        self._sending.set()
        netloc = urlsplit(self.url).netloc
        self._threads = [
            threading.Thread(target=self._send, args=(netloc,), daemon=True)
            for _ in range(SENDERS)
        ]
        self._threads.append(threading.Thread(target=self._dispatch, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop_new(self) -> None:
        """Send no new load or event (retries go on)."""
        self._sending.clear()

    def settle(self, seconds: float) -> bool:
        """Retry until every event is acknowledged (True) or `seconds` pass (False); then
        stop every thread."""
        deadline = time.monotonic() + seconds
        settled = False
        while time.monotonic() < deadline:
            with self._lock:
                if not self._retries and self._in_flight == 0 and self._jobs.empty():
                    settled = True
                    break
            time.sleep(0.05)
        self._stopped = True
        for _ in range(SENDERS):
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=TIMEOUT_SECONDS + 5)
        return settled

    def _dispatch(self) -> None:
        """Queue each load and event when its time comes, and each retry when due."""
        started, loads, events = time.monotonic(), 0, 0
        while not self._stopped:
            now = time.monotonic()
            if self._sending.is_set():
                while loads < (now - started) * self.loads:
                    loads += 1
                    self._queue("load", None)
                while events < (now - started) * self.deliveries:
                    events += 1
                    self.sent_events = events
                    made = Event(events, f"{self._run}{events:032d}", int(time.time()))
                    self._queue("webhook", made)
            with self._lock:
                while self._retries and self._retries[0][0] <= now:
                    _, _, event = heapq.heappop(self._retries)
                    self._in_flight += 1
                    self._jobs.put(("webhook", event))
            time.sleep(0.005)

    def _queue(self, kind: str, event: Event | None) -> None:
        with self._lock:
            self._in_flight += 1
        self._jobs.put((kind, event))

    def _send(self, netloc: str) -> None:
        connection = http.client.HTTPConnection(netloc, timeout=TIMEOUT_SECONDS)
        while (job := self._jobs.get()) is not None:
            kind, event = job
            try:
                status = self._request(connection, kind, event)
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = http.client.HTTPConnection(netloc, timeout=TIMEOUT_SECONDS)
            now = time.time()
            with self._lock:
                self.answers.append(Answer(now, kind, status))
                self._in_flight -= 1
                if event is not None:
                    if 200 <= status < 300:
                        self.acked.setdefault(event.number, now)
                    else:
                        due = time.monotonic() + RETRY_SECONDS
                        heapq.heappush(self._retries, (due, event.number, event))
        connection.close()

    def _request(
        self, connection: http.client.HTTPConnection, kind: str, event: Event | None
    ) -> int:
        if event is None:
            claims = jwt_claims(self.client_id, STORE_HASH, OWNER, OWNER)
            token = sign_jwt(claims | {"jti": uuid.uuid4().hex}, self.secret)
            path = "/bigcommerce/load?" + urlencode({"signed_payload_jwt": token})
            connection.request("GET", path)
        else:
            event.attempts += 1
            body = json.dumps({
                "scope": "store/order/created",
                "store_id": "1",
                "data": {"type": "order", "id": event.number},
                "hash": event.hash,
                "created_at": event.created_at,
                "producer": f"stores/{STORE_HASH}",
            })
            webhook_id = f"msg_{self._run}_{event.number}_{event.attempts}"
            headers = standard_webhook_headers(self.secret, webhook_id, int(time.time()), body)
            headers["Content-Type"] = "application/json"
            connection.request("POST", "/bigcommerce/webhooks", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
