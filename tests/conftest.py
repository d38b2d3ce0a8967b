"""Shared fixtures: the installed CLI, a throwaway PostgreSQL server, an empty database."""

from __future__ import annotations

import uuid

import pytest

from helpers import run_cli
from postgres import Server, binaries

DATABASE_KINDS = ["postgresql", "sqlite", "duckdb"]


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole run, stopped and removed at the end."""
    bindir = binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server installed (initdb not found): apt-get install postgresql")
    server = Server(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request, tmp_path) -> str:
    """The URL of a new, empty database of each kind (with its password, for PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'test.duckdb'}"
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.sql(f"CREATE DATABASE {name}")
    return server.url(name)
