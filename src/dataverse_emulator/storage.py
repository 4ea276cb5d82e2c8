"""One organization's persistent state in its own SQLite file.

Layout (one file per org, ``<data-dir>/orgs/<unique name>.db``):

* ``meta(key, value)``: organization info, the catalog (metadata) as JSON, the global version counter,
  the metadata version, the tombstone purge horizon.
* ``rows(tbl, id, version, data)``: live rows; ``data`` is JSON of the row's attributes in storage form
  (see below), null values omitted. ``version`` is the row's ``versionnumber``.
* ``tombstones(tbl, id, version)``: deletes, kept until purged; a re-created id drops its tombstone.
* ``metadata_changes(version, tbl, attribute, deleted)``: what admin schema changes touched, for
  ``RetrieveMetadataChanges``.
* ``version_times(version, at)``: the counter and clock at each committed write, so tombstones can be
  purged by age (admin ``purge: "expired"``).

Storage form of values: strings, ints, bools and floats as themselves; Decimal and Money as decimal
text (``"1250000.00"``); DateTime as ``"2024-05-02T08:15:00Z"`` or ``"2024-05-02"`` (DateOnly);
lookups as ``[target_logical_name, guid]``; multi-select as ``"1,3"``.

Every write goes through :meth:`OrgStore.write`, which takes the next value of the one global counter
per written row (spec §3.7), so versions are comparable across tables.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from dataverse_emulator.catalog.model import Catalog
from dataverse_emulator.clock import Clock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    tbl TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (tbl, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_by_version ON rows (tbl, version);
CREATE TABLE IF NOT EXISTS tombstones (
    tbl TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (tbl, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_by_version ON tombstones (tbl, version);
CREATE TABLE IF NOT EXISTS metadata_changes (
    version INTEGER NOT NULL, tbl TEXT NOT NULL, attribute TEXT, deleted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS version_times (version INTEGER PRIMARY KEY, at TEXT NOT NULL);
"""

StoredValue = object


