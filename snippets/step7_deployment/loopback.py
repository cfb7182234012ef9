"""Start the Step 7 service on a free loopback port and wait until it is ready.

The client tour, the load test, the Step 7 lab and the tests all start a real server this way, so
the code lives here once rather than inside one of those lessons.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

APP = Path(__file__).with_name("app.py")


class Base(str):
    """The server's base URL, which also knows the server's process id (``.pid``)."""

    pid: int


@contextlib.contextmanager
def running_server(*args, env=None, log=None, ready_within=90, ready_path="/ready"):
    """Start app.py on a free 127.0.0.1 port, wait until ``ready_path`` answers 200, yield its
    base URL (a Base: ``.pid`` is the server's process), stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, str(APP), "--port", str(port), *map(str, args)],
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base, start = f"http://127.0.0.1:{port}", time.perf_counter()
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {proc.returncode}" + (f"; see {log}" if log else ""))
            if time.perf_counter() - start > ready_within:
                raise RuntimeError(f"the server was not ready within {ready_within} s")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}{ready_path}", timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        base = Base(base)
        base.pid = proc.pid
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if log:
            out.close()
