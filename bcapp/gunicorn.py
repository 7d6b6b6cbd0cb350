"""gunicorn settings for bcapp (read automatically from the working directory).

The access log leaves out query strings and the Referer, because BigCommerce puts auth codes
and signed payloads in callback URLs (docs/security.md R7).
"""

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile

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


def on_starting(server: object) -> None:
    """Refuse to start on a bad configuration with its message, before binding anything."""
    global _settings
    from bcapp.errors import ConfigurationError
    from bcapp.settings import Settings

    try:
        _settings = Settings.from_env()
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
        _worker = subprocess.Popen(
            [sys.executable, "-m", "bcapp.cli", "worker", "--concurrency", "2"],
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


def on_exit(server: object) -> None:
    """Stop the simulator, the worker and the embedded development Redis this server started."""
    from bcapp.store import embedded

    if _metrics_dir is not None:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
    for child in (_simulator, _worker):
        if child is None:
            continue
        child.terminate()  # the worker finishes the handlers it runs (Celery's warm shutdown)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()  # its unfinished tasks run again after the visibility timeout
            child.wait()
    if _settings is not None and _settings.redis_url is None:
        embedded.stop(_settings.instance_dir)


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges stop counting (prometheus-client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
