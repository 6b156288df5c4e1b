"""A throwaway PostgreSQL server on a free loopback port, for tests of shared stores.

The server is Debian's PostgreSQL (`.ci/run` installs it when missing). `initdb` refuses to
run as root, so under root the cluster is created and started as the `postgres` user. The
tests are skipped when no PostgreSQL binaries are installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

SUPERUSER = "churnlab"


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as_owner(command: list[str]) -> None:
    """Run a PostgreSQL server command, as the `postgres` user when this process is root."""
    if os.geteuid() == 0:
        command = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL with trust authentication on loopback; yield `postgresql://user@host:port`."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found; install Debian's postgresql package")
    # Not under pytest's temporary folder, which only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="churnlab-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    data = folder / "data"
    port = free_port()
    _run_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER])
    options = f"'-k {folder} -p {port} -h 127.0.0.1'"
    log = folder / "server.log"
    _run_as_owner(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
    )
    try:
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}"
    finally:
        _run_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def new_database(postgres_server: str):
    """A function that creates an empty database on the server and returns its URL."""

    def create(name: str) -> str:
        import psycopg

        with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"{postgres_server}/{name}"

    return create
