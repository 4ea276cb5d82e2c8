"""The base URL the emulator answers under, and the issuer names derived from it (spec §1.4, §7.2)."""

from __future__ import annotations

from starlette.requests import Request

TOKEN_VERSIONS = ("1.0", "2.0")


def base_url_of(request: Request, public_url: str | None) -> str:
    """``scheme://host[:port]`` of ``request`` (from its ``Host`` header), or ``public_url`` when configured.

    Never ends with ``/``. The host is lower-cased so ``Localhost`` and ``localhost`` name the same
    issuer; the port is kept exactly as the client sent it.
    """
    if public_url:
        return public_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc.lower()}"


def issuer_url(base_url: str, tenant_id: str, version: str) -> str:
    """The ``iss`` of tokens and discovery documents: v1 ``<base>/<tid>/``, v2 ``<base>/<tid>/v2.0``.

    Raises:
        ValueError: ``version`` is not ``"1.0"`` or ``"2.0"``.
    """
    base = base_url.rstrip("/")
    if version == "1.0":
        return f"{base}/{tenant_id}/"
    if version == "2.0":
        return f"{base}/{tenant_id}/v2.0"
    raise ValueError(f"token version {version!r} is not supported: use '1.0' or '2.0'")
