"""``/crm/exporter/failurestore/{profileId}[/{path}]``: the local failure store's signed routes (DES §8.6, §3.5).

``GET profiles/{id}/failures`` hands out ``…/failurestore/<profileId>?se=<unix>&sig=<hmac>``; whoever holds that
URL may list and read that profile's failure files until ``se``, without a bearer token. The signature is checked
before the profile is looked up, so a caller without a valid link learns nothing about which profiles exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from dataexport.api.errors import error_response
from dataexport.api.models import DesModel, ErrorBody
from dataexport.blobs.base import StoredFile
from dataexport.blobs.local import SHARE_ROUTE, LocalFailureFiles
from dataexport.blobs.signing import UrlSigner
from dataexport.domain.timestamps import Timestamp

_MEDIA_TYPES = {".log": "text/plain; charset=utf-8", ".json": "application/json"}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "InvalidSignature: se or sig missing, malformed, wrong or expired."},
    404: {"model": ErrorBody, "description": "NotFound: no failure data for this profile, or no such file."},
}
_FILE_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file: failure-log lines (DES §8.3) or a JSON document (§8.4).",
        "content": {"text/plain": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}},
    }
}

ProfileIdPath = Annotated[str, Path(alias="profileId", description="The export profile's id.")]
ExpiryQuery = Annotated[str | None, Query(description="Expiry of the link, Unix seconds (from the signed URL).")]
SignatureQuery = Annotated[
    str | None, Query(description="HMAC-SHA256 of profileId + '\\n' + se (from the signed URL).")
]


class FailureFileOut(DesModel):
    path: str
    size: int
    last_modified: Timestamp

    @classmethod
    def of(cls, stored: StoredFile) -> FailureFileOut:
        return cls(path=stored.path, size=stored.size, last_modified=stored.last_modified)


class FailureFilesOut(DesModel):
    """A profile's failure files, newest first."""

    files: list[FailureFileOut]


def failure_store_router(files: LocalFailureFiles, signer: UrlSigner, clock: Callable[[], datetime]) -> APIRouter:
    """The two signed routes over ``files``; ``signer`` must be the one ``files`` shares links with."""
    router = APIRouter(prefix=SHARE_ROUTE, tags=["FailureStore"])

    @router.get(
        "/{profileId}",
        operation_id="FailureStore_ListFiles",
        response_model=FailureFilesOut,
        responses=_RESPONSES,
    )
    def list_files(profile_id: ProfileIdPath, se: ExpiryQuery = None, sig: SignatureQuery = None) -> Response:
        """List the profile's failure files (path relative to the profile, size in bytes), newest first."""
        refusal = _refusal(files, signer, profile_id, se, sig, clock())
        if refusal is not None:
            return refusal
        listed = FailureFilesOut(files=[FailureFileOut.of(stored) for stored in files.list_files(profile_id)])
        return JSONResponse(listed.model_dump(mode="json", by_alias=True))

    @router.get(
        "/{profileId}/{path:path}",
        operation_id="FailureStore_GetFile",
        response_class=Response,
        responses={**_FILE_CONTENT, **_RESPONSES},
    )
    def get_file(profile_id: ProfileIdPath, path: str, se: ExpiryQuery = None, sig: SignatureQuery = None) -> Response:
        """One failure file, by the ``Path`` the listing gave."""
        refusal = _refusal(files, signer, profile_id, se, sig, clock())
        if refusal is not None:
            return refusal
        try:
            content = files.open_file(profile_id, path)
        except (FileNotFoundError, ValueError):
            return _not_found(f"Profile {profile_id} has no failure file {path!r}: list the files for their paths.")
        return Response(content, media_type=_media_type(path), headers={"Cache-Control": "no-store"})

    return router


def _refusal(
    files: LocalFailureFiles, signer: UrlSigner, profile_id: str, se: str | None, sig: str | None, now: datetime
) -> JSONResponse | None:
    """403 for a bad link, then 404 for a profile without failure data; None when the request may proceed."""
    if not signer.verify(profile_id, se, sig, now):
        return error_response(
            403,
            "InvalidSignature",
            f"The link to the failures of profile {profile_id} is missing its se/sig, altered or expired: "
            "ask GET profiles/{id}/failures for a new one.",
        )
    try:
        known = files.has_profile(profile_id)
    except ValueError:
        known = False
    return None if known else _not_found(f"Profile {profile_id} has no failure data.")


def _not_found(message: str) -> JSONResponse:
    return error_response(404, "NotFound", message)


def _media_type(path: str) -> str:
    suffix = path[path.rfind(".") :] if "." in path else ""
    return _MEDIA_TYPES.get(suffix, "application/octet-stream")
