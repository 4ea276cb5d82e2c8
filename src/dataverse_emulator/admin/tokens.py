"""Minting test tokens and managing signing keys (spec §9.3 ``/_emulator/tokens``, ``/_emulator/keys``).

``POST /_emulator/tokens`` fills convenient defaults and then uses the identity package's own parser
(:func:`dataverse_emulator.identity.admin.parse_token_request`), so both admin paths mint alike:

* ``org``: the organization the token is for (default: the default org);
* ``user``: a sample user key (``admin``, ``teamadmin``, ``user``, ``disabled``: a user token with that
  person's ``oid``, UPN and name; ``app``: an app token of the default application);
* ``kind`` defaults to ``user`` when ``user`` names a person, else ``app``; ``client_id`` to the
  default application; ``aud`` to the org URL the Web API checks: ``<base>`` for the default org's
  ``/api/data`` path, ``<base>/<org>`` when ``org`` is given;
* ``tenant``, ``oid``, ``expires_in`` (negative: already expired), ``extra_claims``, ``sign_with``
  (a kid outside the ring signs with a detached key), ``version``, ``upn``, ``name`` as in the parser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataverse_emulator.admin.fields import AdminRequestError, Fields
from dataverse_emulator.identity.admin import parse_token_request

if TYPE_CHECKING:
    from dataverse_emulator.emulator import Emulator

_FIELDS = (
    "org", "user", "tenant", "kind", "client_id", "oid", "aud", "expires_in", "extra_claims", "sign_with",
    "version", "upn", "name",
)  # fmt: skip


def mint_token(emulator: Emulator, fields: Fields, base_url: str) -> dict[str, object]:
    """``{"access_token", "token_type", "expires_on", "kid"}`` for a ``POST /_emulator/tokens`` body.

    Raises:
        AdminRequestError: unknown org or sample user, or an invalid field.
    """
    fields.reject_unknown(_FIELDS)
    values = {k: v for k, v in fields.values.items() if k not in ("org", "user") and v is not None}
    org = fields.text("org")
    store = emulator.org(org)
    if org is not None and store is None:
        raise AdminRequestError(f"'org': no organization {org!r}")
    user_key = fields.text("user")
    if user_key is not None:
        values = _sample_user_claims(emulator, store.info.url_name if store else None, user_key) | values
    values.setdefault("kind", "app")
    values.setdefault("client_id", emulator.persistent.client_id)
    values.setdefault("aud", f"{base_url}/{org}" if org else base_url)
    issued = emulator.issuer.issue(parse_token_request(values, emulator), base_url=base_url)
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_on": issued.expires_on,
        "kid": issued.kid,
    }


def _sample_user_claims(emulator: Emulator, org: str | None, key: str) -> dict[str, object]:
    if org is None:
        raise AdminRequestError("'user' needs an organization: create one first")
    try:
        user = emulator.identities(org).user(key)
    except KeyError as error:
        raise AdminRequestError(f"'user': no sample user {key!r} in {org!r}") from error
    if user.application_id is not None:
        return {"kind": "app", "client_id": user.application_id}
    return {"kind": "user", "oid": user.oid, "upn": user.upn, "name": user.fullname}


def update_keys(emulator: Emulator, fields: Fields) -> dict[str, object]:
    """``POST /_emulator/keys`` ``{"kid"?, "use"?}``: add ``kid`` (or a new kid) when it is not in the
    ring, and sign with it from now on when ``use`` is true. Returns the ring's state and ``added``."""
    fields.reject_unknown(("kid", "use"))
    keyring = emulator.keyring
    kid = fields.text("kid")
    added = kid is None or kid not in keyring.kids
    if added:
        kid = keyring.add_key(kid)
    assert kid is not None
    if fields.boolean("use", False):
        keyring.use_key(kid)
    return {"kid": kid, "added": added, **key_state(emulator)}


def key_state(emulator: Emulator) -> dict[str, object]:
    return {"signing_kid": emulator.keyring.signing_kid, "kids": list(emulator.keyring.kids)}
