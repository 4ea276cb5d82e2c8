"""A caller's ``systemuser`` and security roles, for the System Administrator check (webapi §7.7).

Two reads with the service's own token: the ``systemuser`` found by Entra object id (people) or application id
(application users), with its direct roles and its teams expanded; then the roles of those teams (the
emulator, like older Dataverse versions, does not nest ``$expand``). URLs and pure parsers live here; the
reads run through :meth:`DataverseSource.system_user_roles`. Wrong shapes raise :class:`~.responses.BodyError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from dataexport.domain.values import to_guid
from dataexport.source.dataverse.metadata import parse_collection
from dataexport.source.dataverse.responses import BodyError

#: The built-in System Administrator role's template id: the same in every organization (webapi §7.7).
SYSTEM_ADMINISTRATOR_TEMPLATE_ID = "627090ff-40a3-4053-8790-584edc5be201"
#: Teams per roles request, so a member of many teams never builds an over-long URL.
TEAMS_PER_REQUEST = 20

T = TypeVar("T")


class Get(Protocol):
    """Reads ``url`` through the source's retry loop and parses the JSON answer (``DataverseSource._get``)."""

    def __call__(self, url: str, parse: Callable[[object], T], /) -> T: ...


@dataclass(frozen=True)
class SystemUserAccess:
    """A ``systemuser`` of one organization and the security roles it holds.

    Attributes:
        systemuser_id: the ``systemuserid`` (lower-case GUID).
        disabled: ``isdisabled``: a disabled user holds no rights.
        role_template_ids: template ids of the roles held directly or through any team (lower-case).
        team_ids: the teams the user belongs to.
    """

    systemuser_id: str
    disabled: bool
    role_template_ids: frozenset[str]
    team_ids: tuple[str, ...] = ()

    @property
    def is_system_administrator(self) -> bool:
        """Enabled and holding the System Administrator role (compared by template id, not name or role id)."""
        return not self.disabled and SYSTEM_ADMINISTRATOR_TEMPLATE_ID in self.role_template_ids


def read_system_user_access(
    get: Get, root: str, *, object_id: str | None = None, application_id: str | None = None
) -> SystemUserAccess | None:
    """The access of the user with Entra ``object_id``, or of the application user of ``application_id``.

    Returns ``None`` when the organization has no such user (or the id is not a GUID, so it cannot name one).

    Raises:
        ValueError: neither or both of ``object_id`` and ``application_id`` given.
        SourceUnavailable, SourceRequestRefused: as every Dataverse read.
    """
    url = system_user_url(root, object_id=object_id, application_id=application_id)
    if url is None:
        return None
    user = get(url, parse_system_user)
    if user is None:
        return None
    team_roles: set[str] = set()
    for teams_url in team_roles_urls(root, user.team_ids):
        team_roles |= get(teams_url, parse_team_role_templates)
    return replace(user, role_template_ids=user.role_template_ids | team_roles)


def system_user_url(root: str, *, object_id: str | None = None, application_id: str | None = None) -> str | None:
    """The ``systemusers`` query for one caller, or ``None`` when the id given is not a GUID.

    Raises:
        ValueError: neither or both ids given.
    """
    if (object_id is None) == (application_id is None):
        raise ValueError("give exactly one of object_id and application_id")
    column, value = (
        ("azureactivedirectoryobjectid", object_id) if object_id is not None else ("applicationid", application_id)
    )
    try:
        guid = to_guid(str(value))
    except ValueError:
        return None
    return (
        f"{root}systemusers?$filter={column} eq {guid}&$select=systemuserid,isdisabled"
        "&$expand=systemuserroles_association($select=_roletemplateid_value),teammembership_association($select=teamid)"
    )


def team_roles_urls(root: str, team_ids: Sequence[str]) -> Iterator[str]:
    """``teams`` queries with each team's roles expanded, at most :data:`TEAMS_PER_REQUEST` teams each."""
    for start in range(0, len(team_ids), TEAMS_PER_REQUEST):
        condition = " or ".join(f"teamid eq {team}" for team in team_ids[start : start + TEAMS_PER_REQUEST])
        expand = "teamroles_association($select=_roletemplateid_value)"
        yield f"{root}teams?$filter={condition}&$select=teamid&$expand={expand}"


def parse_system_user(document: object) -> SystemUserAccess | None:
    """The first ``systemuser`` of the collection with its direct roles and teams; ``None`` when empty."""
    users = parse_collection(document)
    if not users:
        return None
    user = users[0]
    systemuser_id = user.get("systemuserid")
    if not isinstance(systemuser_id, str):
        raise BodyError("invalid_page", "a systemuser came without its systemuserid")
    return SystemUserAccess(
        systemuser_id=systemuser_id.lower(),
        disabled=user.get("isdisabled") is not False,
        role_template_ids=_template_ids(_expanded(user, "systemuserroles_association")),
        team_ids=tuple(_guids(_expanded(user, "teammembership_association"), "teamid")),
    )


def parse_team_role_templates(document: object) -> frozenset[str]:
    """Template ids of every role of every team in a ``teams`` collection with ``teamroles_association``."""
    templates: set[str] = set()
    for team in parse_collection(document):
        templates |= _template_ids(_expanded(team, "teamroles_association"))
    return frozenset(templates)


def _expanded(row: Mapping[str, object], navigation: str) -> list[Mapping[str, object]]:
    items = row.get(navigation)
    if not isinstance(items, list):
        raise BodyError("invalid_page", f"the answer has no expanded {navigation}")
    return [item for item in items if isinstance(item, Mapping)]


def _template_ids(roles: list[Mapping[str, object]]) -> frozenset[str]:
    return frozenset(_guids(roles, "_roletemplateid_value"))


def _guids(items: list[Mapping[str, object]], key: str) -> Iterator[str]:
    for item in items:
        value = item.get(key)
        if isinstance(value, str) and value:
            try:
                yield str(to_guid(value))
            except ValueError as error:
                raise BodyError("invalid_page", f"{key} is not a GUID") from error
