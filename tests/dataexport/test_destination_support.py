"""Shared builders for the domain and destination tests: a realistic account-like schema, an intersect
schema, a movable clock and helpers to read a SQLite destination back.

(Named ``test_*`` so that it is one of this suite's own files; its few tests check the builders.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.domain.schema import (
    Attribute,
    AttributeKind,
    DateTimeBehavior,
    EntitySchema,
    Label,
    Labels,
    ManyToManyRelationship,
    Option,
    OptionSet,
)

K = AttributeKind
ACCOUNT_ID = "1f0e2d3c-4b5a-4697-8877-66554433221a"
CONTACT_ID = "9d2b4f6e-1a3c-4e5f-8a7b-0c1d2e3f4a5b"
USER_ID = "5a1c2e3f-0000-4000-8000-000000000001"


def labels(english: str, german: str | None = None, *, user: str | None = None) -> Labels:
    """Labels in 1033 (and 1031), the user-localized one in 1033."""
    localized = [Label(language_code=1033, text=english)]
    if german is not None:
        localized.append(Label(language_code=1031, text=german))
    return Labels(localized=tuple(localized), user_localized=Label(language_code=1033, text=user or english))


def attribute(name: str, kind: AttributeKind, **kwargs: object) -> Attribute:
    """An attribute with a deterministic MetadataId."""
    return Attribute.model_validate({"logical_name": name, "kind": kind, "metadata_id": f"meta-{name}", **kwargs})


STATE_SET = OptionSet(
    name="account_statecode",
    options=(
        Option(value=0, labels=labels("Active", "Aktiv")),
        Option(value=1, labels=labels("Inactive", "Inaktiv")),
    ),
)
STATUS_SET = OptionSet(
    name="account_statuscode",
    options=(
        Option(value=1, labels=labels("Active", "Aktiv"), state=0),
        Option(value=2, labels=labels("Inactive", "Inaktiv"), state=1),
    ),
)
INDUSTRY_SET = OptionSet(
    name="account_industrycode",
    options=(Option(value=3, labels=labels("Consulting", "Beratung")), Option(value=7, labels=labels("Retail"))),
)
REGION_SET = OptionSet(
    name="new_region",
    is_global=True,
    options=(Option(value=100000000, labels=labels("North", "Nord")), Option(value=100000001, labels=labels("South"))),
)
INTERESTS_SET = OptionSet(
    name="account_new_interests",
    options=tuple(Option(value=v, labels=labels(f"Interest {v}")) for v in (1, 3, 5)),
)


def account_schema(*extra: Attribute) -> EntitySchema:
    """An account-like entity exercising every §6.3 rule."""
    attributes = (
        attribute("accountid", K.UNIQUEIDENTIFIER),
        attribute("name", K.STRING, max_length=160),
        attribute("statecode", K.STATE, option_set=STATE_SET),
        attribute("statuscode", K.STATUS, option_set=STATUS_SET),
        attribute("statecodename", K.VIRTUAL, attribute_of="statecode"),
        attribute("industrycode", K.PICKLIST, option_set=INDUSTRY_SET),
        attribute("new_region", K.PICKLIST, option_set=REGION_SET, global_option_set="new_region"),
        attribute("new_interests", K.MULTI_SELECT_PICKLIST, option_set=INTERESTS_SET),
        attribute("donotemail", K.BOOLEAN),
        attribute("donotemailname", K.VIRTUAL, attribute_of="donotemail"),
        attribute("parentaccountid", K.LOOKUP, targets=("account",)),
        attribute("parentaccountidname", K.STRING, max_length=160, attribute_of="parentaccountid"),
        attribute("parentaccountidyominame", K.STRING, max_length=160, attribute_of="parentaccountid"),
        attribute("primarycontactid", K.LOOKUP, targets=("contact",)),
        attribute("primarycontactidname", K.STRING, max_length=100, attribute_of="primarycontactid"),
        attribute("ownerid", K.OWNER, targets=("systemuser", "team")),
        attribute("owneridname", K.STRING, max_length=100, attribute_of="ownerid"),
        attribute("owneridtype", K.ENTITY_NAME, attribute_of="ownerid"),
        attribute("owneridyominame", K.STRING, max_length=100, attribute_of="ownerid"),
        attribute("transactioncurrencyid", K.LOOKUP, targets=("transactioncurrency",)),
        attribute("revenue", K.MONEY, precision=2),
        attribute("revenue_base", K.MONEY, precision=4),
        attribute("exchangerate", K.DECIMAL, precision=10),
        attribute("new_score", K.DOUBLE, precision=5),
        attribute("new_ratio", K.DECIMAL),
        attribute("numberofemployees", K.INTEGER),
        attribute("versionnumber", K.BIG_INT),
        attribute("createdon", K.DATETIME, datetime_behavior=DateTimeBehavior.USER_LOCAL),
        attribute("new_founded", K.DATETIME, datetime_behavior=DateTimeBehavior.DATE_ONLY),
        attribute("description", K.MEMO, max_length=2000),
        attribute("entityimage", K.IMAGE),
        attribute("entityimageid", K.UNIQUEIDENTIFIER, attribute_of="entityimage"),
        attribute("entityimage_url", K.STRING, max_length=200, attribute_of="entityimage"),
        attribute("entityimage_timestamp", K.BIG_INT, attribute_of="entityimage"),
        attribute("new_contract", K.FILE),
        attribute("new_caseage", K.VIRTUAL),
        attribute("new_parties", K.PARTY_LIST),
        attribute("new_secret", K.STRING, max_length=50, is_valid_for_read=False),
        attribute("createdbyexternalparty", K.LOOKUP, targets=("externalparty",), is_valid_for_read=False),
        *extra,
    )
    return EntitySchema(
        logical_name="account", entity_set_name="accounts", primary_id="accountid", attributes=attributes
    )


#: The account table's columns in DES order (§6.4) with their SQLite declared types.
ACCOUNT_COLUMNS = [
    ("Id", "TEXT"),
    ("SinkCreatedOn", "TEXT"),
    ("SinkModifiedOn", "TEXT"),
    ("statecode", "INTEGER"),
    ("statuscode", "INTEGER"),
    ("industrycode", "INTEGER"),
    ("new_region", "INTEGER"),
    ("new_interests", "TEXT"),
    ("donotemail", "INTEGER"),
    ("ownerid", "TEXT"),
    ("ownerid_entitytype", "TEXT"),
    ("parentaccountid", "TEXT"),
    ("parentaccountid_entitytype", "TEXT"),
    ("primarycontactid", "TEXT"),
    ("primarycontactid_entitytype", "TEXT"),
    ("transactioncurrencyid", "TEXT"),
    ("transactioncurrencyid_entitytype", "TEXT"),
    ("exchangerate", "NUMERIC"),
    ("new_ratio", "NUMERIC"),
    ("new_score", "NUMERIC"),
    ("revenue", "NUMERIC"),
    ("revenue_base", "NUMERIC"),
    ("accountid", "TEXT"),
    ("createdon", "TEXT"),
    ("description", "TEXT"),
    ("entityimage_timestamp", "INTEGER"),
    ("entityimage_url", "TEXT"),
    ("entityimageid", "TEXT"),
    ("name", "TEXT"),
    ("new_caseage", "TEXT"),
    ("new_founded", "TEXT"),
    ("numberofemployees", "INTEGER"),
    ("owneridname", "TEXT"),
    ("owneridtype", "TEXT"),
    ("owneridyominame", "TEXT"),
    ("parentaccountidname", "TEXT"),
    ("parentaccountidyominame", "TEXT"),
    ("primarycontactidname", "TEXT"),
    ("versionnumber", "INTEGER"),
]

ACCOUNT_LEADS = ManyToManyRelationship(
    schema_name="accountleads_association",
    intersect_entity="accountleads",
    entity1="account",
    entity1_attribute="accountid",
    entity2="lead",
    entity2_attribute="leadid",
)


def account_leads_schema() -> EntitySchema:
    """The intersect entity of ``accountleads_association``."""
    return EntitySchema(
        logical_name="accountleads",
        entity_set_name="accountleadscollection",
        primary_id="accountleadid",
        is_intersect=True,
        intersect_attributes=("accountid", "leadid"),
        attributes=(
            attribute("accountleadid", K.UNIQUEIDENTIFIER),
            attribute("accountid", K.UNIQUEIDENTIFIER),
            attribute("leadid", K.UNIQUEIDENTIFIER),
            attribute("versionnumber", K.BIG_INT),
        ),
    )


def simple_schema(name: str = "contact", *extra: Attribute) -> EntitySchema:
    """A small entity: id, a string, a memo, a decimal, the version."""
    return EntitySchema(
        logical_name=name,
        entity_set_name=name + "s",
        primary_id=name + "id",
        attributes=(
            attribute(name + "id", K.UNIQUEIDENTIFIER),
            attribute("fullname", K.STRING, max_length=100),
            attribute("description", K.MEMO, max_length=1_048_576),
            attribute("creditlimit", K.MONEY, precision=2),
            attribute("versionnumber", K.BIG_INT),
            *extra,
        ),
    )


@dataclass
class Clock:
    """A clock tests move by hand."""

    now: datetime = field(default_factory=lambda: datetime(2025, 3, 7, 14, 5, 9, 123456, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


def make_destination(
    path: Path, *, prefix: str = "crm", clock: Clock | None = None, **engine: object
) -> SqlDestination:
    """A SQLite destination on ``path``."""
    sqlite_engine = create_destination_engine(f"sqlite:///{path}", **engine)  # type: ignore[arg-type]
    return SqlDestination(sqlite_engine, table_prefix=prefix, clock=clock or Clock())


def read_rows(path: Path, query: str, *params: object) -> list[tuple[object, ...]]:
    """Rows of ``query`` read with a separate plain connection."""
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(query, params).fetchall()


def table_info(path: Path, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of each column, in table order."""
    return [(row[1], row[2]) for row in read_rows(path, f'PRAGMA table_info("{table}")')]  # type: ignore[misc]


def dump_table(path: Path, table: str) -> list[tuple[object, ...]]:
    """Every row of ``table`` ordered by its first column."""
    return read_rows(path, f'SELECT * FROM "{table}" ORDER BY 1')


def guid(number: int) -> str:
    """A deterministic lowercase GUID."""
    return f"00000000-0000-4000-8000-{number:012d}"


def execute(path: Path, *statements: str) -> None:
    """Run DDL/DML with a plain connection (installing test triggers, holding locks...)."""
    with closing(sqlite3.connect(path)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def iter_guids(count: int) -> Iterator[str]:
    """``count`` deterministic GUIDs."""
    return (guid(n) for n in range(1, count + 1))


def test_account_schema_is_a_valid_frozen_value() -> None:
    schema = account_schema()
    assert schema.attribute("owneridtype") is not None
    assert len({a.logical_name for a in schema.attributes}) == len(schema.attributes)
    assert hash(schema) == hash(account_schema())


def test_clock_moves_only_when_told() -> None:
    clock = Clock()
    first = clock()
    clock.advance(2)
    assert clock() - first == timedelta(seconds=2)
