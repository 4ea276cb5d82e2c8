"""Failure files in Azure Blob Storage (DES §8.4, §8.6): one container per profile, shared by container SAS.

A profile's files live in the container ``failures-<profileId>`` (created at the first write or share) at the
same relative paths as the local layout. Blobs are written once (``overwrite=False``): a taken name moves on to
the next ``-<seq>``, so two writers on two machines never share a blob. ``share`` signs a container SAS with
read + list only (``sr=c&sp=rl``), the narrowest grant that lists and reads one profile's files: a container SAS
cannot be narrowed to a folder on a flat namespace, hence one container per profile.

The SAS is signed with the account key when one is given (a connection string, Azurite), else with a user
delegation key obtained through the service client's Entra credential (``DefaultAzureCredential``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContainerSasPermissions, generate_container_sas

from dataexport.blobs.base import DEFAULT_LINK_TTL, FailureStoreUnavailable, SharedLink, StoredFile
from dataexport.blobs.layout import (
    CONTAINER_PREFIX,
    WriteOnceFiles,
    check_profile_id,
    check_relative_path,
    container_name,
    is_older,
)

_T = TypeVar("_T")
_DELEGATION_SKEW = timedelta(minutes=5)


class AzureBlobFailureFiles(WriteOnceFiles):
    """The :class:`~dataexport.blobs.base.FailureFiles` of DES §8.4 in Azure Blob Storage.

    Args:
        service: a client for the storage account, authenticated by account key or by an Entra credential.
        account_key: the account key to sign SAS tokens with; None signs them with a user delegation key (the
            credential then needs the ``Storage Blob Delegator`` role and read/list rights on the containers).
    """

    def __init__(self, service: BlobServiceClient, *, account_key: str | None = None) -> None:
        self._service = service
        self._account_key = account_key

    @classmethod
    def from_connection_string(cls, connection_string: str) -> AzureBlobFailureFiles:
        """A store from a connection string holding ``AccountKey`` (Azurite's, or a secret reference's value)."""
        fields = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
        account_key = fields.get("AccountKey")
        if not account_key:
            raise ValueError("The storage connection string has no AccountKey: SAS links need the account key")
        return cls(BlobServiceClient.from_connection_string(connection_string), account_key=account_key)

    @classmethod
    def from_account_url(cls, account_url: str) -> AzureBlobFailureFiles:
        """A store for ``https://<account>.blob.core.windows.net`` through ``DefaultAzureCredential``."""
        from azure.identity import DefaultAzureCredential  # only this deployment needs the Entra stack

        return cls(BlobServiceClient(account_url, credential=DefaultAzureCredential()))

    def list_files(self, profile_id: str) -> list[StoredFile]:
        """See :meth:`dataexport.blobs.base.FailureFiles.list_files`."""
        container = self._container(profile_id)
        with _translated(container.container_name):
            try:
                found = list(_stored_files(container))
            except ResourceNotFoundError:
                return []
        return sorted(found, key=lambda item: (item.last_modified, item.path), reverse=True)

    def open_file(self, profile_id: str, path: str) -> bytes:
        """See :meth:`dataexport.blobs.base.FailureFiles.open_file`."""
        container = self._container(profile_id)
        name = "/".join(check_relative_path(path))
        with _translated(container.container_name):
            try:
                return container.download_blob(name).readall()
            except ResourceNotFoundError as error:
                raise FileNotFoundError(
                    f"No failure file {path!r} for profile {profile_id}: list the files for their paths"
                ) from error

    def has_profile(self, profile_id: str) -> bool:
        """See :meth:`dataexport.blobs.base.FailureFiles.has_profile`."""
        container = self._container(profile_id)
        with _translated(container.container_name):
            return container.exists()

    def delete_profile(self, profile_id: str) -> None:
        """See :meth:`dataexport.blobs.base.FailureFiles.delete_profile` (deletes the profile's container)."""
        container = self._container(profile_id)
        with _translated(container.container_name):
            _ignoring(ResourceNotFoundError, container.delete_container)

    def purge(self, before: datetime) -> int:
        """See :meth:`dataexport.blobs.base.FailureFiles.purge`; scans every ``failures-*`` container."""
        deleted = 0
        with _translated(f"{CONTAINER_PREFIX}*"):
            for properties in self._service.list_containers(name_starts_with=CONTAINER_PREFIX):
                container = self._service.get_container_client(properties.name)
                deleted += _purge_container(container, before)
        return deleted

    def share(self, profile_id: str, *, now: datetime, ttl: timedelta = DEFAULT_LINK_TTL) -> SharedLink:
        """See :meth:`dataexport.blobs.base.FailureFiles.share`: ``<container url>?<container SAS, sr=c&sp=rl>``."""
        container = self._container(profile_id)
        expiry = (now + ttl).astimezone(UTC).replace(microsecond=0)
        with _translated(container.container_name):
            _ignoring(ResourceExistsError, container.create_container)
            token = self._container_sas(container.container_name, now, expiry)
        return SharedLink(url=f"{container.url}?{token}", expires_on=expiry)

    def _container(self, profile_id: str) -> ContainerClient:
        return self._service.get_container_client(container_name(check_profile_id(profile_id)))

    def _container_sas(self, name: str, now: datetime, expiry: datetime) -> str:
        permission = ContainerSasPermissions(read=True, list=True)
        account = self._service.account_name or ""
        if self._account_key is not None:
            return generate_container_sas(
                account, name, account_key=self._account_key, permission=permission, expiry=expiry
            )
        delegation = self._service.get_user_delegation_key(now - _DELEGATION_SKEW, expiry)
        return generate_container_sas(
            account, name, user_delegation_key=delegation, permission=permission, expiry=expiry
        )

    def _publish(self, profile_id: str, folder: str, names: Iterable[str], content: bytes) -> str:
        container = self._container(profile_id)
        with _translated(container.container_name):
            for name in names:
                path = f"{folder}/{name}"
                if _upload_once(container, path, content):
                    return path
        raise FailureStoreUnavailable(f"No free failure file name in {folder}", profile_id=profile_id)


