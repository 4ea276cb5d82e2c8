"""The ``Criteria`` and ``Properties`` parts of an ``EntityQueryExpression`` (``RetrieveMetadataChanges``).

``Criteria`` is a ``MetadataFilterExpression``::

    {"FilterOperator": "And", "Conditions": [
        {"PropertyName": "LogicalName", "ConditionOperator": "In",
         "Value": {"Type": "System.String[]", "Value": ["account", "contact"]}}],
     "Filters": [...]}

Conditions compare a property of the metadata JSON (``{"Value": x}`` wrappers such as
``AttributeTypeName`` are unwrapped) with ``Equals``, ``NotEquals``, ``In`` or ``NotIn``, case-insensitively
as text, so ``true``, ``"true"`` and ``{"Type": "System.Boolean", "Value": "true"}`` all match a ``true``.
``AttributeType`` also matches its numeric code (``14`` for ``String``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from dataverse_emulator.catalog.model import AttributeType
from dataverse_emulator.errors import bad_request
from dataverse_emulator.webapi.metadata_types import ENTITY, all_attribute_properties

Condition = Callable[[Mapping[str, object]], bool]

ENTITY_PROPERTIES = frozenset(ENTITY.properties)
ATTRIBUTE_PROPERTIES = all_attribute_properties()
_TYPE_CODES = {member.value.casefold(): str(member.code) for member in AttributeType}


def compile_criteria(criteria: object, allowed: frozenset[str]) -> Condition:
    """A predicate over metadata JSON for a ``MetadataFilterExpression`` (``None``: everything).

    Raises:
        WebApiError: 400 for a malformed expression, an unknown property or an unsupported operator.
    """
    if criteria is None:
        return lambda body: True
    if not isinstance(criteria, Mapping):
        raise bad_request("A metadata query 'Criteria' must be a JSON object.")
    operator = str(criteria.get("FilterOperator", "And")).casefold()
    if operator not in ("and", "or"):
        raise bad_request(f"The FilterOperator '{criteria.get('FilterOperator')}' is not supported: use And or Or.")
    parts = [_condition(c, allowed) for c in _list(criteria.get("Conditions"), "Conditions")]
    parts += [compile_criteria(f, allowed) for f in _list(criteria.get("Filters"), "Filters")]
    if operator == "and":
        return lambda body: all(part(body) for part in parts)
    return lambda body: not parts or any(part(body) for part in parts)


def projection(properties: object, allowed: frozenset[str]) -> frozenset[str] | None:
    """The property names of a ``MetadataPropertiesExpression``; ``None`` means all properties.

    Raises:
        WebApiError: 400 for a malformed expression or a property no metadata type has.
    """
    if properties is None:
        return None
    if not isinstance(properties, Mapping):
        raise bad_request("A metadata query 'Properties' must be a JSON object.")
    if properties.get("AllProperties") is True:
        return None
    names = [str(name) for name in _list(properties.get("PropertyNames"), "PropertyNames")]
    for name in names:
        if name not in allowed:
            raise bad_request(f"The metadata property '{name}' does not exist and cannot be requested.")
    return frozenset(names)


def _condition(condition: object, allowed: frozenset[str]) -> Condition:
    if not isinstance(condition, Mapping):
        raise bad_request("A metadata condition must be a JSON object.")
    name = str(condition.get("PropertyName"))
    if name not in allowed:
        raise bad_request(f"The metadata property '{name}' cannot be used in a condition.")
    operator = str(condition.get("ConditionOperator", "Equals"))
    expected = frozenset(_text(v) for v in _values(condition.get("Value")))
    if operator in ("Equals", "NotEquals") and len(expected) != 1:
        raise bad_request(f"The condition operator '{operator}' needs exactly one value.")
    if operator not in ("Equals", "NotEquals", "In", "NotIn"):
        raise bad_request(f"The condition operator '{operator}' is not supported: use Equals, NotEquals, In, NotIn.")
    negated = operator in ("NotEquals", "NotIn")
    return lambda body: _matches(name, body.get(name), expected) is not negated


def _matches(name: str, actual: object, expected: frozenset[str]) -> bool:
    text = _text(actual)
    candidates = {text, _TYPE_CODES.get(text, text)} if name == "AttributeType" else {text}
    return not candidates.isdisjoint(expected)


def _values(value: object) -> list[object]:
    """A condition value as a list: ``{"Type", "Value"}`` wrappers removed, arrays flattened."""
    if isinstance(value, Mapping) and "Value" in value:
        return _values(value["Value"])
    if isinstance(value, list):
        return [item for element in value for item in _values(element)]
    return [value]


def _text(value: object) -> str:
    if isinstance(value, Mapping) and "Value" in value:
        return _text(value["Value"])
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).casefold()


def _list(value: object, name: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"'{name}' in a metadata query must be a JSON array.")
    return cast(list[object], value)
