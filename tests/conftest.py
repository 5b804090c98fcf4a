"""Shared fixtures: markets on SQLite (always) and PostgreSQL (when reachable; required in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from earnest.bootstrap import Market, build_market
from earnest.config import Settings

PG_URL = os.environ.get(
    "EARNEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("EARNEST_REQUIRE_POSTGRES") == "1"


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no PostgreSQL here
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema-isolated database URL, or skip (fail in CI) if unreachable."""
    problem = _pg_reachable()
    if problem:
        if REQUIRE_PG:
            pytest.fail(
                f"PostgreSQL is required (EARNEST_REQUIRE_POSTGRES=1) but unreachable: {problem}"
            )
        pytest.skip(
            f"PostgreSQL not reachable at {PG_URL} ({problem}); set EARNEST_TEST_POSTGRES_URL"
        )
    yield PG_URL


def _fresh_pg_database(base_url: str) -> tuple[str, str]:
    name = f"earnest_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'earnest.sqlite'}"
        return
    base = request.getfixturevalue("postgres_url")
    url, name = _fresh_pg_database(base)
    yield url
    _drop_pg_database(base, name)


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database only (tests of several processes sharing one)."""
    url, name = _fresh_pg_database(postgres_url)
    yield url
    _drop_pg_database(postgres_url, name)


@pytest.fixture
def market(tmp_path: Path, database_url: str) -> Iterator[Market]:
    """A whole market (store + LocalChain + market key) in tmp_path; settler not started."""
    m = build_market(Settings(data_dir=tmp_path / "market", database_url=database_url, port=0))
    yield m
    m.close()


@pytest.fixture
def sqlite_market(tmp_path: Path) -> Iterator[Market]:
    """A market on SQLite only, for tests that need no second database."""
    m = build_market(Settings(data_dir=tmp_path / "market", port=0))
    yield m
    m.close()
