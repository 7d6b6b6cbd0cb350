"""gunicorn settings for an app built on bcapp: ``gunicorn -c python:bcapp.gunicorn shop:app``.

What they give any app, in its own repository (this repository's gunicorn.conf.py imports them):
- an access log without query strings or the Referer, because BigCommerce puts auth codes and
  signed payloads in callback URLs, with control characters escaped (docs/security.md R7);
- Prometheus samples shared by every worker (multiprocess mode) when BCAPP_METRICS_TOKEN is set;
- a bad configuration refused with its message before anything binds;
- in development, the dev loop beside the web workers: one task worker (restarted on code change
  with `--reload`, as `bcapp dev` runs it), the local BigCommerce simulator when no credentials
  are configured, and the embedded Redis, all stopped with the server.
With no app on the command line, BCAPP_APP names it (a factory is called in each worker).
`.env` in the working directory fills the environment's gaps, as for every `bcapp` command.
Run as `bcapp dev` runs it, and what each setting is for: docs/development.md.
"""

import functools
import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

from dotenv import load_dotenv

# Read before the settings below: BCAPP_APP, PORT or WEB_CONCURRENCY may be in `.env` only.
load_dotenv(".env", override=False)
if os.environ.get("BCAPP_APP", "").strip():
    wsgi_app = "bcapp.app_spec:served_app()"  # the command line's app, when given, wins
bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Threads keep /load answering while a worker waits on BigCommerce's token endpoint (A8.2).
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 5)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30  # above the token-exchange deadline (20 s)
# Production lets in-flight requests finish (a token exchange takes up to 20 s); `make run`
# stops within a few seconds of Ctrl-C, whatever a worker is doing.
_PRODUCTION = os.environ.get("BCAPP_ENV", "").strip().lower() == "production"
graceful_timeout = 30 if _PRODUCTION else 3
keepalive = 5
# gunicorn 25+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): two
# servers of one user (an app's dev and production, parallel tests) would share it and one could
# steer the other's workers. bcapp's servers are managed by signals and their supervisor.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss'
# Escapes control characters in logged values: a decoded %0a in a path cannot forge a line.
logger_class = "bcapp.web.access_log.SafeAccessLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# limit_request_line and friends stay at gunicorn's defaults (docs/security.md R8): a genuine
# signed_payload_jwt is about 1 KiB; bcapp refuses payloads over 8 KiB itself anyway.


# With BCAPP_METRICS_TOKEN, workers share their Prometheus samples through a fresh directory
# (prometheus-client's multiprocess mode); it is set here, before any worker starts.
_metrics_dir: str | None = None
if os.environ.get("BCAPP_METRICS_TOKEN") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir = tempfile.mkdtemp(prefix="bcapp-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

_simulator: "subprocess.Popen[bytes] | None" = None
_worker: "subprocess.Popen[bytes] | None" = None
_settings = None  # the master's Settings, built once in on_starting
_master: object = None  # in a web worker: its copy of the master (gunicorn's Arbiter)


def on_starting(server: object) -> None:
    """Refuse to start on a bad configuration with its message, before binding anything."""
    global _settings
    from bcapp.app_spec import load_declarations
    from bcapp.errors import ConfigurationError
    from bcapp.settings import Settings

    try:
        _settings = Settings.from_env(dict(os.environ))
        # The app's modules too, so one that does not import stops the server here, unbound.
        # Not with --reload: every worker is forked from this process, so a module imported
        # here would be served unchanged after each reload (`bcapp dev` loaded them before
        # starting gunicorn); the settings this process uses do not depend on them.
        if not server.cfg.reload:  # type: ignore[attr-defined]
            _settings = load_declarations(_settings)
    except ConfigurationError as exc:
        print(f"bcapp: {exc}", file=sys.stderr, flush=True)  # noqa: T201
        sys.exit(1)


def when_ready(server: object) -> None:
    """In development, start one task worker beside the app (`make run` runs webhook handlers
    offline; production runs the Procfile's `worker:` line instead), and without BigCommerce
    credentials the local simulator too."""
    global _simulator, _worker
    if _settings is None:
        return
    if not _settings.is_production and os.environ.get("BCAPP_WORKER") != "off":
        if _settings.redis_url is None:  # the embedded Redis is this server's, not the worker's
            from bcapp.store import embedded

            embedded.ensure_running(_settings.instance_dir)
        _worker = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            _worker_command(reload=bool(server.cfg.reload)),  # type: ignore[attr-defined]
        )
    if _settings.simulator_url is None:
        return
    if os.environ.get("BCAPP_SIMULATOR") == "off":
        return
    port = _settings.simulator_url.rsplit(":", 1)[-1]
    _simulator = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "bcapp.cli", "simulator", "--port", port],
    )
    banner = f"Open {_settings.simulator_url}/ to install and open the app in a simulated store."
    print(f"\n  {banner}\n", flush=True)  # noqa: T201 - the one URL a newcomer needs


