"""Destination write throughput per dialect: the fast bulk path against plain executemany, and PostgreSQL's
physical limit (raw ``COPY FROM`` of the same rows from a file).

For each dialect (SQLite file, the local PostgreSQL and MariaDB servers; a server that cannot be reached
is reported and skipped), N account-like rows are generated once (not timed), then written into a fresh
table with ``SqlDestination.apply_upserts`` in batches, each batch one transaction with the version and
tombstone guards, as the engine writes an initial sync. ``--batch`` defaults to 5,000 rows, one Dataverse
page (``odata.maxpagesize``): the engine's batch for a destination with a bulk path
(``EngineSettings.bulk_batch_size``); it writes 1,000-row batches elsewhere (``batch_size``, des.md §7.3), where
the per-batch costs (a commit with its fsync, some five round trips) weigh five times more: ``--batch 1000``.

- ``fast``: the dialect's bulk path where it has one (``Capabilities.bulk_copy``). PostgreSQL: binary COPY
  into a session staging table, then one set-based guarded ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``
  (see ``dataexport.destination.sql.bulk``). MySQL/MariaDB's multi-row ``INSERT ... ON DUPLICATE KEY
  UPDATE`` is what PyMySQL's executemany sends for the row statement, so there both figures are the same
  path; SQLite has no bulk path either. (SQL Server's staged MERGE cannot run here: no server.)
- ``plain``: the guarded row statement with the driver's executemany (``SqlDestination(bulk_paths=False)``).
- ``raw COPY`` (PostgreSQL only): the same rows written to a text file first (not timed), then
  ``COPY <table> FROM STDIN`` of that file into an empty table of the same shape: no guard, no batches,
  one commit.

Goal: the PostgreSQL fast path reaches at least 50 % of raw COPY. On a machine shared with other work, the
figures move from run to run; ``--repeat N`` runs every measurement N times (each into a fresh table) and
reports the best, the usual way to read a benchmark on a noisy machine.

    .venv/bin/python bench/write_throughput.py                  # 400,000 rows
    .venv/bin/python bench/write_throughput.py --rows 50000     # quick
    .venv/bin/python bench/write_throughput.py --dialects postgresql --repeat 3 --batch 1000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.domain.changes import Upsert
from dataexport.domain.schema import Attribute, AttributeKind, EntitySchema

K = AttributeKind
ADMIN_URLS = {
    "postgresql": os.environ.get("DATAEXPORT_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("DATAEXPORT_TEST_MARIADB", "mariadb+pymysql://root@127.0.0.1:3306/mysql"),
}


def account_like() -> EntitySchema:
    """An account-like entity: strings, a memo, picklists, a boolean, a lookup, money, dates, the version."""

    def attr(name: str, kind: AttributeKind, **extra: object) -> Attribute:
        return Attribute.model_validate({"logical_name": name, "kind": kind, **extra})

    return EntitySchema(
        logical_name="account",
        entity_set_name="accounts",
        primary_id="accountid",
        attributes=(
            attr("accountid", K.UNIQUEIDENTIFIER),
            attr("name", K.STRING, max_length=160),
            attr("accountnumber", K.STRING, max_length=20),
            attr("telephone1", K.STRING, max_length=50),
            attr("address1_city", K.STRING, max_length=80),
            attr("statecode", K.STATE),
            attr("statuscode", K.STATUS),
            attr("industrycode", K.PICKLIST),
            attr("donotemail", K.BOOLEAN),
            attr("parentaccountid", K.LOOKUP, targets=("account",)),
            attr("revenue", K.MONEY, precision=2),
            attr("numberofemployees", K.INTEGER),
            attr("createdon", K.DATETIME),
            attr("modifiedon", K.DATETIME),
            attr("description", K.MEMO, max_length=2000),
            attr("versionnumber", K.BIG_INT),
        ),
    )


def generate(count: int) -> list[Upsert]:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    parent = str(uuid.UUID(int=1))
    return [
        Upsert(
            str(uuid.UUID(int=n + 1_000_000)),
            1000 + n,
            {
                "accountid": str(uuid.UUID(int=n + 1_000_000)),
                "name": f"Account {n} Ltd.",
                "accountnumber": f"AC{n:08d}",
                "telephone1": f"+1 555 {n % 10_000:04d}",
                "address1_city": ("Seattle", "Zürich", "Málaga", "東京")[n % 4],
                "statecode": 0,
                "statuscode": 1,
                "industrycode": n % 30,
                "donotemail": n % 2 == 0,
                "parentaccountid": parent,
                "parentaccountid_entitytype": "account",
                "revenue": Decimal(n * 37) / 100,
                "numberofemployees": n % 5000,
                "createdon": base + timedelta(seconds=n),
                "modifiedon": base + timedelta(seconds=2 * n),
                "description": f"Customer since {2000 + n % 25}. " * 4,
            },
        )
        for n in range(count)
    ]


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database (a SQLite file, or a server database dropped afterwards)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    name = f"dataexport_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URLS[kind], isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    with admin.connect() as connection:
        charset = " CHARACTER SET utf8mb4" if kind == "mariadb" else ""
        connection.execute(text(f"CREATE DATABASE {name}{charset}"))
    try:
        yield make_url(ADMIN_URLS[kind]).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name}{' WITH (FORCE)' if kind == 'postgresql' else ''}"))
        admin.dispose()


def write(url: str, rows: Sequence[Upsert], batch: int, *, bulk: bool, prefix: str) -> float:
    """Seconds to write ``rows`` in batches through ``apply_upserts`` into a fresh table."""
    schema = account_like()
    engine = create_destination_engine(url)
    destination = SqlDestination(engine, table_prefix=prefix, schema_name="dbo", bulk_paths=bulk)
    destination.ensure_entity_table(schema)
    started = time.perf_counter()
    applied = 0
    for start in range(0, len(rows), batch):
        applied += len(destination.apply_upserts(schema, rows[start : start + batch]).applied)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert applied == len(rows), (applied, len(rows))
    return elapsed


def raw_copy(url: str, rows: Sequence[Upsert], *, prefix: str = "raw") -> float:
    """Seconds of ``COPY FROM`` of the rows, written to a text file first (not timed), into an empty table."""
    schema = account_like()
    engine = create_destination_engine(url)
    destination = SqlDestination(engine, table_prefix=prefix, schema_name="dbo")
    destination.ensure_entity_table(schema)
    table = destination.table_name("account")
    with engine.connect() as connection:
        names = [
            str(row[0])
            for row in connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'dbo' "
                    f"AND table_name = '{table}' ORDER BY ordinal_position"
                )
            )
        ]
    keys = {"id": None, "sinkcreatedon": None, "sinkmodifiedon": None, "versionnumber": None}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.tsv"
        now = datetime.now(UTC).replace(tzinfo=None)
        with path.open("w", encoding="utf-8") as out:
            for upsert in rows:
                values = {
                    **keys,
                    "id": upsert.record_id,
                    "sinkcreatedon": now,
                    "sinkmodifiedon": now,
                    "versionnumber": upsert.version,
                    **upsert.values,
                }
                out.write("\t".join(_copy_text(values.get(name)) for name in names) + "\n")
        driver = engine.raw_connection()
        try:
            started = time.perf_counter()
            cursor = driver.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, path.open("rb") as source, cursor.copy(f'COPY "dbo"."{table}" FROM STDIN') as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
            driver.commit()
            elapsed = time.perf_counter() - started
        finally:
            driver.close()
    engine.dispose()
    return elapsed


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if value.tzinfo else str(value)
    text_value = str(value)
    return text_value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def measure(kind: str, url: str, rows: Sequence[Upsert], batch: int, repeat: int) -> dict[str, float]:
    """The best seconds of each path of ``kind`` over ``repeat`` runs, each into a fresh table."""
    best: dict[str, float] = {}
    for run in range(repeat):
        for path, bulk in (("fast", True), ("plain", False)):
            seconds = write(url, rows, batch, bulk=bulk, prefix=f"{path}{run}")
            best[path] = min(best.get(path, seconds), seconds)
        if kind == "postgresql":
            seconds = raw_copy(url, rows, prefix=f"raw{run}")
            best["raw COPY"] = min(best.get("raw COPY", seconds), seconds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=5000, help="rows per apply_upserts call (one transaction)")
    parser.add_argument("--dialects", default="sqlite,postgresql,mariadb")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best one is reported")
    arguments = parser.parse_args()
    rows = generate(arguments.rows)
    best = f" (best of {arguments.repeat} runs)" if arguments.repeat > 1 else ""
    print(f"{arguments.rows:,} account-like rows, batches of {arguments.batch:,}{best}")
    print(f"{'dialect':<12} {'path':<10} {'seconds':>9} {'rows/s':>10}")
    figures: dict[tuple[str, str], float] = {}
    for kind in arguments.dialects.split(","):
        try:
            with database(kind) as url:
                seconds_per_path = measure(kind, url, rows, arguments.batch, max(1, arguments.repeat))
        except SQLAlchemyError as error:
            print(f"{kind:<12} skipped: {str(getattr(error, 'orig', error)).splitlines()[0]}")
            continue
        for path, seconds in seconds_per_path.items():
            figures[(kind, path)] = arguments.rows / seconds
            print(f"{kind:<12} {path:<10} {seconds:>9.2f} {arguments.rows / seconds:>10,.0f}", flush=True)
    if ("postgresql", "raw COPY") in figures:
        share = figures[("postgresql", "fast")] / figures[("postgresql", "raw COPY")]
        verdict = "met" if share >= 0.5 else "NOT met"
        print(f"PostgreSQL guarded fast path = {share:.0%} of raw COPY (goal >= 50 %: {verdict})")


if __name__ == "__main__":
    main()
