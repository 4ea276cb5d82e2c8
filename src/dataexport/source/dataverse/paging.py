"""What a page request sends (R1, R2) and each table's page size with its backoff and regrowth (R12).

The ``Prefer`` values go on every request of a sequence: the first page, each nextLink and each delta.
"""

from __future__ import annotations

import re
import threading

from dataexport.domain.schema import EntitySchema
from dataexport.errors import InvalidIdentifier
from dataexport.source.dataverse.config import PageSettings

#: Both annotations, always (R1): lookup targets and the formatted values behind ``<lookup>name`` columns.
ANNOTATIONS = (
    'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"'
)
_ENTITY_SET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Headers = tuple[tuple[str, str], ...]


def prefer_headers(page_size: int, *, track_changes: bool) -> Headers:
    """The two ``Prefer`` headers of a page request."""
    paging = f"odata.maxpagesize={page_size}"
    first = f"odata.track-changes, {paging}" if track_changes else paging
    return (("Prefer", first), ("Prefer", ANNOTATIONS))


def annotation_headers() -> Headers:
    """The ``Prefer`` header of a single-record read."""
    return (("Prefer", ANNOTATIONS),)


def first_page_url(web_api_root: str, schema: EntitySchema) -> str:
    """``ROOT <EntitySetName>``: no ``$select``, no other option (R1).

    Raises:
        InvalidIdentifier: the entity set name is not a plain identifier.
    """
    return web_api_root + entity_set_path(schema)


def record_url(web_api_root: str, schema: EntitySchema, record_id: str) -> str:
    """``ROOT <EntitySetName>(<id>)``; ``record_id`` must already be a canonical GUID."""
    return f"{web_api_root}{entity_set_path(schema)}({record_id})"


def entity_set_path(schema: EntitySchema) -> str:
    """The entity set name, checked to be an identifier (it goes into a URL path)."""
    name = schema.entity_set_name
    if not _ENTITY_SET.match(name):
        raise InvalidIdentifier(f"Entity set name '{name}' is invalid: use letters, digits and '_'", entity=name)
    return name


class PageSizes:
    """Each table's ``odata.maxpagesize``: halved on a page that keeps failing (floor), doubled again after
    ``regrow_after`` consecutive good pages, never above the configured size (DES §7.7). Thread-safe."""

    def __init__(self, settings: PageSettings) -> None:
        self._settings = settings
        self._sizes: dict[str, int] = {}
        self._good: dict[str, int] = {}
        self._lock = threading.Lock()

    def current(self, entity: str) -> int:
        """The size the next page of ``entity`` uses."""
        with self._lock:
            return self._sizes.get(entity, self._settings.size)

    def restore(self, entity: str, size: int) -> None:
        """Set a persisted size, clamped to [floor, size]."""
        with self._lock:
            self._sizes[entity] = self._clamp(size)
            self._good[entity] = 0

    def shrink(self, entity: str) -> bool:
        """Halve ``entity``'s size (not below the floor); False when it already was at the floor."""
        with self._lock:
            size = self._sizes.get(entity, self._settings.size)
            if size <= self._settings.floor:
                return False
            self._sizes[entity] = self._clamp(size // 2)
            self._good[entity] = 0
            return True

    def is_at_floor(self, entity: str) -> bool:
        """Whether ``entity``'s size cannot shrink any more."""
        return self.current(entity) <= self._settings.floor

    def record_good_page(self, entity: str) -> None:
        """Count a page read without trouble; every ``regrow_after`` in a row double a reduced size."""
        with self._lock:
            size = self._sizes.get(entity, self._settings.size)
            if size >= self._settings.size:
                return
            good = self._good.get(entity, 0) + 1
            if good >= self._settings.regrow_after:
                self._sizes[entity] = self._clamp(size * 2)
                good = 0
            self._good[entity] = good

    def _clamp(self, size: int) -> int:
        return max(self._settings.floor, min(self._settings.size, size))