def _worker_command(reload: bool) -> list[str]:
    """`bcapp worker`, under watchfiles when the web workers reload on code change: it restarts
    the worker when a Python file of the project changes (Celery has no reloader of its own)."""
    worker = [sys.executable, "-m", "bcapp.cli", "worker", "--concurrency", "2"]
    if not reload:
        return worker
    return [
        sys.executable, "-m", "watchfiles", "--filter", "python", "--sigint-timeout", "4",
        shlex.join(worker), os.getcwd(),
    ]


def on_exit(server: object) -> None:
    """Stop the simulator, the worker and the embedded development Redis this server started."""
    from bcapp.store import embedded

    if _metrics_dir is not None:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
    children = [child for child in (_simulator, _worker) if child is not None]
    for child in children:  # all told at once: they stop side by side, not one after the other
        child.terminate()  # the worker finishes the handlers it runs (Celery's warm shutdown)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()  # its unfinished tasks run again after the visibility timeout
            child.wait()
    if _settings is not None and _settings.redis_url is None:
        embedded.stop(_settings.instance_dir)


def post_fork(server: object, worker: object) -> None:
    """Keep, in the new web worker, its copy of the master (see post_worker_init); start its
    traces when OTEL_* asks (after the fork: the exporter's thread is the worker's own)."""
    global _master
    _master = server
    from bcapp import tracing

    tracing.start("web")


def post_worker_init(worker: object) -> None:
    """Ctrl-C (or the master's SIGQUIT) ends a web worker at once, whatever it was doing, even
    when it was still starting up; with traces on, the loaded app's requests are traced."""
    from bcapp import tracing

    if tracing.started():
        from bcapp.tracing.web import instrument_app

        instrument_app(worker.wsgi)  # type: ignore[attr-defined]
    # gunicorn's gthread worker shuts its thread pool down inside its SIGINT/SIGQUIT handler:
    # when the signal lands while the main thread is inside the pool's submit(), which holds the
    # same non-reentrant lock, the worker deadlocks until the master kills it graceful_timeout
    # later (python/cpython#121649; seen in tests/test_make_run_cycles.py). The base worker's
    # handler quits the same way without touching the pool, whose threads Python joins at exit.
    from gunicorn.workers.base import Worker

    quit_now = functools.partial(Worker.handle_quit, worker)
    for number in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(number, quit_now)
    # A stop signal that came before the worker had handlers of its own (Ctrl-C while it was
    # being forked, a common moment on a busy machine) went to the master's handler it inherited,
    # which only queues it: honoured here, or the worker would serve on until killed.
    early = set()
    while (queued := getattr(_master, "SIG_QUEUE", None)) is not None and not queued.empty():
        early.add(queued.get_nowait())
    if early & {signal.SIGINT, signal.SIGQUIT}:
        quit_now(signal.SIGINT, None)
    if signal.SIGTERM in early:
        worker.alive = False  # type: ignore[attr-defined] # gunicorn's graceful stop


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges stop counting (prometheus-client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
