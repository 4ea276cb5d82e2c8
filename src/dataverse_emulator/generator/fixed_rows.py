"""Column values of the fixed identity rows, laid over generated rows of the security tables.

Values are in natural form (``str``, ``bool``, ``int``, ``Decimal``, ``[table, id]`` for lookups,
``None`` to clear a generated value); ``generate_org`` encodes them for the catalog's attributes and
skips the names a catalog does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dataverse_emulator.generator.identities import SampleIdentities, SampleUser

Values = Mapping[str, object]


@dataclass(frozen=True)
class FixedRow:
    id: str
    values: Values


def fixed_rows(identities: SampleIdentities) -> dict[str, tuple[FixedRow, ...]]:
    """The fixed rows per table; their order matches :func:`~.plan.fixed_ids`."""
    unit = ["businessunit", identities.business_unit_id]
    admin = ["systemuser", identities.user("admin").systemuserid]
    return {
        "businessunit": (
            FixedRow(
                identities.business_unit_id,
                {"name": identities.business_unit_name, "parentbusinessunitid": None, "isdisabled": False},
            ),
        ),
        "transactioncurrency": tuple(
            FixedRow(
                c.transactioncurrencyid,
                {
                    "currencyname": c.name,
                    "isocurrencycode": c.iso_code,
                    "currencysymbol": c.symbol,
                    "exchangerate": c.exchange_rate,
                    "currencyprecision": c.precision,
                    "statecode": 0,
                },
            )
            for c in identities.currencies
        ),
        "roletemplate": tuple(FixedRow(r.template_id, {"name": r.name}) for r in identities.roles),
        "systemuser": tuple(FixedRow(u.systemuserid, _user_values(u, unit)) for u in identities.users),
        "team": tuple(
            FixedRow(
                t.teamid,
                {
                    "name": t.name,
                    "teamtype": 0,
                    "isdefault": t.is_default,
                    "businessunitid": unit,
                    "administratorid": admin,
                    "azureactivedirectoryobjectid": None,
                },
            )
            for t in identities.teams
        ),
        "role": tuple(
            FixedRow(
                r.roleid,
                {
                    "name": r.name,
                    "businessunitid": unit,
                    "roletemplateid": ["roletemplate", r.template_id],
                    "parentroleid": None,
                    "parentrootroleid": ["role", r.roleid],
                },
            )
            for r in identities.roles
        ),
    }


def _user_values(user: SampleUser, unit: list[str]) -> Values:
    return {
        "fullname": user.fullname,
        "firstname": user.first_name,
        "lastname": user.last_name,
        "domainname": user.upn,
        "internalemailaddress": user.upn,
        "azureactivedirectoryobjectid": user.oid,
        "applicationid": user.application_id,
        "isdisabled": user.disabled,
        "accessmode": user.access_mode,
        "islicensed": user.application_id is None,
        "businessunitid": unit,
        "parentsystemuserid": None,
    }


def owner_names(identities: SampleIdentities) -> dict[str, str]:
    """``{systemuserid or teamid: name}`` for the ``owner`` table's mirror rows."""
    names = {u.systemuserid: u.fullname for u in identities.users}
    names.update({t.teamid: t.name for t in identities.teams})
    return names
