"""Destination connection strings (DES §1.7): every accepted form -> one SQLAlchemy URL with its driver.

A scheme without a driver gets the one §1.7 names (``postgresql`` -> psycopg 3, ``mysql``/``mariadb`` ->
PyMySQL, ``mssql`` -> pyodbc when an ODBC driver for SQL Server is installed, else pymssql); an explicit
``+driver`` is kept. SQL Server also accepts the ADO.NET form (``Server=tcp:host,1433;Database=...``).
Errors name the problem and never echo the password.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from dataexport.errors import UnsupportedDestination

_DRIVERS = {"postgresql": "psycopg", "postgres": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
_BACKENDS = {"postgres": "postgresql"}
_MYSQL_BACKENDS = frozenset({"mysql", "mariadb"})
_ADO_KEYS = {
    "server": "server",
    "data source": "server",
    "address": "server",
    "addr": "server",
    "database": "database",
    "initial catalog": "database",
    "user id": "user",
    "uid": "user",
    "user": "user",
    "password": "password",
    "pwd": "password",
    "encrypt": "encrypt",
    "trustservercertificate": "trust",
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def destination_url(value: str) -> URL:
    """The SQLAlchemy URL of a destination connection string in any form of DES §1.7.

    Raises:
        UnsupportedDestination: the string is malformed or names an unsupported engine (password not shown).
    """
    text = value.strip()
    if not _SCHEME.match(text):
        if ("=" in text and ";" in text) or text.lower().startswith(("server=", "data source=")):
            return _ado_net(text)
        raise UnsupportedDestination("Destination connection string is neither a URL nor an ADO.NET string")
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as error:
        raise UnsupportedDestination(f"Destination connection string is malformed: {type(error).__name__}") from None
    backend, driver = url.get_backend_name(), url.get_driver_name() if "+" in url.drivername else None
    backend = _BACKENDS.get(backend, backend)
    if backend == "sqlite":
        return url
    if backend == "mssql":
        return url.set(drivername=f"mssql+{driver or mssql_driver()}")
    if backend not in _DRIVERS:
        raise UnsupportedDestination(
            f"Destination engine '{backend}' is not supported (use postgresql, mysql, mariadb, mssql or sqlite)"
        )
    url = url.set(drivername=f"{backend}+{driver or _DRIVERS[backend]}")
    if backend in _MYSQL_BACKENDS and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def mssql_driver() -> str:
    """``pyodbc`` when it and an ODBC driver for SQL Server are installed, else ``pymssql``."""
    if importlib.util.find_spec("pyodbc") is not None:
        import pyodbc  # type: ignore[import-not-found,unused-ignore]

        if any("SQL Server" in name for name in pyodbc.drivers()):
            return "pyodbc"
    return "pymssql"


def _ado_net(text: str) -> URL:
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, separator, raw = part.partition("=")
        if not separator:
            raise UnsupportedDestination("ADO.NET connection string has a part without '='")
        name = _ADO_KEYS.get(key.strip().lower())
        if name is not None:
            fields[name] = raw.strip()
    server = fields.get("server", "")
    if not server or not fields.get("database"):
        raise UnsupportedDestination("ADO.NET connection string needs Server and Database")
    host, _, port = server.removeprefix("tcp:").partition(",")
    query = {"encrypt": fields["encrypt"]} if "encrypt" in fields else {}
    return URL.create(
        f"mssql+{mssql_driver()}",
        username=fields.get("user"),
        password=fields.get("password"),
        host=host.strip(),
        port=int(port) if port.strip().isdigit() else 1433,
        database=fields["database"],
        query=query,
    )


def absolute_sqlite_url(url: str, data_dir: Path) -> str:
    """``sqlite:///name.db`` (three slashes) is relative to the data directory (des.md §1.7); others unchanged."""
    if not url.lower().startswith("sqlite:"):
        return url  # other engines' strings (URLs or ADO.NET) go to the destination as they are
    parsed = make_url(url)
    if not parsed.database or Path(parsed.database).is_absolute():
        return url
    return parsed.set(database=str((data_dir / parsed.database).resolve())).render_as_string(hide_password=False)
