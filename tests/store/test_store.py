"""Opening the store by path or URL, and what the package exports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bridge.store
from bridge.store import Store, UnsupportedDatabase, open_database
from tests.store.legacy import FILES

ALTERNATIVE = "give a SQLite file path, a sqlite:/// URL or a postgresql:// URL"


def test_a_bare_path_and_a_sqlite_url_open_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(str(tmp_path / "registry.db")) as store:
        store.registrations.save(FILES)
    with Store.open(f"sqlite:///{tmp_path}/registry.db") as absolute:  # sqlite:////abs/path, as SQLAlchemy
        assert absolute.registrations.load() == [FILES]
    monkeypatch.chdir(tmp_path)
    with Store.open("sqlite:///registry.db") as relative:
        assert relative.registrations.load() == [FILES]
    assert open_database(tmp_path / "registry.db").location == str(tmp_path / "registry.db")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:pg-password@localhost/bridge", f"mysql:// databases are not supported; {ALTERNATIVE}"),
        ("sqlite://db.internal/registry.db", f"a sqlite URL names a file and no host: {ALTERNATIVE}"),
    ],
)
def test_a_url_for_another_engine_is_refused_without_repeating_its_password(url: str, message: str) -> None:
    with pytest.raises(UnsupportedDatabase) as refused:
        Store.open(url)
    assert str(refused.value) == message


def test_a_memory_store_keeps_registrations_in_memory_and_leaves_no_file_behind() -> None:
    with Store.memory() as store:
        store.registrations.save(FILES)
        assert store.registrations.load() == [FILES]
        folder = Path(store.database.location).parent
        assert folder.is_dir()
    assert not folder.exists()


def test_every_name_the_package_exports_exists() -> None:
    missing = [name for name in bridge.store.__all__ if not hasattr(bridge.store, name)]
    assert (missing, sorted(bridge.store.__all__)) == ([], sorted(set(bridge.store.__all__)))


def test_a_sqlite_store_never_imports_the_postgresql_driver(tmp_path: Path) -> None:
    probe = (
        "import sys; from bridge.store import Store; Store.open(sys.argv[1]).close();"
        " print(sorted(m for m in sys.modules if m.startswith('psycopg')))"
    )
    root = Path(__file__).resolve().parents[2]
    found = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "store.db")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert found.stdout.strip() == "[]"
