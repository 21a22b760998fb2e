"""Keeping registrations: the SQL store and the in-memory one answer alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config import ClientCredentials, ServerConfig
from bridge.store import RegistrationStore, Store, StoreError
from tests.store.conftest import ENGINES, target
from tests.store.legacy import AUTO, FILES, LEGACY_SSE, REMOTE


@pytest.fixture(params=[*ENGINES, "memory"])
def registrations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistrationStore]:
    kept = Store.memory() if request.param == "memory" else Store.open(target(request.param, request, tmp_path))
    with kept as store:
        yield store.registrations


def test_saved_registrations_load_whole_and_by_name(registrations: RegistrationStore) -> None:
    for config in (REMOTE, FILES, LEGACY_SSE, AUTO):
        registrations.save(config)
    assert registrations.load() == [AUTO, FILES, LEGACY_SSE, REMOTE]


def test_saving_a_name_again_replaces_its_registration(registrations: RegistrationStore) -> None:
    registrations.save(FILES)
    moved = ServerConfig(name="files", transport="sse", url="http://127.0.0.1:9/sse", call_timeout=5.0)
    registrations.save(moved)
    assert registrations.load() == [moved]


def test_delete_forgets_one_registration_and_ignores_an_unknown_name(registrations: RegistrationStore) -> None:
    registrations.save(FILES)
    registrations.save(REMOTE)
    registrations.delete("files")
    registrations.delete("never-registered")
    assert registrations.load() == [REMOTE]


def test_registrations_outlive_the_store_that_kept_them(store_target: str) -> None:
    with Store.open(store_target) as first:
        first.registrations.save(FILES)
        first.registrations.save(REMOTE)
    with Store.open(store_target) as second:
        assert second.registrations.load() == [FILES, REMOTE]


def test_a_registration_keeps_its_first_save_time_when_saved_again(store_target: str) -> None:
    times = "SELECT created_at, updated_at FROM registrations"
    with Store.open(store_target) as store:
        store.registrations.save(FILES)
        with store.database.transaction() as tx:
            ((created, updated),) = tx.query(times)
        store.registrations.save(FILES)
        with store.database.transaction() as tx:
            ((created_again, updated_again),) = tx.query(times)
    assert (created_again, created) == (created, updated)
    assert str(updated_again) >= str(updated)


def test_a_damaged_column_is_reported_by_name_without_its_content(store_target: str) -> None:
    with Store.open(store_target) as store:
        store.registrations.save(REMOTE)
        with store.database.transaction() as tx:
            tx.execute(
                "UPDATE registrations SET headers = ? WHERE name = ?", ('{"Authorization": "Bearer cut', "remote")
            )
        with pytest.raises(StoreError) as damaged:
            store.registrations.load()
    assert str(damaged.value) == f"{store.database.location}: column registrations.headers holds text that is not JSON"


def test_a_registrations_client_credentials_and_subject_header_come_back_whole(
    registrations: RegistrationStore,
) -> None:
    grant = ClientCredentials(
        "https://idp.example/token", "bridge", "client-secret", scope="a b", audience="up", client_auth="post"
    )
    guarded = ServerConfig(
        name="guarded",
        transport="streamable-http",
        url="http://127.0.0.1:9/mcp",
        oauth=grant,
        subject_header="X-MCP-Bridge-Subject",
    )
    registrations.save(guarded)
    registrations.save(REMOTE)
    assert registrations.load() == [guarded, REMOTE]
