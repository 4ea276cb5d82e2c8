"""``$select``, ``$filter`` and ``$expand`` over metadata items, and the matching ``@odata.context``.

The resolver in :mod:`dataverse_emulator.webapi.metadata` turns a path into a :class:`Target` (a
shape and its items); :func:`render_collection` and :func:`render_single` apply a :class:`Projection`
to it. Every name is checked against the target's :class:`~.metadata_types.Shape` before any item is
rendered, so an unknown property fails the same way whether or not anything matched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dataverse_emulator.errors import bad_request, unknown_property
from dataverse_emulator.odata.filter import compile_filter, parse_filter, properties
from dataverse_emulator.odata.options import ExpandItem, parse_expand
from dataverse_emulator.odata.querystring import QueryOptions
from dataverse_emulator.webapi.metadata_json import JsonObject
from dataverse_emulator.webapi.metadata_types import LABEL_PROPERTIES, Shape

Predicate = Callable[[Mapping[str, object]], bool]

#: Options the metadata endpoints refuse: there is no paging, ordering or counting of metadata.
UNSUPPORTED_OPTIONS = ("$orderby", "$top", "$count", "$skiptoken", "$deltatoken", "$apply")


@dataclass(frozen=True)
class Item:
    """One metadata item: its full JSON and a way to follow its navigation properties."""

    body: JsonObject
    navigate: Callable[[str], Target] = lambda name: Target.empty()


@dataclass(frozen=True)
class Target:
    """Items of one shape; ``single`` for a single-valued navigation (``OptionSet``)."""

    shape: Shape
    items: tuple[Item, ...]
    single: bool = False

    @staticmethod
    def empty() -> Target:
        return Target(Shape("", ()), ())


@dataclass(frozen=True)
class Projection:
    """The ``$select``/``$filter``/``$expand`` applying at one level of a response."""

    select: tuple[str, ...] | None = None
    filter: str | None = None
    expand: tuple[ExpandItem, ...] = ()
    aliases: Mapping[str, str] | None = None

    @staticmethod
    def of_query(query: QueryOptions) -> Projection:
        """The top-level projection of a request.

        Raises:
            WebApiError: 400 for ``$orderby``, ``$top``, ``$count`` and the paging options.
        """
        for option in UNSUPPORTED_OPTIONS:
            if query.has(option):
                raise bad_request(f"The query option '{option}' is not supported on metadata.")
        expand = parse_expand(query.expand) if query.expand else ()
        return Projection(query.select, query.filter, expand, query.aliases)

    def nested(self, item: ExpandItem) -> Projection:
        """The projection inside ``$expand=Name(...)``.

        Raises:
            WebApiError: 400 for a nested ``$orderby`` or ``$top``.
        """
        if item.orderby is not None or item.top is not None:
            raise bad_request(f"$orderby and $top are not supported inside $expand of '{item.name}' on metadata.")
        return Projection(item.select, item.filter, item.expand, self.aliases)

    def context_suffix(self) -> str:
        """``(A,B,Nav(C))`` for the context URL, or ``""`` when nothing was selected or expanded."""
        parts = [*(self.select or ()), *(f"{e.name}({self.nested(e).context_suffix()[1:-1]})" for e in self.expand)]
        return f"({','.join(parts)})" if parts else ""


def render_collection(target: Target, projection: Projection) -> list[JsonObject]:
    """The items of ``target`` that pass ``$filter``, projected.

    Raises:
        WebApiError: 400 for a name ``target.shape`` does not have, a filter on a label, or a bad filter.
    """
    keep = _check(target.shape, projection)
    return [_project(item, target.shape, projection) for item in target.items if keep(item.body)]


def render_single(target: Target, projection: Projection) -> JsonObject | None:
    """The one item of ``target`` (``None`` when it has none), projected; ``$filter`` is refused."""
    if projection.filter is not None:
        raise bad_request("The query option '$filter' is only supported on collections.")
    _check(target.shape, projection)
    return _project(target.items[0], target.shape, projection) if target.items else None


def _check(shape: Shape, projection: Projection) -> Predicate:
    for name in projection.select or ():
        if not shape.is_selectable(name):
            raise unknown_property(name, shape.qualified_name)
    for item in projection.expand:
        if item.name not in shape.navigation:
            raise unknown_property(item.name, shape.qualified_name)
    if projection.filter is None:
        return lambda body: True
    expr = parse_filter(projection.filter, projection.aliases)
    for path in sorted(properties(expr)):
        if path.split("/")[0] in LABEL_PROPERTIES:
            raise bad_request(f"The label property '{path}' cannot be used in $filter.")
    return compile_filter(expr, has_property=shape.has_property, type_name=shape.qualified_name)


def _project(item: Item, shape: Shape, projection: Projection) -> JsonObject:
    body = item.body
    if projection.select is None:
        result = dict(body)
    else:
        wanted = {*projection.select, "@odata.type", "MetadataId"}
        result = {key: value for key, value in body.items() if key in wanted}
    for expand in projection.expand:
        result[expand.name] = _expanded(item.navigate(expand.name), projection.nested(expand))
    return result


def _expanded(target: Target, projection: Projection) -> object:
    if target.single:
        return render_single(target, projection)
    return render_collection(target, projection)
