"""Property-based fuzzing of the REST API from its own OpenAPI document (DES §3, §3.5, §3.6), with schemathesis.

The document is read from ``GET /swagger/docs/2016-01-01`` of the real service runtime over an emulator process;
every operation is called with generated parameters and bodies, valid for the document and not, in process
through the ASGI app. Whatever is sent, the answer is a status code the operation documents, never a 5xx other
than a documented 503 and never a 422 (§2.3), with a body of the documented type and schema. Generated values are
sometimes replaced by real ones (the organization, a live profile, selectable entities and a working destination),
so calls get past the 404s and 400s to creation, updates, the lifecycle and the §5 checks.

``DATAEXPORT_TEST_FUZZ_EXAMPLES`` sets the examples per operation and mode (default 25, about a minute in all);
``DATAEXPORT_TEST_SEED`` seeds the generation (unset: derandomized, the same cases every run). Hypothesis keeps no
example database and its caches go to a temporary folder, so nothing is written into the working tree.

The schemathesis pytest plugin (``from_fixture``) fails on pytest 9 (``Function._nodeid``), so each operation's
Hypothesis test is built here from ``APIOperation.as_strategy`` and run in a loop that reports every operation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from test_api_support import DESTINATION_SECRET, ServiceEnv, emulator_process, service_env

from dataexport.api.app import OPENAPI_PATH

EXAMPLES = int(os.environ.get("DATAEXPORT_TEST_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("DATAEXPORT_TEST_SEED")
CHECKS = ("status_code_conformance", "content_type_conformance", "response_schema_conformance")
CHALLENGE = "/crm/exporter/aad/challenge"
OPEN_PATHS = ("/healthz", "/readyz", CHALLENGE, "/crm/exporter/failurestore")
REAL_BODY = {
    "KeyVaultUri": f"file:{DESTINATION_SECRET}",
    "Entities": [{"Name": "account"}, {"Name": "contact"}],
    "Relationships": [],
}

pytestmark = [
    pytest.mark.slow,
    # About 50 calls per example (two modes, 25 operations); the default budget is too short for large counts.
    pytest.mark.timeout(120 + 10 * EXAMPLES),
    # Raised from schemathesis' own negative-data strategies, not from anything here.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]


class LiveProfile:
    """The id of a stored profile; a new one is created when the fuzzer deleted it."""

    def __init__(self, env: ServiceEnv) -> None:
        self._env = env
        self.id = self._create()

    def _create(self) -> str:
        return str(self._env.create_profile(Name=f"fuzz-live-{uuid.uuid4().hex[:8]}")["Id"])

    def after(self, case: Case, status: int) -> None:
        if case.method.upper() == "DELETE" and status == 204 and case.path_parameters.get("profileId") == self.id:
            self.id = self._create()


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis' own caches (constants, Unicode tables) go to a temporary folder, not the working tree."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceEnv]:
    """The service over an emulator, with the privacy terms accepted."""
    root = tmp_path_factory.mktemp("fuzz")
    with emulator_process(root) as info, service_env(root / "service", info) as env:
        env.accept_terms()
        yield env


def load_schema(env: ServiceEnv, headers: dict[str, str], live: LiveProfile) -> schemathesis.BaseSchema:
    """The service's own document: every case sends ``headers``; real values are mixed into the generated ones."""
    checks = {"enabled": False, **{name: {"enabled": True} for name in CHECKS}}
    config = schemathesis.Config.from_dict({"headers": headers, "checks": checks})
    schema = schemathesis.openapi.from_asgi(OPENAPI_PATH, env.client.app, config=config)
    real_query = {"organizationId": env.org_id, "organizationUrl": env.info.base_url}

    @schema.hook
    def flatmap_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        del context
        if query is None:
            return st.just(query)
        named = {key: value for key, value in real_query.items() if key in query}
        return st.sampled_from([query, {**query, **named}, {**query, "organizationId": env.org_id}])

    @schema.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[Any]:
        del context
        if path_parameters is None or "profileId" not in path_parameters:
            return st.just(path_parameters)
        # The live id is read when the case is drawn: a deleted profile has been replaced by then.
        return st.booleans().map(lambda real: {**path_parameters, "profileId": live.id} if real else path_parameters)

    @schema.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
        del context
        if not isinstance(body, dict):
            return st.just(body)
        return st.sampled_from([body, {**body, **REAL_BODY}, {**body, **REAL_BODY, "OrganizationId": env.org_id}])

    return schema


def without_credentials(schema: schemathesis.BaseSchema) -> schemathesis.BaseSchema:
    """The authenticated operations, sent a generated (garbage) bearer value or no Authorization header at all."""

    @schema.hook
    def flatmap_headers(context: schemathesis.HookContext, headers: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        del context
        if not headers or "Authorization" not in headers:
            return st.just(headers)
        return st.sampled_from([headers, {key: value for key, value in headers.items() if key != "Authorization"}])

    return schema.exclude(path_regex="^(" + "|".join(OPEN_PATHS) + ")")


def fuzz(schema: schemathesis.BaseSchema, check: Callable[[Case], None]) -> int:
    """Run ``check`` on generated cases of every operation, valid and invalid for the document.

    Fails listing every operation whose (shrunk) case failed; returns the number of operations fuzzed.
    """
    settings = hypothesis.settings(
        max_examples=EXAMPLES,
        database=None,
        derandomize=SEED is None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
        print_blob=False,
    )
    problems: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            test = settings(given(case=operation.as_strategy(mode))(check))
            if SEED is not None:
                test = hypothesis.seed(int(SEED))(test)
            try:
                test()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid input to send.
                if mode is GenerationMode.POSITIVE:
                    problems.append(f"{operation.label}: no case could be generated")
            except Exception as error:
                problems.append(f"{operation.label} ({mode.value}): {type(error).__name__}: {error}")
    assert not problems, "\n\n".join(problems)
    return len(operations)


def documented(case: Case) -> set[int]:
    return {int(code) for code in case.operation.responses.status_codes if code.isdigit()}


def test_every_answer_is_documented(fuzz_env: ServiceEnv) -> None:
    live = LiveProfile(fuzz_env)
    schema = load_schema(fuzz_env, {"Authorization": f"Bearer {fuzz_env.token('admin')}"}, live)

    def check(case: Case) -> None:
        response = case.call()
        live.after(case, response.status_code)
        label = f"{case.method} {case.formatted_path}"
        fuzz_env.watch.check(response.text, f"the response to {label}")
        assert response.status_code != 422, f"{label}: 422, which DES §2.3 rules out: {response.text}"
        if response.status_code == 401:
            assert case.path == CHALLENGE, f"{label}: the administrator's token was refused: {response.text}"
        if response.status_code >= 500:
            assert response.status_code == 503 and 503 in documented(case), f"{label}: {response.text}"
        case.validate_response(response)

    assert fuzz(schema, check) >= 20


def test_without_a_token_every_operation_answers_401(fuzz_env: ServiceEnv) -> None:
    schema = without_credentials(load_schema(fuzz_env, {}, LiveProfile(fuzz_env)))

    def check(case: Case) -> None:
        response = case.call()
        assert response.status_code == 401, f"{case.method} {case.formatted_path}: {response.status_code}"
        assert response.json()["Error"]["Code"] == "Unauthorized"

    assert fuzz(schema, check) >= 18


def test_the_document_promises_no_422(fuzz_env: ServiceEnv) -> None:
    document = fuzz_env.client.get(OPENAPI_PATH).json()
    promising = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "422" in operation["responses"]
    ]
    assert promising == [], f"DES §2.3: never 422, yet the document lists it for {promising}"
