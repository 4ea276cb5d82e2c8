"""``POST ROOT $batch``: run the inner requests of a multipart batch and frame their answers (spec §5.6).

Flow: :func:`~dataverse_emulator.webapi.batch_parse.parse_batch` reads and checks the whole body before
anything runs; each inner request becomes an :class:`ApiRequest` derived from the outer one (same
store, caller and tracking settings; its own method, target, headers, ``Prefer`` and body) and goes
through ``answer``, the same entry point as a top-level request. A changeset runs inside one
``store.write()`` transaction: the first member answering with status ≥ 400 rolls every member back
and the changeset is reported as that single error response.

Without ``Prefer: odata.continue-on-error`` the batch stops at the first failure and answers ``400``
with the responses so far plus the failing one; with it everything runs, the batch answers ``200``
and sends ``Preference-Applied: odata.continue-on-error``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from dataverse_emulator.errors import WebApiError
from dataverse_emulator.odata.prefer import parse_prefer
from dataverse_emulator.odata.querystring import parse_query
from dataverse_emulator.webapi.batch_framing import ChangesetResponse, PartResponse, ResponseItem, render_batch
from dataverse_emulator.webapi.batch_parse import Changeset, InnerRequest, count_requests, parse_batch, read_batch
from dataverse_emulator.webapi.batch_targets import resolve_target, substitute_references
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse
from dataverse_emulator.webapi.dispatch import split_segments

#: Answers one request and never raises :class:`WebApiError` (it returns the error response instead).
Answer = Callable[[ApiRequest], ApiResponse]


class _ChangesetFailed(Exception):
    """Raised out of a changeset's ``store.write()`` so the store rolls the changeset back."""

    def __init__(self, failure: PartResponse) -> None:
        super().__init__(f"changeset member {failure.content_id} failed with {failure.response.status}")
        self.failure = failure


def handle_batch(request: ApiRequest, answer: Answer) -> ApiResponse:
    """Answer a ``$batch`` request.

    Args:
        request: the outer ``POST $batch`` request (its body is the multipart batch).
        answer: runs one inner request and returns its response, errors included (a
            :class:`WebApiError` it raises anyway becomes that part's error response).

    Returns:
        ``200`` (or ``400`` when stopped at a failure) with a ``multipart/mixed`` body holding one
        part per top-level request that ran, in request order.

    Raises:
        WebApiError: 400 when the body is not a well-formed batch or breaks a batch rule; nothing
            has run then.
    """
    items = parse_batch(request.body, request.header("content-type"))
    continue_on_error = request.prefs.continue_on_error
    responses: list[ResponseItem] = []
    for item in items:
        response = _run_item(request, item, answer)
        responses.append(response)
        if response.failed and not continue_on_error:
            break
    content_type, body = render_batch(responses)
    stopped = not continue_on_error and any(response.failed for response in responses)
    applied = request.prefs.applied(continue_on_error=continue_on_error)
    headers = {"Preference-Applied": applied} if applied else {}
    return ApiResponse(400 if stopped else 200, body, headers, content_type)


def count_inner_requests(request: ApiRequest) -> int:
    """How many requests ``request`` counts as for service protection limits (spec §6.3).

    A ``POST $batch`` counts each inner request separately (changeset members included); any other
    request, and a batch whose body does not parse (it will be answered 400 without running
    anything), counts as one. Never raises.
    """
    if request.method != "POST" or request.segments[-1:] != ("$batch",):
        return 1
    try:
        items = read_batch(request.body, request.header("content-type"))
    except WebApiError:
        return 1
    return max(1, count_requests(items))


def _run_item(outer: ApiRequest, item: Changeset | InnerRequest, answer: Answer) -> ResponseItem:
    if isinstance(item, Changeset):
        return _run_changeset(outer, item, answer)
    return PartResponse(_answer_part(outer, item, answer, {}), item.content_id)


def _run_changeset(outer: ApiRequest, changeset: Changeset, answer: Answer) -> ResponseItem:
    """Run every member in one transaction; the first failure rolls all of them back."""
    entity_urls: dict[str, str] = {}
    members: list[PartResponse] = []
    try:
        with outer.store.write():
            for member in changeset.members:
                response = PartResponse(_answer_part(outer, member, answer, entity_urls), member.content_id)
                if response.failed:
                    raise _ChangesetFailed(response)
                members.append(response)
                _remember_entity(entity_urls, member, response.response)
    except _ChangesetFailed as failed:
        return failed.failure
    return ChangesetResponse(tuple(members))


def _remember_entity(entity_urls: dict[str, str], member: InnerRequest, response: ApiResponse) -> None:
    if member.content_id is None:
        return
    headers = {name.lower(): value for name, value in response.headers.items()}
    url = headers.get("odata-entityid") or headers.get("location")
    if url:
        entity_urls[member.content_id] = url


def _answer_part(outer: ApiRequest, part: InnerRequest, answer: Answer, entity_urls: Mapping[str, str]) -> ApiResponse:
    """The inner response; a :class:`WebApiError` (from the target, or an ``answer`` that raises
    after all) becomes its Dataverse error response."""
    try:
        return answer(inner_request(outer, part, entity_urls))
    except WebApiError as error:
        return ApiResponse(error.status, {"error": {"code": error.code, "message": error.message}}, dict(error.headers))


def inner_request(outer: ApiRequest, part: InnerRequest, entity_urls: Mapping[str, str]) -> ApiRequest:
    """The :class:`ApiRequest` of one inner request; caller, store and tracking come from ``outer``.

    Raises:
        WebApiError: for an unresolvable target or ``$n`` reference, or a malformed query string.
    """
    target = resolve_target(part.target, outer.root_url, entity_urls)
    return replace(
        outer,
        method=part.method,
        segments=split_segments(target.path),
        query=parse_query(target.query),
        prefs=parse_prefer(part.header_values("prefer")),
        headers=part.header_map(),
        body=substitute_references(part.body, entity_urls),
        root_url=target.root_url,
    )