def _upload_once(container: ContainerClient, path: str, content: bytes) -> bool:
    """Upload ``content`` as a new blob ``path``, creating the container at first use; False when ``path`` exists."""
    try:
        return _upload_new(container, path, content)
    except ResourceNotFoundError:
        _ignoring(ResourceExistsError, container.create_container)
    return _upload_new(container, path, content)


def _upload_new(container: ContainerClient, path: str, content: bytes) -> bool:
    try:
        container.upload_blob(path, content, overwrite=False)
    except ResourceExistsError as error:
        if _error_code(error) != "BlobAlreadyExists":
            raise
        return False
    return True


def _stored_files(container: ContainerClient) -> Iterator[StoredFile]:
    for blob in container.list_blobs():
        modified = blob.last_modified.astimezone(UTC)
        yield StoredFile(path=blob.name, size=blob.size, last_modified=modified)


def _purge_container(container: ContainerClient, before: datetime) -> int:
    deleted = 0
    try:
        files = list(_stored_files(container))
    except ResourceNotFoundError:  # deleted with its profile while the purge ran
        return 0
    for stored in files:
        if is_older(stored.path, stored.last_modified, before):
            _ignoring(ResourceNotFoundError, partial(container.delete_blob, stored.path))
            deleted += 1
    return deleted


def _ignoring(expected: type[AzureError], action: Callable[[], _T]) -> _T | None:
    """``action()``, or None when it raises ``expected`` (the state it wanted is already there)."""
    try:
        return action()
    except expected:
        return None


def _error_code(error: HttpResponseError) -> str | None:
    """The storage error code (``BlobAlreadyExists``...), which the SDK sets on the error when the body had one."""
    code = getattr(error, "error_code", None)
    return code if isinstance(code, str) else None


@contextmanager
def _translated(target: str) -> Iterator[None]:
    """Turn storage failures into :class:`FailureStoreUnavailable` naming ``target`` (never a key or SAS)."""
    try:
        yield
    except HttpResponseError as error:
        raise FailureStoreUnavailable(
            f"Azure Blob Storage refused a request on container {target} (HTTP {error.status_code}, "
            f"{_error_code(error) or 'no error code'}): check the account URL and the service's storage rights"
        ) from error
    except AzureError as error:
        raise FailureStoreUnavailable(
            f"Azure Blob Storage cannot be reached for container {target} ({type(error).__name__}): "
            "check the account URL and the network, then retry"
        ) from error
