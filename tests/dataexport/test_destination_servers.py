"""Real PostgreSQL and MariaDB servers for the destination suites: one database per test session.

:func:`server_url` creates ``dataexport_test_<random>`` on first use and drops it when the session ends;
a server that cannot be reached makes the calling test skip with a message saying which and why. Each
test then isolates itself with its own table prefix (:func:`unique_prefix`). Addresses default to the
local servers (``127.0.0.1:5432`` user ``postgres``; ``127.0.0.1:3306`` user ``root``) and can be moved
with ``DATAEXPORT_TEST_POSTGRESQL`` / ``DATAEXPORT_TEST_MARIADB`` (admin URLs).

(Named ``test_*`` so that it is one of this suite's own files; its tests check the helpers.)
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

ADMIN_URLS = {
    "postgresql": os.environ.get("DATAEXPORT_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("DATAEXPORT_TEST_MARIADB", "mariadb+pymysql://root@127.0.0.1:3306/mysql"),
}
SERVERS = tuple(ADMIN_URLS)
_created: dict[str, str] = {}
_unreachable: dict[str, str] = {}


def _admin_engine(kind: str) -> Engine:
    timeout = {"connect_timeout": 3}
    return create_engine(ADMIN_URLS[kind], isolation_level="AUTOCOMMIT", connect_args=timeout)


def server_url(kind: str) -> str:
    """The URL of this session's database on server ``kind`` (created once); skips if unreachable."""
    if kind in _created:
        return _created[kind]
    if kind in _unreachable:
        pytest.skip(_unreachable[kind])
    name = f"dataexport_test_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine(kind)
    try:
        with engine.connect() as connection:
            charset = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if kind == "mariadb" else ""
            connection.execute(text(f"CREATE DATABASE {name}{charset}"))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        _unreachable[kind] = f"{kind} server at {make_url(ADMIN_URLS[kind]).host} is not reachable: {reason}"
        pytest.skip(_unreachable[kind])
    finally:
        engine.dispose()
    atexit.register(_drop, kind, name)
    url = make_url(ADMIN_URLS[kind]).set(database=name)
    _created[kind] = url.render_as_string(hide_password=False)
    return _created[kind]


def _drop(kind: str, name: str) -> None:
    engine = _admin_engine(kind)
    force = " WITH (FORCE)" if kind == "postgresql" else ""
    try:
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
    finally:
        engine.dispose()


def unique_prefix() -> str:
    """A table prefix no other test uses (tests share the session database)."""
    return f"t{uuid.uuid4().hex[:10]}"


@contextmanager
def plain_connection(url: str) -> Iterator[Connection]:
    """A separate autocommit connection to observe the destination or install test triggers."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def test_unique_prefixes_are_valid_and_distinct() -> None:
    prefixes = {unique_prefix() for _ in range(100)}
    assert len(prefixes) == 100 and all(p.isalnum() and p[0] == "t" for p in prefixes)
