"""Fixtures shared by the suite, and the search of every log it wrote for the secrets it used (``tests.leaks``)."""

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bridge.runtime import Bridge
from tests.leaks import find_leaks, used
from tests.support import in_process_bridge, rich_stdio, time_stdio

#: This process's log records (in-process bridges, clients) go here, searched with the processes' logs.
SUITE_LOG = "suite-logging.log"
_searched: list[Path] = []


@pytest.fixture(scope="module")
def bridge() -> Iterator[Bridge]:
    """The rich test server and mcp-server-time, both over stdio, behind one bridge."""
    with in_process_bridge([rich_stdio(), time_stdio()]) as running:
        yield running


@pytest.fixture
def client(bridge: Bridge) -> FlaskClient:
    return bridge.app.test_client()


@pytest.fixture(scope="session", autouse=True)
def logs_searched_for_secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep this process's log records in the session's folder, which ``pytest_sessionfinish`` searches."""
    folder = tmp_path_factory.getbasetemp()
    handler = logging.FileHandler(folder / SUITE_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    _searched.append(folder)
    yield
    logging.getLogger().removeHandler(handler)
    handler.close()


def _logs(folder: Path) -> Iterator[Path]:
    """The ``*.log`` files under ``folder``, but a browser profile's LevelDB write-ahead files
    (``…/leveldb/000003.log``): those are its storage of what a page kept, such as the key a user
    typed into the explorer, not a log line anybody reads."""
    for path in folder.rglob("*.log"):
        if not any(part.endswith("leveldb") for part in path.parts):
            yield path


#: Tests that install an OpenTelemetry tracer provider. The provider is set once per process, and
#: the MCP SDK's tracers keep the first one they see, so every test after these would be traced
#: (spans made, ``traceparent`` in messages' ``_meta``): they run last. Under ``--dist loadfile``
#: with ``--no-loadscope-reorder`` (the Makefile's) their file is the last unit handed out, so it
#: runs last on its worker (a process of its own).
_TRACING_LAST = "tests/telemetry/test_tracing.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-xdist hands items out by node id: of items sharing one, a single one runs and the
    # rest are silently dropped (schemathesis' ``schema.parametrize()`` once cost 42 tests that way).
    repeated = sorted(nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1)
    if repeated:
        raise pytest.UsageError(f"tests share a node id, so pytest-xdist would run one of each: {repeated[:5]}")
    items.sort(key=lambda item: item.nodeid.startswith(_TRACING_LAST))  # stable: the rest keep their order


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any log the suite wrote holds a secret it used."""
    secrets = used()
    leaks = [leak for folder in _searched for leak in find_leaks(_logs(folder), secrets)]
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_sep("=", f"{len(leaks)} secret(s) found in the logs the suite wrote", red=True)
        for leak in leaks[:50]:
            reporter.write_line(str(leak))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
