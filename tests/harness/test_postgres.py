"""The private PostgreSQL cluster: password authentication, a fresh database each, stopped by PID."""

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from harness import pid_alive
from tests.harness.postgres import PostgresCluster


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
