"""The profile JSON body (spec §2.1) of ``profiles create``, ``update`` and ``validate``: from a file or options.

A body that cannot be read is a usage error (``typer.BadParameter``, exit 2); the service validates the fields.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from dataexport.cli.client import JsonValue


@dataclass(frozen=True)
class ProfileOptions:
    """The profile fields given as options; None means "not given" (the service's default applies)."""

    name: str | None = None
    key_vault_uri: str | None = None
    entities: tuple[str, ...] | None = None
    relationships: tuple[str, ...] | None = None
    schema: str | None = None
    prefix: str | None = None
    retry_count: int | None = None
    retry_interval: int | None = None
    delete_log: bool | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())

    def body(self) -> dict[str, JsonValue]:
        """The §2.1 JSON body with only the given fields."""
        scalars: dict[str, JsonValue] = {
            "Name": self.name,
            "KeyVaultUri": self.key_vault_uri,
            "SchemaName": self.schema,
            "TablePrefix": self.prefix,
            "RetryCount": self.retry_count,
            "RetryInterval": self.retry_interval,
            "WriteDeleteLog": self.delete_log,
        }
        body: dict[str, JsonValue] = {key: value for key, value in scalars.items() if value is not None}
        if self.entities is not None:
            body["Entities"] = _named(self.entities)
        if self.relationships is not None:
            body["Relationships"] = _named(self.relationships)
        return body


def _named(values: tuple[str, ...]) -> list[JsonValue]:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return [{"Name": name} for name in names]


def profile_body(file: Path | None, options: ProfileOptions) -> JsonValue:
    """The body from ``--file`` or from the field options; both, or neither, is a usage error (exit 2)."""
    if file is not None and not options.is_empty():
        raise typer.BadParameter("give either --file or the field options, not both", param_hint="--file")
    if file is not None:
        return read_body(file)
    if options.is_empty():
        raise typer.BadParameter("give --file, or --name, --key-vault-uri and --entity", param_hint="--file")
    return options.body()


def read_body(file: Path) -> JsonValue:
    """The JSON in ``file`` (``-`` is standard input); unreadable or invalid JSON is a usage error (exit 2)."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as error:
        raise typer.BadParameter(f"cannot read {file}: {error.strerror}", param_hint="--file") from None
    try:
        body: JsonValue = json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"{file} is not valid JSON: {error}", param_hint="--file") from None
    return body
