"""`make run` (`bcapp dev wsgi:app`) stops on Ctrl-C within 5 s, ten times in a row (issue 20,
Build 6 and acceptance 3; issue 27, Build 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcapp.store import embedded

pytestmark = pytest.mark.slow


def test_make_run_stops_within_seconds_of_ctrl_c_again_and_again(tmp_path: Path) -> None:
    """Issue 20, Build 6: Ctrl-C (SIGINT) stops the development server, its simulator, its task
    worker and its embedded Redis within seconds, ten times in a row, even with a client
    holding a connection open, and the ports are free for the next start."""
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    from tests.servers import REPO, free_port, wait_until_serving

    instance = tmp_path / "instance"
    for attempt in range(10):  # ten in a row (issue 20, acceptance 3)
        port = free_port(twin=1)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BC", "REDIS"))}
        env |= {"PORT": str(port), "BCAPP_INSTANCE_DIR": str(instance), "WEB_CONCURRENCY": "2"}
        log = (tmp_path / f"run{attempt}.log").open("w")
        server = subprocess.Popen(  # what `make run` runs (Makefile): reload on, worker watched
            [str(Path(sys.executable).parent / "bcapp"), "dev", "wsgi:app"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            wait_until_serving(f"http://127.0.0.1:{port}", server)
            held = socket.create_connection(("127.0.0.1", port))  # a browser's idle connection
            held.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            started = time.monotonic()
            os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C sends to the whole group
            server.wait(timeout=20)
        except BaseException:  # a failed cycle leaves nothing running for the tests after it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
            embedded.stop(instance)
            raise
        took = time.monotonic() - started
        held.close()
        log.close()
        assert took < 5, f"stopped in {took:.1f} s"
        assert not embedded.is_running(instance), "its embedded Redis stopped"
        assert group_ends(server.pid), "no process of the group (simulator, task worker) is left"
        for freed in (port, port + 1):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", freed))  # the app's and the simulator's ports are free


def group_ends(group: int, within: float = 5.0) -> bool:
    """True once no process of the group is left (its last ones may still be exiting)."""
    import os
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
