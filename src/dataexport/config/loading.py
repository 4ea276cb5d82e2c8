"""Loading the service configuration: the TOML file, ``DATAEXPORT_*`` overrides, and errors that name the key,
the rule and where the value came from (never the value). The model itself is :mod:`.service`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
import types
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from dataexport.config.service import (
    CONFIG_VARIABLE,
    DEFAULT_FILE_NAME,
    ENV_PREFIX,
    KeyVaultConfig,
    ServiceConfig,
    absolute_path,
)
from dataexport.domain.secret_refs import DEFAULT_HOST_SUFFIXES

_DEFAULTS_SOURCE = "the built-in defaults"


# ----- errors -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem: the key path (``organizations.contoso.url``), the rule, and where the value came from."""

    key: str
    rule: str
    source: str

    def __str__(self) -> str:
        subject = f"{self.key} " if self.key else ""
        return f"{subject}{self.rule} (from {self.source})"


class ServiceConfigError(ValueError):
    """The configuration cannot be used; ``problems`` lists each one. Messages never hold a value."""

    def __init__(self, problems: tuple[ConfigProblem, ...]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"The service configuration is invalid; fix these and start again:\n{lines}")


@dataclass
class _Sources:
    """Where each key's value came from: a variable per key it set, else the file (or the defaults)."""

    default: str
    by_key: dict[tuple[str, ...], str] = field(default_factory=dict)

    def of(self, loc: tuple[str, ...]) -> str:
        for size in range(len(loc), 0, -1):
            if loc[:size] in self.by_key:
                return self.by_key[loc[:size]]
        below = [source for key, source in self.by_key.items() if key[: len(loc)] == loc]
        return below[0] if below else self.default

    def fail(self, key: tuple[str, ...], rule: str) -> ServiceConfigError:
        return ServiceConfigError((ConfigProblem(_render_key(key), rule, self.of(key)),))


