"""Fixtures of the library tests; the PostgreSQL server fixture is the session tests' one."""

from __future__ import annotations

from tests.session.conftest import postgres_dsn, postgres_server

__all__ = ["postgres_dsn", "postgres_server"]
