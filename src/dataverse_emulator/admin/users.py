"""Adding and changing an org's users (spec §9.3 ``POST /_emulator/orgs/<name>/users``).

Body: ``{"users": [<user>, ...]}`` or one ``<user>`` object. A user is found by ``user`` (a sample key:
``admin``, ``teamadmin``, ``user``, ``disabled``, ``app``), ``systemuserid``, ``oid`` or
``application_id``, in that order; when none finds a row, a new ``systemuser`` is created (its id is
``systemuserid`` or derived from the org and the oid/application id, so it is stable).

Fields: ``first_name``, ``last_name``, ``upn`` (domain name and e-mail), ``oid``, ``application_id``,
``disabled``, ``access_mode``, ``business_unit_id``; ``roles`` and ``teams`` (role/team ids, sample
keys or names) **replace** the user's direct role and team memberships. Every row and intersect link is
written through ``OrgStore.write()`` (one transaction per user), so changes show up in deltas.
"""

from __future__ import annotations

import re
import uuid

from dataverse_emulator.admin.fields import AdminRequestError, Fields
from dataverse_emulator.generator import SampleIdentities
from dataverse_emulator.storage import OrgStore, StoredValue, WriteTransaction

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_NAMESPACE = uuid.UUID("5d0c6a57-93e1-4f0b-8a2e-1b7c4f9d2e60")
_FIELDS = (
    "user", "systemuserid", "oid", "application_id", "first_name", "last_name", "upn", "disabled",
    "access_mode", "business_unit_id", "roles", "teams",
)  # fmt: skip


def upsert_users(store: OrgStore, identities: SampleIdentities, body: Fields) -> list[dict[str, object]]:
    """Apply every user of ``body``; returns one summary per user.

    Raises:
        AdminRequestError: a field is invalid, or a sample key, role or team is unknown.
    """
    raw = body.values.get("users")
    if raw is None:
        specs = [body]
    elif isinstance(raw, list):
        specs = [Fields.of(item, f"users[{index}]") for index, item in enumerate(raw)]
    else:
        raise AdminRequestError("'users' must be a list of user objects")
    return [_UserWriter(store, identities, spec).apply() for spec in specs]


