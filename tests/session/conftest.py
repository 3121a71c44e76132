"""Fixtures for the session tests: stores of every kind, and a throwaway PostgreSQL server."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from opi_cli.session.store import SessionStore
from opi_cli.session.stores import JsonlStore, MemoryStore

STORE_KINDS = [
    "memory",
    "jsonl",
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("postgres")]),
]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> tuple[list[str], int, int]:
    """A command prefix to drop root (initdb refuses to run as root), and that user's ids."""
    if os.geteuid() != 0:
        return [], os.getuid(), os.getgid()
    try:
        pw = pwd.getpwnam("postgres")
        return ["runuser", "-u", "postgres", "--"], pw.pw_uid, pw.pw_gid
    except KeyError:
        pw = pwd.getpwnam("nobody")
        prefix = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"]
        return prefix, pw.pw_uid, pw.pw_gid


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a private PostgreSQL on a loopback port for this test session; yields an admin DSN."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail(
            "PostgreSQL binaries (initdb, pg_ctl) were not found on PATH or in /usr/lib/postgresql/*/bin; "
            "install Debian's postgresql package (.ci/run does) to run the postgres tests"
        )
    prefix, uid, gid = _run_as()
    base = Path(tempfile.mkdtemp(prefix="opi-pg-"))
    os.chmod(base, 0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    os.chown(base, uid, gid)
    os.chown(sock, uid, gid)
    port = _free_port()
    log = base / "server.log"
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"],
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        detail = log.read_text() if log.exists() else started.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start the test PostgreSQL server:\n{detail}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server, autocommit=True) as conn, contextlib.suppress(psycopg.Error):
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


class StoreFactory:
    """Opens stores of one kind over the same storage (a second "process" sees the same data)."""

    def __init__(self, kind: str, tmp: Path, dsn: str | None) -> None:
        self.kind = kind
        self._tmp = tmp
        self._dsn = dsn
        self._memory = MemoryStore()
        self._opened: list[SessionStore] = []

    async def new(self) -> SessionStore:
        store: SessionStore
        if self.kind == "memory":
            store = self._memory
        elif self.kind == "jsonl":
            store = JsonlStore(self._tmp / "sessions")
        else:
            from opi_cli.session.stores.postgres import PostgresStore

            assert self._dsn is not None
            store = await PostgresStore.connect(self._dsn)
        self._opened.append(store)
        return store

    async def close(self) -> None:
        for store in self._opened:
            await store.close()


@pytest.fixture(params=STORE_KINDS)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    factory = StoreFactory(request.param, tmp_path, dsn)
    yield factory
    await factory.close()
