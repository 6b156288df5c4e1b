"""Start a server process for a test, wait until it responds, and stop it afterwards."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def venv_env(**extra: str) -> dict[str, str]:
    """Return this environment with the virtual env's bin folder first on PATH.

    `mlflow` starts `uvicorn` and `gunicorn` by name, so they must be found on PATH.
    """
    path = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])
    return os.environ | {"PATH": path} | extra


@contextlib.contextmanager
def running_server(
    command: list[str],
    url: str,
    *,
    health_path: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 120,
) -> Iterator[str]:
    """Run `command` until `url + health_path` returns HTTP 200; yield `url`, then stop it.

    Raises:
        RuntimeError: If the process exits before it responds, with the end of its log.
        TimeoutError: If it does not respond within `timeout_s`, with the end of its log.
    """
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_healthy(url + health_path, process, log_path, timeout_s)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(
    health_url: str, process: subprocess.Popen, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args[0]} exited with code {process.returncode}:\n"
                f"{log_path.read_text()[-3000:]}"
            )
        try:
            if requests.get(health_url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise TimeoutError(
        f"{health_url} did not respond within {timeout_s} s:\n{log_path.read_text()[-3000:]}"
    )
