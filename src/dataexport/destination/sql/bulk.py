"""Fast bulk paths for large upsert batches, chosen by capability (``Capabilities.bulk_copy``).

MySQL/MariaDB need no path of their own: PyMySQL's executemany sends the row statement as multi-row
``INSERT ... VALUES (...), (...) ON DUPLICATE KEY UPDATE``, the guard in the update expressions.

PostgreSQL: the batch is streamed with ``COPY`` into a session temporary staging table shaped like the
target (``LIKE``), then applied by one set-based ``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE``
carrying the same version guard as the row statement. Everything runs in the caller's transaction, so a
failure rolls back the whole batch exactly like the row path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, or_, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import TableClause

from dataexport.destination.sql.writes import WritePlan, quoted, table_clause


def _staging_name(plan: WritePlan) -> str:
    # One staging table per target, column list and types: a column added or widened later gets a new one.
    types = tuple((name, repr(sql_type)) for name, sql_type in plan.types.items())
    shape = repr((plan.schema, plan.table, plan.row_columns, types))
    digest = hashlib.sha1(shape.encode(), usedforsecurity=False)
    return f"dataexport_stage_{digest.hexdigest()[:16]}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def postgresql_copy_upsert(
    connection: Connection, plan: WritePlan, rows: Sequence[Mapping[str, object]], rewrite_equal: bool
) -> None:
    """COPY ``rows`` into a temporary staging table, then one guarded ``INSERT ... ON CONFLICT``."""
    staging = _staging_name(plan)
    target_name = f"{_quote(plan.schema)}.{_quote(plan.table)}" if plan.schema else _quote(plan.table)
    columns = plan.row_columns
    connection.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_quote(staging)} "
            f"(LIKE {target_name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor:
        cursor.execute(f"TRUNCATE {_quote(staging)}")
        with cursor.copy(f"COPY {_quote(staging)} ({', '.join(_quote(c) for c in columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in columns))
    connection.execute(_apply_staged(plan, table_clause(staging, None, columns), rewrite_equal))


def _apply_staged(plan: WritePlan, staged: TableClause, rewrite_equal: bool) -> Any:
    target = plan.target()
    statement = postgresql.insert(target).from_select(
        [quoted(c) for c in plan.row_columns], select(*(staged.c[c] for c in plan.row_columns))
    )
    stored, incoming = target.c[plan.version_column], statement.excluded[plan.version_column]
    newer = incoming >= stored if rewrite_equal else incoming > stored
    kept = {plan.id_column, plan.created_column}
    return statement.on_conflict_do_update(
        index_elements=[target.c[plan.id_column]],
        set_={name: statement.excluded[name] for name in plan.row_columns if name not in kept},
        where=or_(stored.is_(None), newer),
    )
