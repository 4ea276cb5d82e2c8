"""The sample organization's fixed people, roles, teams and currencies (spec §7.7, §9.2).

:func:`sample_identities` returns them as values, so the identity directory can issue tokens for these
users and tests can name them by key; ``generate_org`` turns the same values into rows.

Who is a System Administrator (role template ``627090ff-40a3-4053-8790-584edc5be201``):

=============  =====================================  ==========
key            how                                    is_admin
=============  =====================================  ==========
``admin``      role held directly (systemuserroles)   yes
``teamadmin``  only through "Administrators team"     yes
``user``       holds "Salesperson" only               no
``disabled``   holds the role, but ``isdisabled``     no
``app``        application user, role held directly  yes
=============  =====================================  ==========

Tenant-level values (``oid``, UPN, names) derive from the tenant id alone, so one person has the same
Entra object id in every organization of a tenant; row ids (``systemuserid``, ``roleid``...) derive
from the organization's seed.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

from dataverse_emulator.generator.lexicon import default_lexicon, invented_word

SYSTEM_ADMINISTRATOR_TEMPLATE_ID = "627090ff-40a3-4053-8790-584edc5be201"
#: An invented template id for the sample "Salesperson" role.
SALESPERSON_TEMPLATE_ID = "3c1f6e52-8a0d-4b7e-9f21-5d84c0a7e613"
ACCESS_MODE_READ_WRITE = 0
ACCESS_MODE_NON_INTERACTIVE = 4

_NAMESPACE = uuid.UUID("b7a4c2de-5f19-4e83-a6d0-2c9e81f3b547")


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from ``parts``, independent of Python's hash randomization."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def stable_id(*parts: object) -> str:
    """A lower-case GUID determined by ``parts``."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(str(p) for p in parts)))


@dataclass(frozen=True)
class SampleUser:
    """One fixed user. ``is_admin`` is the expected outcome of the System Administrator check."""

    key: str
    systemuserid: str
    oid: str
    upn: str
    first_name: str
    last_name: str
    fullname: str
    is_admin: bool
    disabled: bool
    access_mode: int
    application_id: str | None
    roles: tuple[str, ...]
    teams: tuple[str, ...]


@dataclass(frozen=True)
class SampleRole:
    key: str
    roleid: str
    name: str
    template_id: str


@dataclass(frozen=True)
class SampleTeam:
    key: str
    teamid: str
    name: str
    is_default: bool
    roles: tuple[str, ...]


@dataclass(frozen=True)
class SampleCurrency:
    """A transaction currency; ``exchange_rate`` is units of this currency per unit of the base currency."""

    transactioncurrencyid: str
    iso_code: str
    name: str
    symbol: str
    exchange_rate: Decimal
    precision: int
    is_base: bool


@dataclass(frozen=True)
class SampleLink:
    """One row of an intersect table: ``(left table, left id)`` associated with ``(right table, right id)``."""

    intersect: str
    id: str
    left: tuple[str, str]
    right: tuple[str, str]


@dataclass(frozen=True)
class SampleIdentities:
    """Everything fixed about the sample organization's security and reference data."""

    tenant_id: str
    tenant_domain: str
    business_unit_id: str
    business_unit_name: str
    users: tuple[SampleUser, ...]
    roles: tuple[SampleRole, ...]
    teams: tuple[SampleTeam, ...]
    currencies: tuple[SampleCurrency, ...]
    links: tuple[SampleLink, ...]

    def user(self, key: str) -> SampleUser:
        """The user with ``key``; raises ``KeyError`` for an unknown key."""
        for user in self.users:
            if user.key == key:
                return user
        raise KeyError(f"no sample user with key={key!r}")

    def role(self, key: str) -> SampleRole:
        for role in self.roles:
            if role.key == key:
                return role
        raise KeyError(f"no sample role with key={key!r}")

    def team(self, key: str) -> SampleTeam:
        for team in self.teams:
            if team.key == key:
                return team
        raise KeyError(f"no sample team with key={key!r}")

    @property
    def currency_rates(self) -> dict[str, Decimal]:
        """``{transactioncurrencyid: exchange rate}``, base currency first (for ``make_row``)."""
        return {c.transactioncurrencyid: c.exchange_rate for c in self.currencies}


_USERS = (
    # key, admin?, disabled?, direct roles, teams besides the default team
    ("admin", True, False, ("sysadmin",), ()),
    ("teamadmin", True, False, (), ("administrators",)),
    ("user", False, False, ("salesperson",), ()),
    ("disabled", False, True, ("sysadmin",), ()),
    ("app", True, False, ("sysadmin",), ()),
)


