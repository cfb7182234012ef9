"""The Step 7 service inside the test process: FastAPI's TestClient around ``create_app``, for
the route tests (test_step7_app.py) and the attack tests (test_step7_attacks.py)."""

from __future__ import annotations

import contextlib
import time

from fastapi.testclient import TestClient

from guide.timing import hang_guard
from step7_deployment.app import Settings, create_app


@contextlib.contextmanager
def in_process(settings: Settings, ready_path="/ready", **client_options):
    """The app as a TestClient (its lifespan runs: the model loads in a thread), once ``ready_path``
    answers 200."""
    with TestClient(create_app(settings), **client_options) as client:
        guard = hang_guard("step7_deployment/app.py")
        deadline = time.monotonic() + guard
        while client.get(ready_path).status_code != 200:
            assert time.monotonic() < deadline, f"{ready_path} did not answer 200 within {guard:.0f} s: it hangs"
            time.sleep(0.05)
        yield client
