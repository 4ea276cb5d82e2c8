"""The ``test`` / ``validate`` / pre-flight checks of DES §5: :func:`run_checks`.

Every check of :data:`~dataexport.domain.checks.CHECK_NAMES` appears in the result, in that order. A check is
``Skipped`` when a check it depends on did not pass (or it does not apply, e.g. the tag check on an ``env:``
reference); an exception inside a check becomes that check's ``Failed`` result. Nothing is written anywhere:
the destination is opened for reading only (a missing SQLite file is not created).

Secrets: the connection string lives only in this run's memory. Every message is scrubbed of it and of its
password before it is returned, so a driver error quoting either cannot leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, quote_plus

from dataexport.domain.checks import CheckName, CheckResult, CheckStatus, TestResult
from dataexport.service.check_list import CHECKS
from dataexport.service.check_run import (
    Check,
    CheckDeps,
    CheckRun,
    CheckSubject,
    SecretsLike,
    Skip,
    SourceLike,
    describe,
    failed,
)


def run_checks(subject: CheckSubject, deps: CheckDeps) -> TestResult:
    """Run every §5 check in order and return the result (never raises for a failing check)."""
    started = deps.clock()
    run = CheckRun(subject, deps, subject.body())
    try:
        for name, check, skip in CHECKS:
            run.results[name] = _run_one(run, name, check, skip)
    finally:
        run.close()
    results = [_scrubbed(run.results[name], _secrets_of(run)) for name, _check, _skip in CHECKS]
    return TestResult.of(subject.profile_id, started, deps.clock(), results)


def _run_one(run: CheckRun, name: CheckName, check: Check, skip: Skip) -> CheckResult:
    reason = skip(run)
    if reason is not None:
        return CheckResult(name=name.value, status=CheckStatus.SKIPPED, message=reason)
    try:
        outcome = check(run)
    except Exception as error:  # a check that cannot complete fails, saying why
        outcome = failed(f"{name.value} could not be completed: {describe(error)}")
    return CheckResult(name=name.value, status=outcome.status, message=outcome.message, details=outcome.details)


def _secrets_of(run: CheckRun) -> tuple[str, ...]:
    values = [run.secret or ""]
    if run.url is not None and run.url.password:
        password = str(run.url.password)
        values += [password, quote(password, safe=""), quote_plus(password)]
    return tuple(sorted({value for value in values if value}, key=len, reverse=True))


def _scrubbed(result: CheckResult, secrets: Sequence[str]) -> CheckResult:
    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    details = tuple(detail.model_copy(update={"message": scrub(detail.message)}) for detail in result.details)
    return result.model_copy(update={"message": scrub(result.message), "details": details})


__all__ = ["CheckDeps", "CheckSubject", "SecretsLike", "SourceLike", "run_checks"]
