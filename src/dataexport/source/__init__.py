"""Reading Dataverse: the :class:`~dataexport.source.base.Source` Protocol and its implementations.

- :mod:`.base`: the Protocol, with its contract, and the values it returns (:class:`~.base.Page`, ...).
- :mod:`.errors`: the source's errors, in the families of :mod:`dataexport.errors`.
- :mod:`.dataverse`: the Web API implementation.
- :mod:`.scripted`: pages and errors given as data, for deterministic engine tests.
"""

from dataexport.source.base import (
    Caller,
    EntitySummary,
    Link,
    LinkKind,
    MetadataChanges,
    OrgIdentity,
    Page,
    Source,
)

__all__ = ["Caller", "EntitySummary", "Link", "LinkKind", "MetadataChanges", "OrgIdentity", "Page", "Source"]
