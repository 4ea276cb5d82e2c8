"""Where a ``$batch`` inner request points, and the ``$n`` Content-ID references in it (spec §5.6).

An inner target is an absolute URL, an absolute path (``/api/data/v9.2/…``, possibly behind an org
prefix ``/<org>/api/data/…``), a path relative to ``ROOT``, or ``$n[/…]`` naming the entity that
changeset member ``n`` created. References in ``@odata.bind`` (and ``@odata.id``) values of a JSON
body resolve the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

import orjson

from dataverse_emulator.errors import not_found_segment
from dataverse_emulator.webapi.batch_parse import content_id_reference, missing_reference

#: Web API versions an inner request may name; the inner request's links echo the one it used.
VERSIONS = ("v9.0", "v9.1", "v9.2")

_API_PATH = "/api/data/"
_BIND = "@odata.bind"


@dataclass(frozen=True)
class Target:
    """An inner request target resolved against the outer request.

    Attributes:
        root_url: ``ROOT`` for the inner request (the outer one, with the version the target named).
        path: the path after ``ROOT``, percent-decoded.
        query: the raw query string, still encoded (``parse_query`` decodes it).
    """

    root_url: str
    path: str
    query: str


def resolve_target(target: str, root_url: str, entity_urls: Mapping[str, str]) -> Target:
    """Resolve ``target`` against the outer ``root_url`` and the entities created so far.

    Args:
        target: the target as written in the request line.
        root_url: the outer request's ``ROOT`` (absolute, with trailing slash).
        entity_urls: entity URL by Content-ID, for the changeset members that created one.

    Raises:
        WebApiError: 400 for a ``$n`` with no entity behind it; 404 for an absolute path outside
            ``/api/data/<version>/``.
    """
    reference = content_id_reference(target)
    if reference is not None:
        if reference not in entity_urls:
            raise missing_reference(reference)
        target = entity_urls[reference] + target[len(reference) + 1 :]
    location, _, query = target.partition("?")
    query = query.split("#", 1)[0]
    path = unquote(_path_of(location))
    if not path.startswith("/") and not path.lower().startswith(_API_PATH[1:]):
        return Target(root_url, path, query)
    version, rest = _after_api_path(path)
    return Target(_with_version(root_url, version), rest, query)


def _path_of(location: str) -> str:
    """The path of an absolute URL (``scheme://host[:port]/path``), or ``location`` unchanged."""
    scheme, separator, rest = location.partition("://")
    if not separator or not scheme.isalpha():
        return location
    slash = rest.find("/")
    return "/" if slash < 0 else rest[slash:]


def _after_api_path(path: str) -> tuple[str, str]:
    """``[/<org>]/api/data/<version>[/rest]`` → (version, rest)."""
    index = ("/" + path.lstrip("/")).lower().find(_API_PATH)
    if index < 0:
        first = next((segment for segment in path.split("/") if segment), path)
        raise not_found_segment(first)
    after = ("/" + path.lstrip("/"))[index + len(_API_PATH) :]
    version, _, rest = after.partition("/")
    if version not in VERSIONS:
        raise not_found_segment(version)
    return version, rest


def _with_version(root_url: str, version: str) -> str:
    head, _, _ = root_url.rstrip("/").rpartition("/")
    return f"{head}/{version}/"


def substitute_references(body: bytes, entity_urls: Mapping[str, str]) -> bytes:
    """Replace ``$n`` in ``@odata.bind`` and ``@odata.id`` values of a JSON body with entity URLs.

    A body that is not JSON, or holds no reference, comes back unchanged (the handler judges it).
    Nested objects and arrays (deep inserts, collection binds) are walked without recursion.

    Raises:
        WebApiError: 400 for a ``$n`` that names no entity created earlier in the changeset.
    """
    if b'"$' not in body:
        return body
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    changed = False
    stack: list[object] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if _is_reference_key(key):
                    resolved = _resolve_values(value, entity_urls)
                    changed = changed or resolved != value
                    node[key] = resolved
                else:
                    stack.append(value)
    return orjson.dumps(document) if changed else body


def _is_reference_key(key: object) -> bool:
    return isinstance(key, str) and (key.endswith(_BIND) or key == "@odata.id")


def _resolve_values(value: object, entity_urls: Mapping[str, str]) -> object:
    if isinstance(value, list):
        return [_resolve_value(item, entity_urls) for item in value]
    return _resolve_value(value, entity_urls)


def _resolve_value(value: object, entity_urls: Mapping[str, str]) -> object:
    if not isinstance(value, str):
        return value
    reference = content_id_reference(value)
    if reference is None:
        return value
    if reference not in entity_urls:
        raise missing_reference(reference)
    return entity_urls[reference] + value[len(reference) + 1 :]
