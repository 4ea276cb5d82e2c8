"""The §5 checks end to end: the real emulator in-process, real secrets (env:, file:) and real destinations
(SQLite, PostgreSQL, MariaDB, with restricted logins created here)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from test_destination_servers import plain_connection, server_url, unique_prefix
from test_source_support import EmulatorEnv, emulator_env

from dataexport.domain.checks import CHECK_NAMES, CheckStatus, DestinationIdentity, TestResult
from dataexport.domain.profile import ExportProfile, ProfileState, Selection
from dataexport.domain.secret_refs import SecretReference
from dataexport.secrets.local import LocalSecretStore
from dataexport.secrets.resolver import SecretResolver
from dataexport.service.checks import CheckDeps, CheckSubject, run_checks

VAULT = "https://contoso-kv.vault.azure.net/secrets/reporting-sql/"
VAULT_SUFFIXES = (".vault.azure.net",)


@dataclass
class FakeVault:
    """A Key Vault store stand-in for the tag rule only (the real vault path is tested with the secrets):
    one secret with its tags."""

    value: str
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, reference: SecretReference) -> str:
        return self.value

    def read_tags(self, reference: SecretReference) -> Mapping[str, str]:
        return self.tags


@dataclass
class World:
    env: EmulatorEnv
    tmp: Path
    organization_id: str
    tenant_id: str
    environ: dict[str, str] = field(default_factory=dict)

    def deps(self, **overrides: Any) -> CheckDeps:
        deps = CheckDeps(
            source=self.env.source,
            secrets=SecretResolver(LocalSecretStore(self.tmp, self.environ)),
            data_dir=self.tmp,
            connect_timeout=10,
        )
        return replace(deps, **overrides)

    def body(self, destination: str, **fields: Any) -> dict[str, Any]:
        """A valid body whose KeyVaultUri is an env: reference holding ``destination``."""
        variable = f"DX_CHECKS_{uuid.uuid4().hex[:8].upper()}"
        self.environ[variable] = destination
        body: dict[str, Any] = {
            "Name": "Reporting",
            "OrganizationId": self.organization_id,
            "KeyVaultUri": f"env:{variable}",
            "TablePrefix": unique_prefix(),
            "Entities": [{"Name": "account"}, {"Name": "lead"}],
            "Relationships": [{"Name": "accountleads_association"}],
        }
        body.update(fields)
        return body

    def check(self, body: Mapping[str, Any], deps: CheckDeps | None = None, **subject: Any) -> TestResult:
        values: dict[str, Any] = {"organization_id": self.organization_id, "tenant_id": self.tenant_id, **subject}
        return run_checks(CheckSubject(body, **values), deps or self.deps())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with emulator_env(tmp_path / "emulator") as env:
        identity = env.source().organization()
        yield World(env, tmp_path, identity.organization_id, env.emulator.persistent.tenant_id)


def statuses(result: TestResult) -> dict[str, str]:
    return {item.name: item.status.value for item in result.results}


def codes(result: TestResult, name: str) -> list[tuple[str | None, str]]:
    return [(detail.field, detail.code) for detail in result.result(name).details]


def as_json(result: TestResult) -> str:
    return json.dumps(result.model_dump(by_alias=True, mode="json"))


# ----- the profile and Dataverse ---------------------------------------------------------------------------


def test_a_valid_body_on_a_new_sqlite_file_passes_and_writes_nothing(world: World) -> None:
    result = world.check(world.body("sqlite:///reporting.db"))

    assert result.succeeded and result.profile_id is None
    assert [item.name for item in result.results] == list(CHECK_NAMES)
    assert statuses(result) == {
        "ProfileFields": "Passed",
        "DataverseAccess": "Passed",
        "EntitySelection": "Passed",
        "RelationshipSelection": "Passed",
        "SecretAccess": "Passed",
        "SecretAuthorization": "Skipped",
        "ConnectionString": "Passed",
        "DestinationConnection": "Passed",
        "DestinationSchema": "Skipped",
        "DestinationPermissions": "Passed",
        "DestinationObjects": "Passed",
        "DestinationInUse": "Passed",
        "DestinationSettings": "Skipped",
    }
    assert result.result("DestinationConnection").message.startswith("Connected to SQLite 3.")
    assert result.result("DestinationSchema").message == "Skipped: SQLite has no schemas."
    assert not (world.tmp / "reporting.db").exists()  # validate creates nothing
    document = result.model_dump(by_alias=True, mode="json")
    assert list(document) == ["ProfileId", "Succeeded", "StartedOn", "CompletedOn", "Results"]
    assert document["StartedOn"].endswith("Z") and document["CompletedOn"].endswith("Z")
    assert document["Results"][0] == {
        "Name": "ProfileFields",
        "Status": "Passed",
        "Message": "All fields are valid.",
        "Details": [],
    }


def test_field_rules_and_selection_rules_fail_in_their_own_checks(world: World) -> None:
    world.env.faults({"match": {"entity_set": "leads"}, "action": {"status": 403, "code": "0x80040220"}})
    body = world.body(
        "sqlite:///r.db",
        TablePrefix="bad-prefix",
        RetryCount=99,
        Entities=[
            {"Name": "account"},
            {"Name": "new_untracked"},
            {"Name": "accountleads"},
            {"Name": "activitypointer"},
            {"Name": "nope"},
            {"Name": "lead"},
            {"Name": "ACCOUNT"},
        ],
        Relationships=[{"Name": "contactleads_association"}, {"Name": "nope_association"}],
    )
    result = world.check(body, world.deps(other_profile_names=("reporting",)))

    assert not result.succeeded
    assert codes(result, "ProfileFields") == [
        ("Name", "Duplicate"),
        ("TablePrefix", "InvalidFormat"),
        ("RetryCount", "OutOfRange"),
    ]
    assert codes(result, "EntitySelection") == [
        ("Entities[3].Name", "NotSupported"),
        ("Entities[6].Name", "Duplicate"),
        ("Entities[1].Name", "ChangeTrackingDisabled"),
        ("Entities[2].Name", "NotSupported"),
        ("Entities[4].Name", "UnknownEntity"),
        ("Entities[5].Name", "NotReadable"),
    ]
    assert "Entity 'lead' cannot be read" in result.result("EntitySelection").details[-1].message
    assert codes(result, "RelationshipSelection") == [
        ("Relationships[0].Name", "EntityNotSelected"),
        ("Relationships[1].Name", "UnknownRelationship"),
    ]
    assert result.result("RelationshipSelection").details[0].message == (
        "Relationship 'contactleads_association' requires entities 'contact' and 'lead' to be selected."
    )
    # an invalid prefix cannot name tables: the object checks say so instead of guessing
    assert result.result("DestinationObjects").status is CheckStatus.FAILED
    assert "TablePrefix 'bad-prefix' is invalid" in result.result("DestinationObjects").message


def test_dataverse_that_refuses_the_credentials_fails_access_and_skips_the_selection(world: World) -> None:
    def wrong_secret() -> Any:
        config = world.env.config(auth=world.env.credentials("not-the-secret"))
        from dataexport.source.dataverse import DataverseSource

        return DataverseSource(config, http=world.env.client)

    result = world.check(world.body("sqlite:///r.db"), world.deps(source=wrong_secret))

    access = result.result("DataverseAccess")
    assert access.status is CheckStatus.FAILED
    assert access.message.startswith("Could not sign in to the organization's Dataverse:")
    assert "not-the-secret" not in as_json(result)
    for name in ("EntitySelection", "RelationshipSelection"):
        assert result.result(name).message == "Skipped: DataverseAccess did not pass."
    assert result.result("DestinationConnection").status is CheckStatus.PASSED  # the destination is still checked


def test_another_organization_at_the_url_is_an_organization_mismatch(world: World) -> None:
    registered = str(uuid.uuid4())
    body = world.body("sqlite:///r.db", OrganizationId=registered)

    result = world.check(body, organization_id=registered)

    access = result.result("DataverseAccess")
    assert access.status is CheckStatus.FAILED
    assert [detail.code for detail in access.details] == ["OrganizationMismatch"]
    assert world.organization_id in access.message and registered in access.message


def test_a_stored_profile_that_was_activated_owns_its_tables(world: World) -> None:
    database = world.tmp / "own.db"
    with plain_connection(f"sqlite:///{database}") as connection:
        connection.execute(text('CREATE TABLE "crm_account" ("Id" TEXT PRIMARY KEY, versionnumber INTEGER)'))
    world.environ["OWN_DB"] = f"sqlite:///{database}"
    profile = ExportProfile(
        id=str(uuid.uuid4()),
        name="Own",
        organization_id=world.organization_id,
        key_vault_uri="env:OWN_DB",
        table_prefix="crm",
        entities=(Selection(name="account"),),
        state=ProfileState.INACTIVE,
    )

    owned = world.check(profile, profile_id=profile.id, activated=True)
    adopted = world.check(profile, profile_id=profile.id, activated=False)

    assert owned.succeeded and owned.profile_id == profile.id
    assert owned.result("DestinationObjects").status is CheckStatus.PASSED
    assert adopted.succeeded  # a warning does not fail the run
    objects = adopted.result("DestinationObjects")
    assert objects.status is CheckStatus.WARNING
    assert [(d.code, d.message) for d in objects.details] == [
        ("TableExists", "Table 'crm_account' exists and will be adopted.")
    ]


# ----- secrets ---------------------------------------------------------------------------------------------


def test_an_unset_environment_variable_fails_secret_access_and_skips_the_destination(world: World) -> None:
    body = world.body("sqlite:///r.db", KeyVaultUri="env:DX_CHECKS_NEVER_SET")

    result = world.check(body)

    access = result.result("SecretAccess")
    assert access.status is CheckStatus.FAILED and "env:DX_CHECKS_NEVER_SET" in access.message
    assert result.result("ConnectionString").message == "Skipped: SecretAccess did not pass."
    assert result.result("DestinationConnection").message == "Skipped: ConnectionString did not pass."
    for name in CHECK_NAMES[8:]:
        assert result.result(name).status is CheckStatus.SKIPPED
    assert statuses(result)["DataverseAccess"] == "Passed"


def test_a_file_reference_is_read_and_is_not_tag_checked(world: World) -> None:
    (world.tmp / "secrets").mkdir()
    (world.tmp / "secrets" / "reporting").write_text("  sqlite:///from-file.db \n", encoding="utf-8")
    body = world.body("unused", KeyVaultUri="file:secrets/reporting")

    result = world.check(body)

    assert result.succeeded
    assert result.result("SecretAuthorization").message == (
        "Skipped: KeyVaultUri is a file: reference; the tag check applies to Key Vault secrets only."
    )
    assert str(world.tmp / "from-file.db") in result.result("ConnectionString").message


OTHER_TENANT = "0b7f6c1e-2d3a-4c5b-9e8f-7a6b5c4d3e2f"
TAG_CASES = {
    "matching": (lambda org, tenant: {org: tenant}, None),
    "matching in upper case": (lambda org, tenant: {org.upper(): tenant.upper()}, None),
    "no tags": (lambda org, tenant: {}, "Secret 'reporting-sql' has no tag named '{org}'."),
    "another tenant": (
        lambda org, tenant: {org: OTHER_TENANT},
        f"Secret 'reporting-sql' tag '{{org}}' has value '{OTHER_TENANT}', expected the tenant id '{{tenant}}'.",
    ),
}


@pytest.mark.parametrize("case", list(TAG_CASES))
def test_the_key_vault_tag_must_name_the_organization_and_hold_its_tenant(world: World, case: str) -> None:
    make_tags, expected = TAG_CASES[case]
    chosen = make_tags(world.organization_id, world.tenant_id)
    vault = FakeVault(f"sqlite:///{world.tmp / 'vault.db'}", chosen)
    secrets = SecretResolver(LocalSecretStore(world.tmp, {}), lambda: vault)
    body = world.body("unused", KeyVaultUri=VAULT)

    result = world.check(body, world.deps(secrets=secrets, host_suffixes=VAULT_SUFFIXES))

    check = result.result("SecretAuthorization")
    if expected is None:
        assert check.status is CheckStatus.PASSED
    else:
        assert check.status is CheckStatus.FAILED
        assert check.message == expected.format(org=world.organization_id, tenant=world.tenant_id)
    assert result.result("DestinationConnection").status is CheckStatus.PASSED


def test_an_unsupported_engine_fails_the_connection_string_without_echoing_it(world: World) -> None:
    body = world.body("oracle://scott:Tiger-Pw-123@db.example.com/orcl")

    result = world.check(body)

    check = result.result("ConnectionString")
    assert check.status is CheckStatus.FAILED and "'oracle' is not supported" in check.message
    assert result.result("DestinationConnection").message == "Skipped: ConnectionString did not pass."
    assert "Tiger-Pw-123" not in as_json(result)


# ----- destinations ---------------------------------------------------------------------------------------


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a login that hangs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_the_connect_timeout_is_a_setting_and_the_password_stays_out(world: World) -> None:
    with silent_port() as port:
        body = world.body(f"mysql://reporting:Hush-Pw-456@127.0.0.1:{port}/rep")
        started = time.monotonic()
        result = world.check(body, world.deps(connect_timeout=1))
        elapsed = time.monotonic() - started

    check = result.result("DestinationConnection")
    assert check.status is CheckStatus.FAILED
    assert f"Could not connect to MySQL at 127.0.0.1:{port} within 1 s" in check.message
    assert elapsed < 8
    for name in CHECK_NAMES[8:]:
        assert result.result(name).message == "Skipped: DestinationConnection did not pass."
    assert "Hush-Pw-456" not in as_json(result)


def test_a_port_nobody_listens_on_fails_the_connection_quickly(world: World) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = world.check(world.body(f"postgresql://reporting:Pw-789@127.0.0.1:{port}/rep"))

    check = result.result("DestinationConnection")
    assert check.status is CheckStatus.FAILED and "PostgreSQL" in check.message
    assert "Pw-789" not in as_json(result)


def test_sqlite_in_a_missing_folder_lacks_permissions(world: World) -> None:
    result = world.check(world.body(f"sqlite:///{world.tmp / 'absent' / 'r.db'}"))

    check = result.result("DestinationPermissions")
    assert check.status is CheckStatus.FAILED
    assert [detail.code for detail in check.details] == ["MissingPermission"]
    assert "absent" in check.details[0].message


def test_sqlite_views_and_tables_without_an_id_key_are_not_usable(world: World) -> None:
    database = world.tmp / "clash.db"
    with plain_connection(f"sqlite:///{database}") as connection:
        connection.execute(text("CREATE TABLE other (x INTEGER)"))
        connection.execute(text("CREATE VIEW crm_account AS SELECT x FROM other"))
        connection.execute(text('CREATE TABLE crm_lead ("name" TEXT)'))
        connection.execute(text('CREATE TABLE crm_accountleads ("Id" TEXT)'))  # Id but no key
        connection.execute(text('CREATE TABLE "crm_StateMetadata" ("EntityName" TEXT)'))

    result = world.check(world.body(f"sqlite:///{database}", TablePrefix="crm"))

    objects = result.result("DestinationObjects")
    assert objects.status is CheckStatus.FAILED and not result.succeeded
    assert [detail.code for detail in objects.details] == ["NotATable", "NotATable", "NotATable", "TableExists"]
    messages = " | ".join(detail.message for detail in objects.details)
    assert "'crm_account' exists and is not a table" in messages
    assert "Table 'crm_lead' has no Id column" in messages
    assert "Table 'crm_accountleads' has an Id column that is neither its primary key nor a unique key" in messages
    assert "Table 'crm_StateMetadata' exists and will be adopted." in messages


def test_another_active_profile_on_the_same_destination_is_refused(world: World) -> None:
    seen: list[DestinationIdentity] = []

    def in_use(identity: DestinationIdentity) -> list[str]:
        seen.append(identity)
        return ["Finance"] if identity.prefix == "shared" else []

    url = server_url("postgresql")
    body = world.body(url, TablePrefix="Shared", SchemaName="dbo")

    result = world.check(body, world.deps(destinations_in_use=in_use))
    other = world.check(world.body(url, TablePrefix="mine"), world.deps(destinations_in_use=in_use))

    check = result.result("DestinationInUse")
    assert check.status is CheckStatus.FAILED
    assert "'Finance'" in check.message and [d.code for d in check.details] == ["DestinationInUse"]
    parsed = make_url(url)
    assert seen[0] == DestinationIdentity(
        "postgresql", "127.0.0.1", parsed.port or 5432, parsed.database, "dbo", "shared"
    )
    assert other.result("DestinationInUse").status is CheckStatus.PASSED


def _postgresql_role(url: str, password: str) -> tuple[str, str]:
    """A login role with no rights of its own; returns (role, its connection string)."""
    role = f"dx_checks_{uuid.uuid4().hex[:8]}"
    with plain_connection(url) as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
    return role, make_url(url).set(username=role, password=password).render_as_string(hide_password=False)


def test_postgresql_restricted_role_misses_rights_and_objects_clash(world: World) -> None:
    admin = server_url("postgresql")
    password = f"Pg-{uuid.uuid4().hex[:10]}"
    role, restricted = _postgresql_role(admin, password)
    schema, prefix = f"s{uuid.uuid4().hex[:8]}", "crm"
    with plain_connection(admin) as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
        connection.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
        connection.execute(text(f"CREATE TABLE {schema}.crm_account (id uuid PRIMARY KEY, versionnumber bigint)"))
        connection.execute(text(f"CREATE VIEW {schema}.crm_lead AS SELECT id FROM {schema}.crm_account"))
    body = world.body(restricted, SchemaName=schema, TablePrefix=prefix)
    (world.tmp / "pg").write_text(restricted, encoding="utf-8")
    body["KeyVaultUri"] = "file:pg"

    result = world.check(body)

    assert result.result("DestinationConnection").message.startswith("Connected to PostgreSQL ")
    assert result.result("DestinationSchema").message == f"Schema '{schema}' exists."
    permissions = result.result("DestinationPermissions")
    assert permissions.status is CheckStatus.FAILED
    assert [(d.code, d.message) for d in permissions.details] == [
        ("MissingPermission", f"The login lacks CREATE on schema '{schema}'."),
        (
            "MissingPermission",
            f"The login lacks ownership of table '{schema}.crm_account' (it will be adopted and altered).",
        ),
    ]
    objects = result.result("DestinationObjects")
    assert [(d.code, d.message.split(" exists")[0]) for d in objects.details] == [
        ("NotATable", f"'{schema}.crm_lead'"),
        ("TableExists", f"Table '{schema}.crm_account'"),
    ]
    assert password not in as_json(result)

    missing = f"m{uuid.uuid4().hex[:8]}"
    absent = world.check(world.body(restricted, SchemaName=missing))
    assert absent.result("DestinationSchema").status is CheckStatus.FAILED
    assert [d.message for d in absent.result("DestinationPermissions").details] == [
        f"The login lacks CREATE on the database (schema '{missing}' is missing)."
    ]


def test_postgresql_owner_may_create_a_missing_schema(world: World) -> None:
    schema = f"n{uuid.uuid4().hex[:8]}"

    result = world.check(world.body(server_url("postgresql"), SchemaName=schema))

    assert result.succeeded
    assert result.result("DestinationSchema").message == (
        f"Schema '{schema}' does not exist; the login may create it, and activation will."
    )
    with plain_connection(server_url("postgresql")) as connection:
        assert connection.execute(text(f"SELECT 1 FROM pg_namespace WHERE nspname = '{schema}'")).first() is None


def _mariadb_user(admin: str, password: str, grants: str) -> str:
    """A user holding only ``grants`` on the session database; returns its connection string."""
    user = f"dx{uuid.uuid4().hex[:8]}"
    database = make_url(admin).database
    with plain_connection(admin) as connection:
        for host in ("%", "localhost", "127.0.0.1"):
            connection.execute(text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"))
            if grants:
                connection.execute(text(f"GRANT {grants} ON `{database}`.* TO '{user}'@'{host}'"))
    url = make_url(admin).set(drivername="mariadb", username=user, password=password)
    return url.render_as_string(hide_password=False)


def test_mariadb_user_with_some_grants_misses_the_others(world: World) -> None:
    admin = server_url("mariadb")
    password = f"Maria-{uuid.uuid4().hex[:10]}"
    restricted = _mariadb_user(admin, password, "SELECT, INSERT")

    result = world.check(world.body(restricted))

    assert result.result("DestinationConnection").message.startswith("Connected to MariaDB 10.")
    database = make_url(admin).database
    assert result.result("DestinationSchema").message == f"Database '{database}' exists."
    permissions = result.result("DestinationPermissions")
    assert permissions.status is CheckStatus.FAILED
    assert [d.message for d in permissions.details] == [
        f"The login lacks {right} on database '{database}'."
        for right in ("CREATE", "ALTER", "UPDATE", "DELETE", "DROP")
    ]
    assert password not in as_json(result)

    other_database = world.check(world.body(restricted, SchemaName=f"m{uuid.uuid4().hex[:8]}"))
    assert other_database.result("DestinationSchema").status is CheckStatus.FAILED


def test_mariadb_wrong_password_is_reported_without_it(world: World) -> None:
    admin = server_url("mariadb")
    restricted = _mariadb_user(admin, "Right-Pw-1", "ALL PRIVILEGES")
    wrong = make_url(restricted).set(password="Wrong-Pw-2").render_as_string(hide_password=False)

    result = world.check(world.body(wrong))

    check = result.result("DestinationConnection")
    assert check.status is CheckStatus.FAILED and "Access denied" in check.message
    assert "Wrong-Pw-2" not in as_json(result) and "Right-Pw-1" not in as_json(result)


def test_mariadb_full_rights_pass_and_a_missing_database_may_be_created(world: World) -> None:
    admin = server_url("mariadb")
    full = _mariadb_user(admin, "Full-Pw-3", "ALL PRIVILEGES")
    name = f"m{uuid.uuid4().hex[:8]}"

    granted = world.check(world.body(full))
    root = world.check(world.body(admin, SchemaName=name))

    assert granted.succeeded and granted.result("DestinationPermissions").status is CheckStatus.PASSED
    assert root.result("DestinationSchema").message == (
        f"Database '{name}' does not exist; the login may create it, and activation will."
    )
