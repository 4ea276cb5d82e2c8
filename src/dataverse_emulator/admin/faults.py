"""The fault engine: which rule of the installed plan, if any, fires for a request (spec §6.4, §9.3).

:func:`decide` is the decision: given the rules' counters and a request's facts it returns a
:class:`FaultDecision` (or ``None``) and advances the counters; it performs no I/O. The ASGI shell in
:mod:`.middleware` acts on the decision.

Counting, so that plans are deterministic:

* every rule whose deterministic keys hold counts the request (``matched``), even when an earlier rule
  fires, so ``nth`` means "the nth request matching the rest of this rule";
* ``probability`` is drawn (only for requests that pass the other keys and ``nth``) from a generator
  per rule seeded with ``(plan seed, rule index)``, so one rule's draws never shift another's;
* the first rule that passes and has ``times`` left fires (``fired`` counts it); later rules do not.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from dataverse_emulator.admin.facts import RequestFacts
from dataverse_emulator.admin.fault_rules import FaultAction, FaultPlan, FaultRule


@dataclass(frozen=True)
class FaultDecision:
    """A firing rule: its index in the plan and its action."""

    rule_index: int
    action: FaultAction

    def label(self) -> str:
        return f"rule {self.rule_index}: {self.action.label()}"


class RuleState:
    """Counters of one installed rule and its seeded random generator."""

    def __init__(self, rule: FaultRule, seed: int, index: int) -> None:
        self.rule = rule
        self.matched = 0
        self.fired = 0
        self._rng = random.Random(f"{seed}:{index}")

    def has_times_left(self) -> bool:
        return self.rule.times is None or self.fired < self.rule.times

    def draw(self) -> float:
        return self._rng.random()


def decide(states: list[RuleState], facts: RequestFacts) -> FaultDecision | None:
    """The rule that fires for ``facts`` (advancing every rule's counters), or ``None``."""
    decision: FaultDecision | None = None
    for index, state in enumerate(states):
        match = state.rule.match
        if not match.holds_for(facts):
            continue
        state.matched += 1
        if match.nth is not None and state.matched not in match.nth:
            continue
        if match.probability is not None and state.draw() >= match.probability:
            continue
        if decision is None and state.has_times_left():
            state.fired += 1
            decision = FaultDecision(index, state.rule.action)
    return decision


class FaultEngine:
    """The installed plan and its counters; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan(0, ())
        self._states: list[RuleState] = []

    def install(self, plan: FaultPlan) -> None:
        """Replace the plan; counters start from zero."""
        with self._lock:
            self._plan = plan
            self._states = [RuleState(rule, plan.seed, i) for i, rule in enumerate(plan.rules)]

    def clear(self) -> None:
        self.install(FaultPlan(0, ()))

    @property
    def plan(self) -> FaultPlan:
        with self._lock:
            return self._plan

    @property
    def is_active(self) -> bool:
        with self._lock:
            return bool(self._states)

    def decide(self, facts: RequestFacts) -> FaultDecision | None:
        with self._lock:
            return decide(self._states, facts) if self._states else None

    def describe(self) -> dict[str, object]:
        """``{"seed", "rules": [{"index", "match", "action", "times", "matched", "fired"}]}``."""
        with self._lock:
            rules = [
                {
                    "index": index,
                    "match": state.rule.source.get("match", {}),
                    "action": state.rule.source.get("action"),
                    "times": state.rule.times,
                    "matched": state.matched,
                    "fired": state.fired,
                }
                for index, state in enumerate(self._states)
            ]
            return {"seed": self._plan.seed, "rules": rules}
