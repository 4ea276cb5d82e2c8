"""The fault plan of spec §9.3: ``{"seed", "rules": [{"match", "action", "times"?}]}`` parsed into values.

Parsing is strict: an unknown match or action key, a wrong type, or an action that asks for two
effects at once is an :class:`AdminRequestError` naming the rule and the field, so a typo never
installs a rule that silently never fires.

Match keys (all given keys must hold): ``method`` (string or list), ``path_regex`` (searched in the
decoded path), ``entity_set`` (string or list), ``has_query`` (a decoded query option name such as
``$deltatoken``, case-insensitive), ``header`` (a header name that must be present, or an object
``{name: regex}`` whose values are searched in the header values), ``identity`` (the token's ``oid``,
app id or user name), ``nth`` (integer or list: 1-based count of requests matching the other keys),
``page`` (integer or list), ``min_pagesize``, ``probability`` (0..1, seeded), ``after``/``before``
(emulator clock, ISO 8601), ``any`` (``true``: no constraint).

Action: at most one *effect* among ``status``, ``stall_after_bytes``, ``reset``, ``expire_token``,
``disable_tracking``, ``malform``; ``delay_ms`` may accompany any of them (it is waited before the
response starts) or stand alone (then the request continues normally). With ``stall_after_bytes`` it
is instead the length of the stall (default 30 s).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from dataverse_emulator.admin.facts import RequestFacts
from dataverse_emulator.admin.fields import AdminRequestError, Fields

MATCH_KEYS = (
    "method", "path_regex", "entity_set", "has_query", "header", "identity", "nth", "page",
    "min_pagesize", "probability", "after", "before", "any",
)  # fmt: skip
ACTION_KEYS = (
    "status", "code", "message", "retry_after", "headers", "html", "delay_ms", "stall_after_bytes",
    "reset", "expire_token", "disable_tracking", "malform", "at_bytes",
)  # fmt: skip


class Effect(StrEnum):
    """What a firing rule does to the response (``PASS``: nothing beyond its delay)."""

    PASS = "pass"
    STATUS = "status"
    STALL = "stall"
    RESET_BEFORE = "reset_before"
    RESET_MID_BODY = "reset_mid_body"
    EXPIRE_TOKEN = "expire_token"
    DISABLE_TRACKING = "disable_tracking"
    MALFORM = "malform"


class Malform(StrEnum):
    INVALID_JSON = "invalid_json"
    TRUNCATE = "truncate"
    NO_VALUE = "no_value"
    DROP_PK = "drop_pk"
    WRONG_CONTENT_TYPE = "wrong_content_type"
    BAD_SKIPTOKEN = "bad_skiptoken"
    DUPLICATE_ROW = "duplicate_row"


@dataclass(frozen=True)
class FaultMatch:
    """The deterministic part of a rule's match; ``nth`` and ``probability`` are applied by the engine."""

    methods: frozenset[str] | None = None
    path_regex: re.Pattern[str] | None = None
    entity_sets: frozenset[str] | None = None
    has_query: str | None = None
    headers: tuple[tuple[str, re.Pattern[str] | None], ...] = ()
    identity: str | None = None
    nth: frozenset[int] | None = None
    pages: frozenset[int] | None = None
    min_pagesize: int | None = None
    probability: float | None = None
    after: datetime | None = None
    before: datetime | None = None

    def holds_for(self, facts: RequestFacts) -> bool:
        """Whether every key except ``nth`` and ``probability`` holds for ``facts``."""
        checks = (
            self.methods is None or facts.method in self.methods,
            self.path_regex is None or self.path_regex.search(facts.path) is not None,
            self.entity_sets is None or (facts.entity_set or "").lower() in self.entity_sets,
            self.has_query is None or facts.option(self.has_query) is not None,
            all(_header_holds(facts, name, pattern) for name, pattern in self.headers),
            self.identity is None or self.identity in facts.caller.names(),
            self.pages is None or facts.page in self.pages,
            self.min_pagesize is None or facts.pagesize >= self.min_pagesize,
            self.after is None or facts.now >= self.after,
            self.before is None or facts.now < self.before,
        )
        return all(checks)


def _header_holds(facts: RequestFacts, name: str, pattern: re.Pattern[str] | None) -> bool:
    value = facts.headers.get(name)
    return value is not None and (pattern is None or pattern.search(value) is not None)


@dataclass(frozen=True)
class FaultAction:
    """What a firing rule does (see the module docstring)."""

    effect: Effect = Effect.PASS
    delay_ms: int = 0
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    html: bool = False
    stall_after_bytes: int = 0
    malform: Malform | None = None
    at_bytes: int | None = None

    def label(self) -> str:
        """A short description for the request log (``status 429``, ``malform drop_pk``...)."""
        detail = {
            Effect.STATUS: f"status {self.status}",
            Effect.STALL: f"stall_after_bytes {self.stall_after_bytes}",
            Effect.MALFORM: f"malform {self.malform}",
        }.get(self.effect, str(self.effect))
        if self.delay_ms and self.effect is not Effect.STALL:
            detail = f"delay_ms {self.delay_ms}" + ("" if self.effect is Effect.PASS else f", {detail}")
        return detail


@dataclass(frozen=True)
class FaultRule:
    """One rule: ``times`` = how many matches fire (``None``: unlimited). ``source`` is the JSON given."""

    match: FaultMatch
    action: FaultAction
    times: int | None
    source: Mapping[str, object]


@dataclass(frozen=True)
class FaultPlan:
    seed: int
    rules: tuple[FaultRule, ...]

    @property
    def remembers_pages(self) -> bool:
        """Whether some rule repeats rows of a previous page (the shell must remember last rows)."""
        return any(rule.action.malform is Malform.DUPLICATE_ROW for rule in self.rules)


