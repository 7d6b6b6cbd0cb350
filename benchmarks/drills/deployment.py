"""bcapp as deployed, for a drill: gunicorn (2 gthread workers, gunicorn.conf.py's threads)
and two `bcapp worker` processes, on a Redis and a broker the drill chooses, with one store
installed and the drill's handler declared (benchmarks/drills/handlers.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from kombu.exceptions import KombuError

from bcapp.broker import AMQP_SCHEMES, TaskQueue, celery_app
from bcapp.settings import Settings
from benchmarks.load_throughput import install_store
from benchmarks.serving import REPO, app_environment, free_port, gunicorn

THREADS = 4  # gunicorn.conf.py's default: production's gthread workers
WORKER_PROCESSES = 2
WORKER_CONCURRENCY = 4  # `bcapp worker`'s default


RESTART_SECONDS = 1.0  # a process manager's pause before it starts an exited worker again


@dataclass
class Deployment:
    """The running deployment: its URL, environment and task worker processes, kept running
    as a process manager keeps the Procfile's (an exited worker is started again)."""

    url: str
    env: dict[str, str]
    folder: Path
    workers: list[subprocess.Popen[bytes]]
    restarts: list[str] = field(default_factory=list)  # why each restart was needed
    _stopping: threading.Event = field(default_factory=threading.Event)

    def supervise(self) -> None:
        """Start any worker that exited again after RESTART_SECONDS (in a thread)."""
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.1):
            for number, process in enumerate(self.workers):
                code = process.poll()
                if code is None:
                    continue
                if self._stopping.wait(RESTART_SECONDS):
                    return
                self.restarts.append(f"worker {number} exited with {code}")
                self.start_worker(number)

    @property
    def ledger(self) -> Path:
        """Where the handler writes its runs."""
        return Path(self.env["DRILL_LEDGER"])

    def kill_worker(self, number: int) -> int:
        """SIGKILL task worker `number` (no goodbye, tasks in hand); its pid."""
        process = self.workers[number]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        return process.pid

    def queued(self) -> str:
        """What the broker holds now: tasks waiting and, on Redis, tasks taken by a worker and
        not yet acknowledged (kombu's `unacked` hash; what a lost worker held)."""
        settings = Settings.from_env(self.env, dotenv="")
        queue = TaskQueue(celery_app(settings, self.env["REDIS_URL"]))
        try:
            waiting = queue.depth()
            said = f"{'?' if waiting is None else waiting} waiting"
            if queue.app.conf.broker_url.startswith(AMQP_SCHEMES):
                return said
            with queue.app.connection_for_read() as connection:
                channel = connection.default_channel
                return f"{said}, {channel.client.hlen(channel.unacked_key)} unacknowledged"
        except (OSError, KombuError, redis.RedisError) as exc:
            return f"unknown ({type(exc).__name__})"
        finally:
            queue.close()

    def start_worker(self, number: int) -> None:
        """Start task worker `number` (again: a supervisor's restart)."""
        self.workers[number] = worker_process(self.env, self.folder / f"worker-{number}.log")

    def stop(self) -> None:
        """Stop the task workers (warm shutdown: tasks in hand finish)."""
        self._stopping.set()
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def worker_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`bcapp worker` as the Procfile runs it."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BC", "REDIS"))} | env
    with log.open("a") as out:
        return subprocess.Popen(  # noqa: S603 - this venv's Python, fixed arguments
            [sys.executable, "-m", "bcapp.cli", "worker", "--concurrency",
             str(WORKER_CONCURRENCY)],
            cwd=REPO,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def deployed(
    folder: Path,
    redis_url: str,
    broker_url: str | None,
    visibility_timeout: int,
    extra: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    """Serve bcapp on `redis_url` (and `broker_url`, else the same Redis), with `extra`
    settings, until the block ends."""
    ledger = folder / "ledger"
    ledger.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = app_environment(redis_url, port) | {
        "BCAPP_RECEIVERS": "benchmarks.drills.handlers",
        "DRILL_LEDGER": str(ledger),
        "BCAPP_INSTANCE_DIR": str(folder),
        "BCAPP_TASK_VISIBILITY_TIMEOUT": str(visibility_timeout),
        "BCAPP_TASK_RETRY_BASE": "0.5",
    }
    if broker_url:
        env["BCAPP_BROKER_URL"] = broker_url
    env.update(extra or {})
    install_store(env)
    with ExitStack() as stack:
        url = stack.enter_context(gunicorn("wsgi:app", env, port, THREADS))
        deployment = Deployment(url, env, folder, [])
        for number in range(WORKER_PROCESSES):
            deployment.workers.append(worker_process(env, folder / f"worker-{number}.log"))
        stack.callback(deployment.stop)
        deployment.supervise()
        yield deployment