def sample_identities(
    seed: int, tenant_id: str, default_client_id: str, *, tenant_domain: str | None = None
) -> SampleIdentities:
    """The fixed identities of an organization generated with ``seed`` in tenant ``tenant_id``.

    Args:
        seed: the organization's generation seed (row ids).
        tenant_id: the Entra tenant; object ids, user names and the default domain derive from it.
        default_client_id: becomes the application user's ``applicationid``.
        tenant_domain: the UPN domain; defaults to an invented ``<word>.example`` per tenant.
    """
    domain = tenant_domain or _tenant_domain(tenant_id)
    business_unit = invented_word(random.Random(derive_seed(seed, "business unit")), 2).capitalize()
    roles = (
        _role(seed, "sysadmin", "System Administrator", SYSTEM_ADMINISTRATOR_TEMPLATE_ID),
        _role(seed, "salesperson", "Salesperson", SALESPERSON_TEMPLATE_ID),
    )
    teams = (
        _team(seed, "default", business_unit, is_default=True, roles=()),
        _team(seed, "administrators", "Administrators team", is_default=False, roles=("sysadmin",)),
    )
    users = tuple(_user(seed, tenant_id, domain, default_client_id, *spec) for spec in _USERS)
    return SampleIdentities(
        tenant_id=tenant_id,
        tenant_domain=domain,
        business_unit_id=stable_id(seed, "businessunit", "root"),
        business_unit_name=business_unit,
        users=users,
        roles=roles,
        teams=teams,
        currencies=(
            SampleCurrency(stable_id(seed, "currency", "USD"), "USD", "US Dollar", "$", Decimal(1), 2, True),
            SampleCurrency(stable_id(seed, "currency", "EUR"), "EUR", "Euro", "€", Decimal("0.92"), 2, False),
        ),
        links=_links(seed, users, roles, teams),
    )


def _role(seed: int, key: str, name: str, template_id: str) -> SampleRole:
    return SampleRole(key, stable_id(seed, "role", key), name, template_id)


def _team(seed: int, key: str, name: str, *, is_default: bool, roles: tuple[str, ...]) -> SampleTeam:
    return SampleTeam(key, stable_id(seed, "team", key), name, is_default, roles)


def _tenant_domain(tenant_id: str) -> str:
    return invented_word(random.Random(derive_seed(tenant_id, "domain")), 3) + ".example"


def _user(
    seed: int,
    tenant_id: str,
    domain: str,
    client_id: str,
    key: str,
    admin: bool,
    disabled: bool,
    roles: tuple[str, ...],
    teams: tuple[str, ...],
) -> SampleUser:
    rng = random.Random(derive_seed(tenant_id, "person", key))
    lexicon = default_lexicon()
    first, last = rng.choice(lexicon.first_names), rng.choice(lexicon.last_names)
    is_app = key == "app"
    if is_app:
        first, last = "Data Export", "Service"
    return SampleUser(
        key=key,
        systemuserid=stable_id(seed, "systemuser", key),
        oid=stable_id(tenant_id, "oid", key),
        upn=f"{key}@{domain}",
        first_name=first,
        last_name=last,
        fullname=f"{first} {last}",
        is_admin=admin,
        disabled=disabled,
        access_mode=ACCESS_MODE_NON_INTERACTIVE if is_app else ACCESS_MODE_READ_WRITE,
        application_id=client_id if is_app else None,
        roles=roles,
        teams=("default", *teams),
    )


def _links(
    seed: int, users: tuple[SampleUser, ...], roles: tuple[SampleRole, ...], teams: tuple[SampleTeam, ...]
) -> tuple[SampleLink, ...]:
    role_ids = {r.key: r.roleid for r in roles}
    team_ids = {t.key: t.teamid for t in teams}
    links: list[SampleLink] = []
    for user in users:
        member = ("systemuser", user.systemuserid)
        links += [_link(seed, "systemuserroles", member, ("role", role_ids[r])) for r in user.roles]
        links += [_link(seed, "teammembership", member, ("team", team_ids[t])) for t in user.teams]
    for team_def in teams:
        for role in team_def.roles:
            links.append(_link(seed, "teamroles", ("team", team_def.teamid), ("role", role_ids[role])))
    return tuple(links)


def _link(seed: int, intersect: str, left: tuple[str, str], right: tuple[str, str]) -> SampleLink:
    return SampleLink(intersect, stable_id(seed, intersect, left[1], right[1]), left, right)
