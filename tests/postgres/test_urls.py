"""The URL: conveyor's own options (schema, pool_size) are taken out, the rest goes to libpq."""

from __future__ import annotations

import pytest

from conveyor.backends import from_url
from conveyor.backends.postgres import PostgresBackend, parse_url
from conveyor.errors import BackendUnavailable, ConfigurationError


def test_schema_and_pool_size_are_conveyors_and_the_rest_is_libpqs() -> None:
    conninfo, schema, pool_size, timeout = parse_url(
        "postgres://app:secret@db.internal:6432/shop?schema=jobs&pool_size=3&sslmode=require"
    )

    assert (schema, pool_size, timeout) == ("jobs", 3, 5.0)
    assert conninfo.startswith("postgresql://app:secret@db.internal:6432/shop?")
    assert "sslmode=require" in conninfo
    assert "schema" not in conninfo
    assert "pool_size" not in conninfo


def test_defaults_are_the_public_schema_and_ten_connections() -> None:
    conninfo, schema, pool_size, timeout = parse_url(
        "postgresql://localhost/app?connect_timeout=2&application_name=billing"
    )

    assert (schema, pool_size, timeout) == ("public", 10, 2.0)
    assert "application_name=billing" in conninfo


def test_from_url_picks_the_postgres_backend_for_both_schemes() -> None:
    assert isinstance(from_url("postgresql://localhost/app"), PostgresBackend)
    assert isinstance(from_url("postgres://localhost/app"), PostgresBackend)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://localhost/app?schema=bad-name", "schema name"),
        ('postgresql://localhost/app?schema=x";drop', "schema name"),
        ("postgresql://localhost/app?schema=" + "s" * 49, "schema name"),
        ("postgresql://localhost/app?pool_size=0", "pool_size"),
        ("postgresql://localhost/app?pool_size=many", "pool_size"),
        ("postgresql://localhost/app?connect_timeout=soon", "connect_timeout"),
        ("postgresql://localhost/app?colour=blue", 'invalid URI query parameter: "colour"'),
    ],
)
def test_bad_options_are_refused_when_the_backend_is_made(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PostgresBackend(url)


async def test_an_unreachable_server_is_reported_on_open() -> None:
    backend = PostgresBackend("postgresql://postgres@127.0.0.1:1/app?connect_timeout=1")

    with pytest.raises(BackendUnavailable, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1/app"):
        await backend.open()
    await backend.close()