class _UserWriter:
    def __init__(self, store: OrgStore, identities: SampleIdentities, spec: Fields) -> None:
        spec.reject_unknown(_FIELDS)
        self.store, self.identities, self.spec = store, identities, spec

    def apply(self) -> dict[str, object]:
        found = self._find()
        roles = self._resolve_all("roles", "role")
        teams = self._resolve_all("teams", "team")
        with self.store.write() as tx:
            if found is None:
                user_id = self._new_id()
                tx.create("systemuser", user_id, {"systemuserid": user_id, **self._defaults(), **self._values()})
            else:
                user_id = found
                tx.update("systemuser", user_id, self._values())
            if roles is not None:
                self._replace_links(tx, "systemuserroles", user_id, "roleid", roles)
            if teams is not None:
                self._replace_links(tx, "teammembership", user_id, "teamid", teams)
        row = self.store.get("systemuser", user_id)
        data = row.data if row else {}
        return {
            "systemuserid": user_id,
            "created": found is None,
            "oid": data.get("azureactivedirectoryobjectid"),
            "application_id": data.get("applicationid"),
            "disabled": bool(data.get("isdisabled")),
            "roles": self._linked("systemuserroles", user_id, "roleid"),
            "teams": self._linked("teammembership", user_id, "teamid"),
        }

    def _find(self) -> str | None:
        spec = self.spec
        key = spec.text("user")
        if key is not None:
            try:
                sample_id = self.identities.user(key).systemuserid
            except KeyError as error:
                known = [u.key for u in self.identities.users]
                raise AdminRequestError(f"'user': no sample user {key!r}; use one of {known}") from error
            if self.store.get("systemuser", sample_id) is None:
                raise AdminRequestError(f"'user': the sample user {key!r} was deleted; add a user with 'oid'")
            return sample_id
        user_id = spec.text("systemuserid")
        if user_id is not None:
            if not _GUID.match(user_id):
                raise AdminRequestError("'systemuserid' must be a GUID")
            return user_id.lower() if self.store.get("systemuser", user_id.lower()) else None
        for field_name, column in (("oid", "azureactivedirectoryobjectid"), ("application_id", "applicationid")):
            value = spec.text(field_name)
            if value is not None:
                rows = self.store.find_by_value("systemuser", column, value.lower())
                return rows[0].id if rows else None
        return None

    def _new_id(self) -> str:
        spec = self.spec
        explicit = spec.text("systemuserid")
        if explicit is not None:
            return explicit.lower()
        anchor = spec.text("oid") or spec.text("application_id")
        if anchor is None:
            raise AdminRequestError("a new user needs 'oid' (a person) or 'application_id' (an application user)")
        return str(uuid.uuid5(_NAMESPACE, f"{self.store.info.url_name}/{anchor.lower()}"))

    def _defaults(self) -> dict[str, StoredValue]:
        anchor = (self.spec.text("oid") or self.spec.text("application_id") or "").lower()
        return {
            "firstname": "Added",
            "lastname": "User",
            "fullname": "Added User",
            "domainname": f"{anchor[:8]}@{self.identities.tenant_domain}",
            "isdisabled": False,
            "accessmode": 4 if self.spec.has("application_id") else 0,
            "businessunitid": ["businessunit", self.identities.business_unit_id],
        }

    def _values(self) -> dict[str, StoredValue]:
        spec, values = self.spec, dict[str, StoredValue]()
        for field_name, column in (("first_name", "firstname"), ("last_name", "lastname")):
            if spec.has(field_name):
                values[column] = spec.text(field_name)
        if "firstname" in values or "lastname" in values:
            values["fullname"] = " ".join(str(v) for v in (values.get("firstname"), values.get("lastname")) if v)
        upn = spec.text("upn")
        if upn is not None:
            values["domainname"] = values["internalemailaddress"] = upn
        for field_name, column in (("oid", "azureactivedirectoryobjectid"), ("application_id", "applicationid")):
            value = spec.text(field_name)
            if value is not None:
                if not _GUID.match(value):
                    raise AdminRequestError(f"'{field_name}' must be a GUID")
                values[column] = value.lower()
        if spec.has("disabled"):
            values["isdisabled"] = spec.boolean("disabled", False)
        if spec.has("access_mode"):
            values["accessmode"] = spec.integer("access_mode", 0, minimum=0)
        unit = spec.text("business_unit_id")
        if unit is not None:
            values["businessunitid"] = ["businessunit", unit.lower()]
        return values

    def _resolve_all(self, field_name: str, table: str) -> list[str] | None:
        wanted = self.spec.strings(field_name)
        if wanted is None:
            return None
        return [self._resolve(table, item) for item in wanted]

    def _resolve(self, table: str, item: str) -> str:
        """A role or team id from an id, a sample key or a name (case-insensitive)."""
        if _GUID.match(item) and self.store.get(table, item.lower()):
            return item.lower()
        sample = (
            {r.key: r.roleid for r in self.identities.roles}
            if table == "role"
            else {t.key: t.teamid for t in self.identities.teams}
        )
        if item in sample:
            return sample[item]
        for row in self.store.scan(table):
            if str(row.data.get("name", "")).lower() == item.lower():
                return row.id
        raise AdminRequestError(f"no {table} {item!r} in this organization (give an id, sample key or name)")

    def _replace_links(self, tx: WriteTransaction, intersect: str, user_id: str, column: str, ids: list[str]) -> None:
        table = self.store.catalog.table(intersect)
        if table is None:
            raise AdminRequestError(f"this organization has no {intersect!r} table")
        current = {}
        for link_id in tx.find_by_value(intersect, "systemuserid", user_id):
            row = tx.get(intersect, link_id)
            current[str(row.data.get(column)) if row else ""] = link_id
        for target, link_id in current.items():
            if target not in ids:
                tx.delete(intersect, link_id)
        for target in ids:
            if target not in current:
                link_id = str(uuid.uuid5(_NAMESPACE, f"{intersect}/{user_id}/{target}"))
                tx.create(intersect, link_id, {table.primary_id: link_id, "systemuserid": user_id, column: target})

    def _linked(self, intersect: str, user_id: str, column: str) -> list[str]:
        rows = self.store.find_by_value(intersect, "systemuserid", user_id)
        return sorted(str(row.data.get(column)) for row in rows)
