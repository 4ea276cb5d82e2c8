"""Reading the JSON bodies of admin requests: one typed accessor per field kind.

Every accessor raises :class:`AdminRequestError` with a message naming the field and what it must be,
which the routes answer as ``400`` (never ``500``). Absent and ``null`` fields are the same: the
default.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import cast

import orjson

from dataverse_emulator.identity.admin import AdminRequestError

__all__ = ["AdminRequestError", "Fields", "parse_body"]


def parse_body(raw: bytes) -> Fields:
    """The JSON object of a request body; an empty body is an empty object.

    Raises:
        AdminRequestError: the body is not JSON or not an object.
    """
    try:
        value = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as error:
        raise AdminRequestError(f"the request body is not valid JSON: {error}") from error
    return Fields.of(value, "the request body")


class Fields:
    """Typed, validated access to the members of one JSON object (``where`` names it in errors)."""

    def __init__(self, values: Mapping[str, object], where: str = "the request body") -> None:
        self.values = values
        self.where = where

    @classmethod
    def of(cls, value: object, where: str) -> Fields:
        if not isinstance(value, dict):
            raise AdminRequestError(f"{where} must be a JSON object")
        return cls(cast(dict[str, object], value), where)

    def _name(self, name: str) -> str:
        return f"'{name}'" if self.where == "the request body" else f"'{name}' in {self.where}"

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def reject_unknown(self, allowed: Collection[str]) -> None:
        """Refuse members outside ``allowed`` (a typo must not silently do nothing)."""
        unknown = sorted(set(self.values) - set(allowed))
        if unknown:
            raise AdminRequestError(f"unknown field {unknown[0]!r} in {self.where}: use {sorted(allowed)}")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise AdminRequestError(f"{self._name(name)} must be a non-empty string")
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise AdminRequestError(f"{self._name(name)} is required (a non-empty string)")
        return value

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise AdminRequestError(f"{self._name(name)} must be an integer")
        if minimum is not None and value < minimum:
            raise AdminRequestError(f"{self._name(name)} must be at least {minimum}")
        return value

    def optional_integer(self, name: str, *, minimum: int | None = None) -> int | None:
        return self.integer(name, 0, minimum=minimum) if self.has(name) else None

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AdminRequestError(f"{self._name(name)} must be a number")
        if minimum is not None and value < minimum:
            raise AdminRequestError(f"{self._name(name)} must be at least {minimum}")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise AdminRequestError(f"{self._name(name)} must be true or false")
        return value

    def choice(self, name: str, allowed: Collection[str], default: str) -> str:
        value = self.values.get(name, default)
        if value is None:
            return default
        if not isinstance(value, str) or value not in allowed:
            raise AdminRequestError(f"{self._name(name)} must be one of {sorted(allowed)}")
        return value

    def moment(self, name: str) -> datetime | None:
        """An ISO 8601 timestamp; without an offset it is taken as UTC."""
        text = self.text(name)
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as error:
            raise AdminRequestError(
                f"{self._name(name)} must be an ISO 8601 time such as 2024-05-02T08:00:00Z"
            ) from error
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def strings(self, name: str) -> tuple[str, ...] | None:
        """A string or a list of strings, as a tuple; ``None`` when absent."""
        value = self.values.get(name)
        if value is None:
            return None
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
            raise AdminRequestError(f"{self._name(name)} must be a string or a list of strings")
        return tuple(cast(list[str], items))

    def integers(self, name: str) -> tuple[int, ...] | None:
        """An integer or a list of integers, as a tuple; ``None`` when absent."""
        value = self.values.get(name)
        if value is None:
            return None
        items = [value] if isinstance(value, int) else value
        if not isinstance(items, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in items
        ):
            raise AdminRequestError(f"{self._name(name)} must be an integer or a list of integers")
        return tuple(cast(list[int], items))

    def mapping(self, name: str) -> Fields | None:
        value = self.values.get(name)
        return None if value is None else Fields.of(value, f"'{name}'")

    def string_map(self, name: str) -> dict[str, str]:
        value = self.values.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise AdminRequestError(f"{self._name(name)} must be a JSON object of strings")
        return {str(k): str(v) for k, v in value.items()}

    def count_map(self, name: str) -> dict[str, int] | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
        ):
            raise AdminRequestError(f"{self._name(name)} must map table names to non-negative integers")
        return {str(k): int(v) for k, v in value.items()}

    def flag_map(self, name: str) -> dict[str, bool] | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
            raise AdminRequestError(f"{self._name(name)} must map table names to true or false")
        return {str(k): bool(v) for k, v in value.items()}
