"""DES error bodies (§3.1) for every non-2xx answer, whatever raised it; never a 422, never a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dataexport.service.problems import Problem, ProblemKind

log = logging.getLogger(__name__)

STATUS = {
    ProblemKind.INVALID: 400,
    ProblemKind.UNAUTHENTICATED: 401,
    ProblemKind.FORBIDDEN: 403,
    ProblemKind.NOT_FOUND: 404,
    ProblemKind.CONFLICT: 409,
    ProblemKind.UNAVAILABLE: 503,
}
_HTTP_CODES = {404: "NotFound", 405: "MethodNotAllowed", 400: "InvalidRequest"}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, object]] | None = None,
    *,
    test_result: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """``{"Error": {"Code", "Message", "Details"?, "TestResult"?}}`` with ``status``."""
    error: dict[str, object] = {"Code": code, "Message": message}
    if details:
        error["Details"] = details
    if test_result is not None:
        error["TestResult"] = test_result
    return JSONResponse({"Error": error}, status_code=status, headers=headers)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """The response for a service refusal."""
    details = [detail.model_dump(mode="json", by_alias=True, exclude_none=True) for detail in problem.details]
    result = problem.test_result.model_dump(mode="json", by_alias=True) if problem.test_result is not None else None
    return error_response(
        STATUS[problem.kind], problem.code, problem.message, details, test_result=result, headers=headers
    )


def install_error_handlers(app: FastAPI, unauthorized_headers: dict[str, str]) -> None:
    """Map service problems, routing errors, parameter errors and crashes to DES error bodies."""

    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Problem)
        headers = unauthorized_headers if error.kind is ProblemKind.UNAUTHENTICATED else None
        return problem_response(error, headers)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = _HTTP_CODES.get(error.status_code, "Error")
        return error_response(error.status_code, code, str(error.detail), headers=getattr(error, "headers", None))

    async def on_parameters(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        details: list[dict[str, object]] = []
        for item in error.errors():
            location = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "path", "body"))
            details.append({"Field": location or "$", "Code": "InvalidValue", "Message": str(item.get("msg", ""))})
        return error_response(400, "InvalidRequest", "The request parameters are invalid.", details)

    async def on_crash(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "InternalError", "The service failed unexpectedly; the error is in its log.")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_parameters)
    app.add_exception_handler(Exception, on_crash)