def utc_text(moment: datetime) -> str:
    """The wire form of a UTC timestamp: whole seconds with ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StoredRow:
    """A live row: its id, ``versionnumber`` and attribute values in storage form."""

    table: str
    id: str
    version: int
    data: dict[str, StoredValue]


@dataclass(frozen=True)
class Tombstone:
    table: str
    id: str
    version: int


@dataclass(frozen=True)
class MetadataChangeRecord:
    version: int
    table: str
    attribute: str | None
    deleted: bool


@dataclass(frozen=True)
class OrgInfo:
    """Identity of an organization as ``WhoAmI``, ``RetrieveCurrentOrganization`` and GDS report it."""

    organization_id: str
    unique_name: str
    url_name: str
    friendly_name: str
    tenant_id: str
    environment_id: str
    business_unit_id: str
    version: str = "9.2.24044.00195"
    geo: str = "NA"
    profile: str = "standard"
    scale: int = 0
    seed: int = 0

    def to_json(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_json(cls, raw: str | bytes) -> OrgInfo:
        return cls(**orjson.loads(raw))


class RowExists(Exception):
    """A create found a live row with the same id."""


class RowMissing(Exception):
    """An update or delete found no live row with that id."""


class OrgStore:
    """Thread-safe access to one organization's SQLite file.

    One connection, serialized by a lock: the emulator answers one request at a time per org for
    storage work, which keeps the versioning model trivially consistent.
    """

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._catalog: Catalog | None = None
        self._info: OrgInfo | None = None
        self._open: WriteTransaction | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----- meta -------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def is_initialized(self) -> bool:
        with self._lock:
            return self._meta("info") is not None

    def initialize(self, info: OrgInfo, catalog: Catalog) -> None:
        """Store a new organization's identity and metadata (once, before any row)."""
        with self._lock, self._transaction():
            self._set_meta("info", info.to_json().decode())
            self._set_meta("catalog", catalog.model_dump_json())
            self._set_meta("counter", "1000")
            self._set_meta("metadata_version", "1")
            self._set_meta("purge_horizon", "0")
            self._set_meta("metadata_stamp_time", utc_text(self.clock.now()))
        self._info, self._catalog = info, catalog

    @property
    def info(self) -> OrgInfo:
        with self._lock:
            if self._info is None:
                raw = self._meta("info")
                if raw is None:
                    raise RuntimeError(f"organization file {self.path} is not initialized")
                self._info = OrgInfo.from_json(raw)
            return self._info

    @property
    def catalog(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                raw = self._meta("catalog")
                if raw is None:
                    raise RuntimeError(f"organization file {self.path} is not initialized")
                self._catalog = Catalog.model_validate_json(raw)
            return self._catalog

    def replace_catalog(self, catalog: Catalog, changes: Sequence[tuple[str, str | None, bool]]) -> int:
        """Store a changed catalog and record ``(table, attribute, deleted)`` changes; returns the new
        metadata version."""
        with self._lock, self._transaction():
            version = int(self._meta("metadata_version") or "1") + 1
            self._set_meta("metadata_version", str(version))
            self._set_meta("metadata_stamp_time", utc_text(self.clock.now()))
            self._set_meta("catalog", catalog.model_dump_json())
            self._db.executemany(
                "INSERT INTO metadata_changes (version, tbl, attribute, deleted) VALUES (?, ?, ?, ?)",
                [(version, table, attribute, int(deleted)) for table, attribute, deleted in changes],
            )
            self._catalog = catalog
            return version

    @property
    def metadata_version(self) -> int:
        with self._lock:
            return int(self._meta("metadata_version") or "1")

    def metadata_changes(self) -> list[MetadataChangeRecord]:
        with self._lock:
            cursor = self._db.execute("SELECT version, tbl, attribute, deleted FROM metadata_changes")
            return [MetadataChangeRecord(v, t, a, bool(d)) for v, t, a, d in cursor]

    @property
    def counter(self) -> int:
        """The last version handed out."""
        with self._lock:
            return int(self._meta("counter") or "0")

    @property
    def purge_horizon(self) -> int:
        with self._lock:
            return int(self._meta("purge_horizon") or "0")

    # ----- reads --------------------------------------------------------------------------------

    def get(self, table: str, record_id: str) -> StoredRow | None:
        with self._lock:
            found = self._db.execute(
                "SELECT version, data FROM rows WHERE tbl = ? AND id = ?", (table, record_id)
            ).fetchone()
        if found is None:
            return None
        return StoredRow(table, record_id, found[0], orjson.loads(found[1]))

    def get_many(self, table: str, ids: Iterable[str]) -> dict[str, StoredRow]:
        """Rows of ``table`` among ``ids`` (absent ids are simply missing from the result)."""
        wanted = sorted(set(ids))
        found: dict[str, StoredRow] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    f"SELECT id, version, data FROM rows WHERE tbl = ? AND id IN ({marks})", (table, *chunk)
                )
                for record_id, version, data in cursor:
                    found[record_id] = StoredRow(table, record_id, version, orjson.loads(data))
        return found

    def values_of(self, table: str, ids: Iterable[str], attribute: str) -> dict[str, object]:
        """``attribute`` of each live row of ``table`` among ``ids`` (absent rows are missing)."""
        wanted = sorted(set(ids))
        found: dict[str, object] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    f"SELECT id, json_extract(data, '$.' || ?) FROM rows WHERE tbl = ? AND id IN ({marks})",
                    (attribute, table, *chunk),
                )
                found.update(cursor.fetchall())
        return found

    def page_by_id(self, table: str, after_id: str | None, limit: int) -> list[StoredRow]:
        """Up to ``limit`` live rows ordered by id, strictly after ``after_id``."""
        with self._lock:
            cursor = self._db.execute(
                "SELECT id, version, data FROM rows WHERE tbl = ? AND id > ? ORDER BY id LIMIT ?",
                (table, after_id or "", limit),
            )
            fetched = cursor.fetchall()
        loads = orjson.loads
        return [StoredRow(table, record_id, version, loads(data)) for record_id, version, data in fetched]

    def scan(self, table: str, batch: int = 2000) -> Iterator[StoredRow]:
        """Every live row of ``table`` by id, in batches (no lock held between batches)."""
        after: str | None = None
        while True:
            rows = self.page_by_id(table, after, batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].id

    def count(self, table: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM rows WHERE tbl = ?", (table,)).fetchone()[0])

    def changed_rows(self, table: str, after_version: int, upto_version: int, limit: int) -> list[StoredRow]:
        """Live rows whose version is in ``(after_version, upto_version]``, ascending by version."""
        with self._lock:
            fetched = self._db.execute(
                "SELECT id, version, data FROM rows WHERE tbl = ? AND version > ? AND version <= ? "
                "ORDER BY version LIMIT ?",
                (table, after_version, upto_version, limit),
            ).fetchall()
        return [StoredRow(table, record_id, version, orjson.loads(data)) for record_id, version, data in fetched]

    def tombstones(self, table: str, after_version: int, upto_version: int, limit: int) -> list[Tombstone]:
        """Tombstones whose version is in ``(after_version, upto_version]``, ascending by version."""
        with self._lock:
            fetched = self._db.execute(
                "SELECT id, version FROM tombstones WHERE tbl = ? AND version > ? AND version <= ? "
                "ORDER BY version LIMIT ?",
                (table, after_version, upto_version, limit),
            ).fetchall()
        return [Tombstone(table, record_id, version) for record_id, version in fetched]

    def count_changes(self, table: str, after_version: int, upto_version: int) -> int:
        with self._lock:
            rows = self._db.execute(
                "SELECT count(*) FROM rows WHERE tbl = ? AND version > ? AND version <= ?",
                (table, after_version, upto_version),
            ).fetchone()[0]
            tombs = self._db.execute(
                "SELECT count(*) FROM tombstones WHERE tbl = ? AND version > ? AND version <= ?",
                (table, after_version, upto_version),
            ).fetchone()[0]
        return int(rows) + int(tombs)

    def find_by_value(self, table: str, attribute: str, value: str) -> list[StoredRow]:
        """Rows whose ``attribute`` equals ``value`` (a plain value or a lookup's GUID); a scan."""
        with self._lock:
            fetched = self._db.execute(
                "SELECT id, version, data FROM rows WHERE tbl = ? AND "
                "(json_extract(data, '$.' || ?) = ? OR json_extract(data, '$.' || ? || '[1]') = ?)",
                (table, attribute, value, attribute, value),
            ).fetchall()
        return [StoredRow(table, record_id, version, orjson.loads(data)) for record_id, version, data in fetched]

    # ----- writes -------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """One atomic unit of writes (a request, a changeset, a workload step).

        Re-entrant: a ``write()`` opened inside another one on the same thread joins it, so a
        ``$batch`` changeset wraps its parts in one transaction and a failure rolls all of them back.
        """
        with self._lock:
            if self._open is not None:
                yield self._open
                return
            with self._transaction():
                transaction = WriteTransaction(self._db, self.clock.now())
                self._open = transaction
                started_at = transaction.counter
                try:
                    yield transaction
                finally:
                    self._open = None
                self._set_meta("counter", str(transaction.counter))
                if transaction.counter > started_at:
                    self._db.execute(
                        "INSERT OR REPLACE INTO version_times (version, at) VALUES (?, ?)",
                        (transaction.counter, utc_text(transaction.now)),
                    )

    def bulk_load(self, rows: Iterable[tuple[str, str, dict[str, StoredValue], datetime]]) -> int:
        """Insert generated rows ``(table, id, data, created)`` with fresh versions; returns the count."""
        count = 0
        batch: list[tuple[str, str, int, bytes]] = []
        with self._lock, self._transaction():
            counter = int(self._meta("counter") or "0")
            for table, record_id, data, created in rows:
                counter += 1
                stamp = utc_text(created)
                data.setdefault("createdon", stamp)
                data.setdefault("modifiedon", stamp)
                batch.append((table, record_id, counter, orjson.dumps(data)))
                if len(batch) >= 5000:
                    self._insert_many(batch)
                    count += len(batch)
                    batch.clear()
            self._insert_many(batch)
            count += len(batch)
            self._set_meta("counter", str(counter))
        return count

    def _insert_many(self, batch: list[tuple[str, str, int, bytes]]) -> None:
        self._db.executemany("INSERT INTO rows (tbl, id, version, data) VALUES (?, ?, ?, ?)", batch)

    def purge_tombstones(self, upto_version: int) -> int:
        """Drop tombstones up to ``upto_version`` and raise the purge horizon; returns how many went."""
        with self._lock, self._transaction():
            cursor = self._db.execute("DELETE FROM tombstones WHERE version <= ?", (upto_version,))
            horizon = max(self.purge_horizon, upto_version)
            self._set_meta("purge_horizon", str(horizon))
            return int(cursor.rowcount)

    def oldest_tombstone_before(self, moment_version: int) -> int:
        with self._lock:
            found = self._db.execute(
                "SELECT max(version) FROM tombstones WHERE version <= ?", (moment_version,)
            ).fetchone()
        return int(found[0] or 0)

    def token_floor(self, table: str) -> int:
        """Delta tokens of ``table`` below this version are expired (admin ``expire_tokens``)."""
        with self._lock:
            return int(self._meta(f"token_floor:{table}") or "0")

    def expire_tokens(self, table: str) -> None:
        """Expire every delta token issued so far for ``table``."""
        with self._lock, self._transaction():
            self._set_meta(f"token_floor:{table}", str(int(self._meta("counter") or "0") + 1))

    def get_setting(self, key: str) -> str | None:
        """A free-form per-org setting (admin surface state such as the generation request)."""
        with self._lock:
            return self._meta(f"setting:{key}")

    def set_setting(self, key: str, value: str) -> None:
        with self._lock, self._transaction():
            self._set_meta(f"setting:{key}", value)

    def version_at(self, moment: datetime) -> int:
        """The counter as of ``moment``: the last version committed at or before it (0 if none)."""
        with self._lock:
            found = self._db.execute(
                "SELECT max(version) FROM version_times WHERE at <= ?", (utc_text(moment),)
            ).fetchone()
        return int(found[0] or 0)

    def rewrite_column(self, table: str, attribute: str, convert: Callable[[StoredValue], StoredValue]) -> int:
        """Convert one column of every row of ``table`` in place (``None`` clears it), keeping row
        versions: an admin schema change, not a row write. Returns how many rows changed."""
        with self._lock, self._transaction():
            fetched = self._db.execute(
                "SELECT id, data FROM rows WHERE tbl = ? AND json_type(data, '$.' || ?) IS NOT NULL",
                (table, attribute),
            ).fetchall()
            changed: list[tuple[bytes, str, str]] = []
            for record_id, raw in fetched:
                data = orjson.loads(raw)
                value = convert(data[attribute])
                if value == data[attribute]:
                    continue
                if value is None:
                    del data[attribute]
                else:
                    data[attribute] = value
                changed.append((orjson.dumps(data), table, record_id))
            self._db.executemany("UPDATE rows SET data = ? WHERE tbl = ? AND id = ?", changed)
        return len(changed)

    def drop_table_rows(self, table: str) -> None:
        """Remove every row and tombstone of a table (used when a table is removed from metadata)."""
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM rows WHERE tbl = ?", (table,))
            self._db.execute("DELETE FROM tombstones WHERE tbl = ?", (table,))


class WriteTransaction:
    """Writes inside one :meth:`OrgStore.write` block; each write takes the next global version."""

    def __init__(self, db: sqlite3.Connection, now: datetime) -> None:
        self._db = db
        self.now = now
        self.counter = int(db.execute("SELECT value FROM meta WHERE key = 'counter'").fetchone()[0])

    def _next_version(self) -> int:
        self.counter += 1
        return self.counter

    def get(self, table: str, record_id: str) -> StoredRow | None:
        found = self._db.execute(
            "SELECT version, data FROM rows WHERE tbl = ? AND id = ?", (table, record_id)
        ).fetchone()
        if found is None:
            return None
        return StoredRow(table, record_id, found[0], orjson.loads(found[1]))

    def create(self, table: str, record_id: str, data: dict[str, StoredValue]) -> StoredRow:
        """Insert a new row (stamping ``createdon``/``modifiedon``); raises :class:`RowExists`."""
        if self.get(table, record_id) is not None:
            raise RowExists(record_id)
        stamp = utc_text(self.now)
        stored = {k: v for k, v in data.items() if v is not None}
        stored["createdon"] = stamp
        stored["modifiedon"] = stamp
        version = self._next_version()
        self._db.execute("DELETE FROM tombstones WHERE tbl = ? AND id = ?", (table, record_id))
        self._db.execute(
            "INSERT INTO rows (tbl, id, version, data) VALUES (?, ?, ?, ?)",
            (table, record_id, version, orjson.dumps(stored)),
        )
        return StoredRow(table, record_id, version, stored)

    def update(self, table: str, record_id: str, changes: dict[str, StoredValue]) -> StoredRow:
        """Apply ``changes`` (``None`` clears a value) and take a new version; raises :class:`RowMissing`."""
        current = self.get(table, record_id)
        if current is None:
            raise RowMissing(record_id)
        data = dict(current.data)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        data["modifiedon"] = utc_text(self.now)
        version = self._next_version()
        self._db.execute(
            "UPDATE rows SET version = ?, data = ? WHERE tbl = ? AND id = ?",
            (version, orjson.dumps(data), table, record_id),
        )
        return StoredRow(table, record_id, version, data)

    def delete(self, table: str, record_id: str) -> int:
        """Delete a live row and record its tombstone; returns the tombstone version."""
        if self.get(table, record_id) is None:
            raise RowMissing(record_id)
        version = self._next_version()
        self._db.execute("DELETE FROM rows WHERE tbl = ? AND id = ?", (table, record_id))
        self._db.execute(
            "INSERT INTO tombstones (tbl, id, version) VALUES (?, ?, ?) "
            "ON CONFLICT(tbl, id) DO UPDATE SET version = excluded.version",
            (table, record_id, version),
        )
        return version

    def find_by_value(self, table: str, attribute: str, value: str) -> list[str]:
        """Ids of rows whose ``attribute`` (plain or lookup) equals ``value``."""
        cursor = self._db.execute(
            "SELECT id FROM rows WHERE tbl = ? AND "
            "(json_extract(data, '$.' || ?) = ? OR json_extract(data, '$.' || ? || '[1]') = ?)",
            (table, attribute, value, attribute, value),
        )
        return [str(found[0]) for found in cursor]