def parse_plan(fields: Fields) -> FaultPlan:
    """The plan of a ``POST /_emulator/faults`` body.

    Raises:
        AdminRequestError: any field is unknown or invalid; the message names the rule and the field.
    """
    fields.reject_unknown(("seed", "rules"))
    seed = fields.integer("seed", 0)
    raw_rules = fields.values.get("rules", [])
    if not isinstance(raw_rules, list):
        raise AdminRequestError("'rules' must be a list of {match, action, times} objects")
    return FaultPlan(seed, tuple(parse_rule(raw, index) for index, raw in enumerate(raw_rules)))


def parse_rule(raw: object, index: int) -> FaultRule:
    where = f"rules[{index}]"
    rule = Fields.of(raw, where)
    rule.reject_unknown(("match", "action", "times"))
    match = Fields.of(rule.values.get("match", {}), f"{where}.match")
    action = Fields.of(rule.values.get("action"), f"{where}.action")
    return FaultRule(
        parse_match(match), parse_action(action), rule.optional_integer("times", minimum=0), dict(rule.values)
    )


def parse_match(match: Fields) -> FaultMatch:
    match.reject_unknown(MATCH_KEYS)
    probability = match.number("probability", 1.0, minimum=0.0) if match.has("probability") else None
    if probability is not None and probability > 1:
        raise AdminRequestError(f"'probability' in {match.where} must be between 0 and 1")
    if match.has("any") and not match.boolean("any", True):
        raise AdminRequestError(f"'any' in {match.where} may only be true")
    methods = match.strings("method")
    entity_sets = match.strings("entity_set")
    nth, pages = match.integers("nth"), match.integers("page")
    return FaultMatch(
        methods=frozenset(m.upper() for m in methods) if methods else None,
        path_regex=_regex(match, "path_regex", match.text("path_regex")),
        entity_sets=frozenset(s.lower() for s in entity_sets) if entity_sets else None,
        has_query=match.text("has_query"),
        headers=_header_keys(match),
        identity=(match.text("identity") or "").lower() or None,
        nth=frozenset(nth) if nth else None,
        pages=frozenset(pages) if pages else None,
        min_pagesize=match.optional_integer("min_pagesize", minimum=1),
        probability=probability,
        after=match.moment("after"),
        before=match.moment("before"),
    )


def _regex(fields: Fields, name: str, text: str | None) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as error:
        raise AdminRequestError(f"'{name}' in {fields.where} is not a valid regular expression: {error}") from error


def _header_keys(match: Fields) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    value = match.values.get("header")
    if value is None:
        return ()
    if isinstance(value, str) and value:
        return ((value.lower(), None),)
    patterns = match.string_map("header") if isinstance(value, dict) else None
    if not patterns:
        raise AdminRequestError(f"'header' in {match.where} must be a header name or {{name: regex}}")
    return tuple((name.lower(), _regex(match, "header", pattern)) for name, pattern in patterns.items())


_EFFECT_KEYS = ("status", "stall_after_bytes", "reset", "expire_token", "disable_tracking", "malform")


def parse_action(action: Fields) -> FaultAction:
    action.reject_unknown(ACTION_KEYS)
    effects = [key for key in _EFFECT_KEYS if action.has(key) and action.values[key] is not False]
    delay_ms = action.integer("delay_ms", 0, minimum=0)
    if len(effects) > 1:
        raise AdminRequestError(f"{action.where} asks for {effects}: give one of them (delay_ms may join any)")
    if not effects and not delay_ms:
        raise AdminRequestError(f"{action.where} needs one of {list(_EFFECT_KEYS)} or 'delay_ms'")
    effect = _effect(action, effects[0]) if effects else Effect.PASS
    status = action.optional_integer("status", minimum=100)
    if status is not None and status > 599:
        raise AdminRequestError(f"'status' in {action.where} must be an HTTP status (100-599)")
    malform = action.choice("malform", [m.value for m in Malform], "") if action.has("malform") else None
    return FaultAction(
        effect=effect,
        delay_ms=delay_ms,
        status=status,
        code=_code(action),
        message=action.text("message"),
        retry_after=_retry_after(action),
        headers=MappingProxyType(action.string_map("headers")),
        html=action.boolean("html", False),
        stall_after_bytes=action.integer("stall_after_bytes", 0, minimum=0),
        malform=Malform(malform) if malform else None,
        at_bytes=action.optional_integer("at_bytes", minimum=0),
    )


def _effect(action: Fields, key: str) -> Effect:
    if key == "reset":
        kind = action.choice("reset", ("before", "mid_body"), "before")
        return Effect.RESET_BEFORE if kind == "before" else Effect.RESET_MID_BODY
    if key in ("expire_token", "disable_tracking") and not action.boolean(key, False):
        raise AdminRequestError(f"'{key}' in {action.where} may only be true")
    return {
        "status": Effect.STATUS,
        "stall_after_bytes": Effect.STALL,
        "expire_token": Effect.EXPIRE_TOKEN,
        "disable_tracking": Effect.DISABLE_TRACKING,
        "malform": Effect.MALFORM,
    }[key]


def _code(action: Fields) -> str | None:
    value = action.values.get("code")
    if value is None or isinstance(value, str):
        return value
    raise AdminRequestError(f"'code' in {action.where} must be a string such as \"0x80072322\"")


def _retry_after(action: Fields) -> str | None:
    """Integer or decimal seconds, or a string sent as is (an HTTP-date, say)."""
    value = action.values.get("retry_after")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or value == "":
        raise AdminRequestError(f"'retry_after' in {action.where} must be seconds or a string")
    return str(value)
