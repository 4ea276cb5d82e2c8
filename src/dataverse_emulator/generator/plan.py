"""How many rows each table gets, and the id of row ``k`` of table ``t`` without storing any ids.

Row counts follow spec §9.2: ``scale`` accounts and fixed ratios per account; the security and
reference tables hold the fixed rows of :class:`SampleIdentities` (plus generic rows when ``counts``
asks for more); ``counts`` overrides any other table. Ids are a keyed hash of ``(seed, table, index)``
(fixed rows keep their own ids), so a lookup can point at "row k of table t" while generation
streams.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dataverse_emulator.catalog.model import Catalog, TableDef
from dataverse_emulator.generator.identities import SampleIdentities, derive_seed

#: Rows per account (spec §9.2).
PER_ACCOUNT: Mapping[str, float] = {
    "account": 1,
    "contact": 5,
    "lead": 2,
    "opportunity": 2,
    "incident": 1,
    "task": 3,
    "new_widget": 2,
    "accountleads": 1,
    "contactleads": 1,
    "new_wide": 0.1,
}
UNTRACKED_PER_ACCOUNT = 0.2
UNTRACKED_INTERSECT_PER_ACCOUNT = 0.5
#: Tables the ratio table does not know (added through the schema API): one per account, at most this.
DEFAULT_CAP = 1_000

#: Tables whose first rows are the fixed identities, in generation order.
IDENTITY_TABLES = ("businessunit", "transactioncurrency", "roletemplate", "systemuser", "team", "role")
#: Intersect tables that hold only the fixed associations.
IDENTITY_LINKS = ("systemuserroles", "teammembership", "teamroles")
#: Mirrors every systemuser and team row (``ownerid`` values live there in Dataverse).
OWNER_TABLE = "owner"


def fixed_ids(identities: SampleIdentities) -> dict[str, tuple[str, ...]]:
    """Ids of the fixed rows per table, in row order."""
    return {
        "businessunit": (identities.business_unit_id,),
        "transactioncurrency": tuple(c.transactioncurrencyid for c in identities.currencies),
        "roletemplate": tuple(r.template_id for r in identities.roles),
        "systemuser": tuple(u.systemuserid for u in identities.users),
        "team": tuple(t.teamid for t in identities.teams),
        "role": tuple(r.roleid for r in identities.roles),
        **{name: tuple(link.id for link in identities.links if link.intersect == name) for name in IDENTITY_LINKS},
    }


@dataclass(frozen=True)
class OrgPlan:
    """Row counts and row ids of one generated organization."""

    seed: int
    counts: dict[str, int]
    fixed: dict[str, tuple[str, ...]]
    currencies: tuple[tuple[str, Decimal], ...]
    _keys: dict[str, bytes] = field(default_factory=dict, repr=False)

    def count(self, table: str) -> int:
        return self.counts.get(table, 0)

    def id_at(self, table: str, index: int) -> str:
        """The id of row ``index`` (0-based) of ``table``."""
        fixed = self.fixed.get(table, ())
        if index < len(fixed):
            return fixed[index]
        if table == OWNER_TABLE:
            users = self.count("systemuser")
            return self.id_at("systemuser", index) if index < users else self.id_at("team", index - users)
        key = self._keys.get(table)
        if key is None:
            key = self._keys[table] = hashlib.blake2b(f"{self.seed}\x1f{table}".encode(), digest_size=32).digest()
        digest = hashlib.blake2b(index.to_bytes(8, "big"), digest_size=16, key=key).digest()
        return str(uuid.UUID(bytes=digest, version=4))

    def pick(self, table: str, rng: random.Random) -> str | None:
        """A random existing row of ``table`` (``Resolver`` contract)."""
        count = self.counts.get(table, 0)
        return self.id_at(table, rng.randrange(count)) if count else None

    def pick_currency(self, rng: random.Random) -> tuple[str, Decimal | None] | None:
        """The base currency for most rows, another one for about one in five (``Resolver`` contract)."""
        if not self.currencies:
            return None
        if len(self.currencies) == 1 or rng.random() < 0.8:
            return self.currencies[0]
        return rng.choice(self.currencies[1:])


def plan_org(
    catalog: Catalog,
    *,
    scale: int,
    seed: int,
    identities: SampleIdentities,
    counts: Mapping[str, int] | None = None,
) -> OrgPlan:
    """Decide every table's row count (see the module docstring)."""
    overrides = dict(counts or {})
    fixed = fixed_ids(identities)
    planned: dict[str, int] = {}
    for table in catalog.tables:
        name = table.logical_name
        if name in IDENTITY_LINKS:
            planned[name] = len(fixed[name])
        elif name in fixed:
            planned[name] = max(len(fixed[name]), overrides.get(name, 0))
        elif name != OWNER_TABLE:
            planned[name] = max(0, overrides[name]) if name in overrides else _ratio_count(table, scale)
    if catalog.table(OWNER_TABLE) is not None:
        planned[OWNER_TABLE] = planned.get("systemuser", 0) + planned.get("team", 0)
    currencies = tuple((c.transactioncurrencyid, c.exchange_rate) for c in identities.currencies)
    if not planned.get("transactioncurrency"):
        currencies = ()
    return OrgPlan(seed=derive_seed(seed, "ids"), counts=planned, fixed=fixed, currencies=currencies)


def _ratio_count(table: TableDef, scale: int) -> int:
    ratio = PER_ACCOUNT.get(table.logical_name)
    if ratio is not None:
        return _rounded(scale * ratio)
    if not table.change_tracking:
        per_account = UNTRACKED_INTERSECT_PER_ACCOUNT if table.is_intersect else UNTRACKED_PER_ACCOUNT
        return _rounded(scale * per_account)
    return min(scale, DEFAULT_CAP)


def _rounded(value: float) -> int:
    return math.floor(value + 0.5)
