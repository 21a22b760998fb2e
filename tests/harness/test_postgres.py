"""The private PostgreSQL cluster: password authentication, a fresh database each, stopped by PID,
and stopped by its reaper when the test process that started it is killed."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from harness import pid_alive, poll
from tests.harness.postgres import PostgresCluster
from tests.support import ROOT


def test_a_cluster_starts_takes_only_its_password_hands_out_fresh_databases_and_stops_by_pid() -> None:
    folder = Path(tempfile.mkdtemp(prefix="mcp-bridge-pg-test-"))
    cluster = PostgresCluster.start(folder)
    try:
        assert pid_alive(cluster.pid)
        if os.geteuid() == 0:  # PostgreSQL refuses root: the server runs as postgres
            assert Path(f"/proc/{cluster.pid}").stat().st_uid != 0
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(cluster.url().replace(cluster.password, "wrong-password"), connect_timeout=10).close()
        with cluster.database() as first, cluster.database() as second:
            assert first != second
            with psycopg.connect(first, autocommit=True) as connection:
                connection.execute("CREATE TABLE t (x INTEGER)")
            with psycopg.connect(second, autocommit=True) as connection:
                assert connection.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone() == (0,)
        with psycopg.connect(cluster.url(), autocommit=True) as connection:
            names = connection.execute("SELECT datname FROM pg_database").fetchall()
        assert not any(name.startswith("test_") for (name,) in names)  # dropped after use
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert not pid_alive(cluster.pid)


#: A test process that starts a cluster with its reaper, says where, and waits to be killed.
_KILLED_SESSION = """
import sys, tempfile, time
from pathlib import Path
from tests.harness.postgres import PostgresCluster
from tests.harness.reaper import watch
folder = Path(tempfile.mkdtemp(prefix="mcp-bridge-pg-test-"))
cluster = PostgresCluster.start(folder)
watch(cluster.pid, folder)
print(cluster.pid, folder, flush=True)
time.sleep(600)
"""


def test_a_cluster_whose_test_process_is_killed_is_stopped_and_removed_by_its_reaper() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_SESSION], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as session:
        try:
            assert session.stdout is not None
            pid, folder = session.stdout.readline().split(" ", 1)
            postmaster, data = int(pid), Path(folder.strip())
            assert pid_alive(postmaster)
        finally:
            session.kill()  # as a run killed with SIGKILL: no fixture's teardown runs
    poll(lambda: not pid_alive(postmaster) and not data.exists(), 40, what="the reaper to stop the cluster")
