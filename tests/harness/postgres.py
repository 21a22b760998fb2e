"""A private PostgreSQL cluster for a test session, and a fresh database in it for each test.

``PostgresCluster.start(folder)`` runs Debian's ``initdb`` into ``folder`` and ``pg_ctl start``
on 127.0.0.1 and a free port (as the ``postgres`` user when the suite runs as root: PostgreSQL
refuses root), with a superuser whose password is in every URL handed out, so password
authentication is what the tests go through. ``stop()`` ends the server by its PID (from
``postmaster.pid``) and waits for it to be gone. Durability is switched off (``fsync=off``)
unless asked for: the cluster is thrown away after the session.

Other test packages use the fixtures by importing them into their ``conftest.py``::

    from tests.harness.postgres import postgres_cluster, postgres_url  # noqa: F401  (fixtures)

``postgres_cluster`` is session-scoped; ``postgres_url`` is a new, empty database per test,
dropped after it. A test process killed before the session's end leaves no cluster running: a
reaper (``tests.harness.reaper``) stops it by its PID once the process is gone.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from harness import free_port
from tests.harness.reaper import watch
from tests.leaks import secret

__all__ = ["PostgresCluster", "pg_bin", "postgres_cluster", "postgres_url"]

SUPERUSER = "bridge"
#: Seconds the server may take to start or stop.
STARTUP = 60.0
_names = itertools.count(1)


def pg_bin() -> Path:
    """The newest PostgreSQL's binaries installed from Debian's packages."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
    return found[-1].parent


def _as_owner(command: Sequence[str]) -> list[str]:
    """``command`` as the ``postgres`` user when this process is root, else as it is."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def _run(what: str, command: list[str]) -> None:
    """Run ``command``; if it fails, say ``what`` failed and what it wrote."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()[-2000:]
        raise RuntimeError(f"{what} failed with {done.returncode}: {said}")


@dataclass
class PostgresCluster:
    """A running cluster: ``url(database)`` reaches it as its superuser, password included."""

    folder: Path
    port: int
    password: str
    pid: int

    @classmethod
    def start(cls, folder: Path, *, durable: bool = False) -> PostgresCluster:
        """A cluster in ``folder`` (made if missing, given to ``postgres`` under root): data, socket,
        log. ``durable`` keeps PostgreSQL's own defaults (fsync, synchronous commits), for a bench."""
        folder.mkdir(parents=True, exist_ok=True)
        data = folder / "data"
        password = secret("pg-" + secrets.token_urlsafe(18))
        password_file = folder / "password"
        password_file.write_text(password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (folder, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        bin_ = pg_bin()
        _run(
            "initdb",
            _as_owner(
                [
                    str(bin_ / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={password_file}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
        )
        password_file.unlink()
        port = free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off"
        _run(
            "pg_ctl start",
            _as_owner(
                [
                    str(bin_ / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(folder / "postgres.log"),
                    "-w",
                    "-t",
                    str(int(STARTUP)),
                    "start",
                ]
            ),
        )
        pid = int((data / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0])
        return cls(folder=folder, port=port, password=password, pid=pid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database's name. It sorts text by a language's rules (ICU's en-US), as a
        database made on an operator's en_US machine does, and not in byte order: the store must
        not depend on the database's collation."""
        name = f"test_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database's URL for the block's length."""
        name = self.create_database()
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)

    def stop(self) -> None:
        """A fast shutdown (SIGINT to the postmaster: sessions are ended), waited for."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGINT)
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    # Not under pytest's basetemp: the postgres user must reach the folder, and pytest makes
    # its folders readable by their owner only.
    folder = Path(tempfile.mkdtemp(prefix="mcp-bridge-pg-"))
    try:
        cluster = PostgresCluster.start(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    reaper = watch(cluster.pid, folder)  # stops the cluster if this process dies before the end below
    try:
        yield cluster
    finally:
        reaper.kill()
        reaper.wait()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A new, empty database in the session's cluster, as a ``postgresql://`` URL with a password."""
    with postgres_cluster.database() as url:
        yield url