def _render_key(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


_RULE_WORDING = {"missing": "is required", "extra_forbidden": "is not a known setting"}


def _problems(error: ValidationError, sources: _Sources, prefix: tuple[str, ...] = ()) -> tuple[ConfigProblem, ...]:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        loc: tuple[str | int, ...] = (*prefix, *item["loc"])
        context = item.get("ctx") or {}
        if "key" in context:
            loc = (*loc, *str(context["key"]).split("."))
        rule = _RULE_WORDING.get(item["type"]) or item["msg"].removeprefix("Value error, ")
        rule = rule.replace("Input should", "should", 1)
        problems.append(ConfigProblem(_render_key(loc), rule, sources.of(tuple(str(p) for p in loc))))
    return tuple(problems)


# ----- loading ----------------------------------------------------------------------------------------------


def load_service_config(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> ServiceConfig:
    """Read the configuration (file, then environment overrides) and validate it.

    Raises:
        ServiceConfigError: the file cannot be read or parsed, or a key breaks a rule.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    config_path = _config_path(path, environ, cwd)
    sources = _Sources(str(config_path) if config_path else _DEFAULTS_SOURCE)
    document = _read_toml(config_path, environ) if config_path else {}
    _apply_environment(document, environ, sources)
    return _validate(document, config_path.parent if config_path else cwd, sources)


def build_service_config(
    document: Mapping[str, object], *, base_dir: Path, source: str = "the document"
) -> ServiceConfig:
    """Validate an already parsed configuration (the TOML's shape), as :func:`load_service_config` does.

    Raises:
        ServiceConfigError: a key breaks a rule.
    """
    return _validate(dict(document), base_dir, _Sources(source))


def _config_path(path: Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    if path is None and environ.get(CONFIG_VARIABLE, "").strip():
        path = Path(environ[CONFIG_VARIABLE].strip())
    if path is not None:
        return absolute_path(path, cwd)
    default = cwd / DEFAULT_FILE_NAME
    return default if default.is_file() else None


def _read_toml(path: Path, environ: Mapping[str, str]) -> dict[str, object]:
    named_by = f"{path} (named by {CONFIG_VARIABLE})" if environ.get(CONFIG_VARIABLE, "").strip() else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        rule = f"The configuration file cannot be read: {error.strerror}; check the path and its permissions"
        raise ServiceConfigError((ConfigProblem("", rule, named_by),)) from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ServiceConfigError((ConfigProblem("", f"The file is not valid TOML: {error}", named_by),)) from error


def _validate(document: dict[str, object], base_dir: Path, sources: _Sources) -> ServiceConfig:
    if "base_dir" in document:
        raise sources.fail(("base_dir",), "is not a setting: paths resolve against the config file's folder")
    suffixes: tuple[str, ...] = DEFAULT_HOST_SUFFIXES
    vault = document.get("key_vault")
    if isinstance(vault, Mapping):
        with contextlib.suppress(ValidationError):  # a bad block is reported with every other problem below
            suffixes = KeyVaultConfig.model_validate(vault, context={"base_dir": base_dir}).host_suffixes
    try:
        context = {"base_dir": base_dir, "host_suffixes": suffixes}
        return ServiceConfig.model_validate(document, context=context)
    except ValidationError as error:
        raise ServiceConfigError(_problems(error, sources)) from None


# ----- environment overrides --------------------------------------------------------------------------------


def _apply_environment(document: dict[str, object], environ: Mapping[str, str], sources: _Sources) -> None:
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_VARIABLE:
            continue
        path = tuple(part.lower() for part in name.removeprefix(ENV_PREFIX).split("__"))
        if path[0] not in ServiceConfig.model_fields or path[0] == "base_dir":
            continue
        if "" in path:
            raise ServiceConfigError((ConfigProblem("", "names an empty key level (use single '__')", name),))
        _set_value(document, path, _env_value(path, environ[name], name), name, sources)


def _set_value(
    document: MutableMapping[str, object], path: tuple[str, ...], value: object, name: str, sources: _Sources
) -> None:
    node = document
    actual: tuple[str, ...] = ()
    for part in path[:-1]:
        key = _existing_key(node, part)
        actual = (*actual, key)
        if key not in node:
            node[key] = {}
            sources.by_key.setdefault(actual, name)
        child = node[key]
        if not isinstance(child, MutableMapping):
            raise sources.fail(actual, f"is not a table, so {name} cannot set a key inside it")
        node = child
    key = _existing_key(node, path[-1])
    node[key] = value
    sources.by_key[(*actual, key)] = name


def _existing_key(node: Mapping[str, object], part: str) -> str:
    """The spelling the file used for ``part`` (variables are upper case; keys match case-insensitively)."""
    return next((key for key in node if key.lower() == part), part)


def _env_value(path: tuple[str, ...], raw: str, name: str) -> object:
    kind = _kind_at(path)
    text = raw.strip()
    if kind in ("sequence", "mapping") and text[:1] in ("[", "{"):
        try:
            parsed: object = json.loads(text)
        except json.JSONDecodeError:
            raise ServiceConfigError((ConfigProblem("", "is not valid JSON", name),)) from None
        return parsed
    if kind == "sequence":
        return [item.strip() for item in text.split(",") if item.strip()]
    return raw


def _kind_at(path: tuple[str, ...]) -> str:
    """``sequence``, ``mapping`` or ``scalar``: the shape the model expects at ``path``."""
    annotation: object = ServiceConfig
    for part in path:
        annotation = _without_none(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model_field = annotation.model_fields.get(part)
            if model_field is None:
                return "scalar"
            annotation = model_field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return "scalar"
    annotation = _without_none(annotation)
    if get_origin(annotation) in (tuple, list):
        return "sequence"
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return "mapping" if is_model or get_origin(annotation) is dict else "scalar"


def _without_none(annotation: object) -> object:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation
