"""Failure files (DES §8.4-8.6): where failure logs and failed records are kept, and the expiring links to them.

- :mod:`.base`: the ``FailureFiles`` Protocol, ``StoredFile``, ``SharedLink``, ``FailureStoreUnavailable``.
- :mod:`.layout`: the §8.4 paths, names and retention rule, as pure functions.
- :mod:`.local`: a local folder, shared through the HMAC-signed routes of :mod:`dataexport.api.failurestore`.
- :mod:`.azure`: Azure Blob Storage, one container per profile, shared by container SAS.
- :mod:`.signing`: the ``UrlSigner`` of the local routes and the generated key file (``url_signing_key``).
"""

from dataexport.blobs.base import DEFAULT_LINK_TTL, FailureFiles, FailureStoreUnavailable, SharedLink, StoredFile
from dataexport.blobs.local import LocalFailureFiles, LocalFailureStore
from dataexport.blobs.signing import UrlSigner, ensure_key_file

__all__ = [
    "DEFAULT_LINK_TTL",
    "FailureFiles",
    "FailureStoreUnavailable",
    "LocalFailureFiles",
    "LocalFailureStore",
    "SharedLink",
    "StoredFile",
    "UrlSigner",
    "ensure_key_file",
]
