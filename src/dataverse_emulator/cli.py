"""``dataverse-emulator``: serve a local Dataverse, mint tokens, drive workloads."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Annotated

import orjson
import typer
import uvicorn
from rich.console import Console

from dataverse_emulator.app import create_app
from dataverse_emulator.emulator import Emulator, OrgRequest
from dataverse_emulator.identity.tls import ensure_certificates
from dataverse_emulator.identity.tokens import TokenRequest
from dataverse_emulator.settings import Settings, write_private
from dataverse_emulator.workload import run_workload_command

app = typer.Typer(
    help="A local Dataverse: Web API, change tracking, identity and an admin surface.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Where the emulator keeps its state (SQLite, keys).")]


def parse_counts(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        table, separator, number = value.partition("=")
        if not separator or not number.strip().isdigit():
            raise typer.BadParameter(f"'{value}' is not <table>=<rows>, e.g. account=100000", param_hint="--count")
        counts[table.strip()] = int(number)
    return counts


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before starting the server, so ``--port 0`` knows its port before printing it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        raise typer.BadParameter(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port") from error
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def credentials_of(emulator: Emulator, base_url: str, ca_path: Path | None) -> dict[str, object]:
    persistent = emulator.persistent
    orgs = [
        {
            "name": s.info.url_name,
            "url": f"{base_url}/{s.info.url_name}",
            "organization_id": s.info.organization_id,
        }
        for s in emulator.orgs()
    ]
    return {
        "base_url": base_url,
        "web_api": f"{base_url}/api/data/v9.2/",
        "tenant_id": persistent.tenant_id,
        "authority": f"{base_url}/{persistent.tenant_id}",
        "token_endpoint": f"{base_url}/{persistent.tenant_id}/oauth2/v2.0/token",
        "client_id": persistent.client_id,
        "client_secret": persistent.client_secret,
        "scope": f"{base_url}/.default",
        "admin_key": persistent.admin_key,
        "ca_path": str(ca_path) if ca_path else None,
        "orgs": orgs,
    }


@app.command()
def serve(
    data_dir: DataDir,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    tls: Annotated[bool, typer.Option("--tls/--no-tls", help="Serve HTTPS from a private CA in DATA_DIR.")] = False,
    public_url: Annotated[str | None, typer.Option(help="Base URL used in links instead of the request's.")] = None,
    sample_org: Annotated[str | None, typer.Option(help="Create this sample organization if it is missing.")] = None,
    scale: Annotated[int, typer.Option(help="Number of accounts in a new sample organization.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of a new sample organization.")] = 1,
    count: Annotated[list[str] | None, typer.Option(help="Override a table's row count: <table>=<rows>.")] = None,
    san: Annotated[list[str] | None, typer.Option(help="Extra host name or IP for the TLS certificate.")] = None,
    no_secret_check: Annotated[bool, typer.Option(help="Accept any client secret.")] = False,
) -> None:
    """Run the emulator until interrupted."""
    settings = Settings(
        data_dir=data_dir.resolve(),
        host=host,
        port=port,
        tls=tls,
        public_url=public_url,
        check_secrets=not no_secret_check,
        extra_hosts=tuple(san or ()),
    )
    emulator = Emulator(settings)
    if sample_org and emulator.org(sample_org) is None:
        console.print(f"Generating sample organization [bold]{sample_org}[/] (scale {scale}, seed {seed})...")
        emulator.create_org(OrgRequest(sample_org, scale=scale, seed=seed, counts=parse_counts(count or [])))
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::1", "::") else host
    base_url = public_url.rstrip("/") if public_url else f"{scheme}://{shown_host}:{actual_port}"
    tls_files = ensure_certificates(settings.data_dir, [host, *settings.extra_hosts]) if tls else None
    credentials = credentials_of(emulator, base_url, tls_files.ca_pem if tls_files else None)
    write_private(settings.data_dir / "credentials.json", orjson.dumps(credentials, option=orjson.OPT_INDENT_2))
    print_banner(credentials)
    config = uvicorn.Config(
        create_app(settings, emulator),
        log_level="warning",
        access_log=False,
        ssl_certfile=str(tls_files.cert_pem) if tls_files else None,
        ssl_keyfile=str(tls_files.key_pem) if tls_files else None,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
    )
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def print_banner(credentials: dict[str, object]) -> None:
    out = Console(soft_wrap=True)
    out.print(f"[bold green]Dataverse emulator listening on {credentials['base_url']}[/]")
    out.print(f"  Web API        {credentials['web_api']}")
    out.print(f"  tenant id      {credentials['tenant_id']}")
    out.print(f"  client id      {credentials['client_id']}")
    out.print(f"  client secret  {credentials['client_secret']}")
    out.print(f"  token endpoint {credentials['token_endpoint']}")
    if credentials["ca_path"]:
        out.print(f"  CA certificate {credentials['ca_path']}  (SSL_CERT_FILE / REQUESTS_CA_BUNDLE)")
    for org in credentials["orgs"]:  # type: ignore[attr-defined]
        out.print(f"  organization   {org['name']}: {org['url']}")
    out.print("Get a token:")
    ca = f" --cacert {credentials['ca_path']}" if credentials["ca_path"] else ""
    out.print(
        f"  curl -s{ca} {credentials['token_endpoint']} -d grant_type=client_credentials "
        f"-d client_id={credentials['client_id']} -d client_secret={credentials['client_secret']} "
        f"--data-urlencode scope={credentials['scope']}"
    )
    out.print("  or: dataverse-emulator token --data-dir <DIR> [--user admin]", highlight=False)


@app.command()
def token(
    data_dir: DataDir,
    user: Annotated[
        str | None, typer.Option(help="Sample user: admin, teamadmin, user, disabled (default: the app).")
    ] = None,
    org: Annotated[str | None, typer.Option(help="Organization (default: the first).")] = None,
    expires_in: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3599,
    audience: Annotated[str | None, typer.Option(help="Token audience (default: the org URL).")] = None,
) -> None:
    """Print an access token for the default application or a sample user (reads DATA_DIR/credentials.json)."""
    credentials_path = data_dir / "credentials.json"
    if not credentials_path.exists():
        raise typer.BadParameter(
            f"{credentials_path} not found: start 'dataverse-emulator serve --data-dir {data_dir}' first"
        )
    credentials = orjson.loads(credentials_path.read_bytes())
    emulator = Emulator(Settings(data_dir=data_dir.resolve()))
    store = emulator.org(org)
    if store is None:
        raise typer.BadParameter(f"organization {org!r} not found in {data_dir}", param_hint="--org")
    base_url = str(credentials["base_url"])
    aud = audience or (base_url if org is None else f"{base_url}/{store.info.url_name}")
    persistent = emulator.persistent
    if user is None:
        request = TokenRequest(
            persistent.tenant_id,
            "app",
            persistent.client_id,
            persistent.app_object_id,
            aud,
            expires_in=expires_in,
        )
    else:
        sample = next((u for u in emulator.identities(store.info.url_name).users if u.key == user), None)
        if sample is None:
            raise typer.BadParameter(f"unknown sample user {user!r}: use admin, teamadmin, user or disabled")
        request = TokenRequest(
            persistent.tenant_id,
            "user",
            persistent.client_id,
            sample.oid,
            aud,
            expires_in=expires_in,
            upn=sample.upn,
            name=sample.fullname,
        )
    typer.echo(emulator.issuer.mint(request, base_url=base_url))


app.command(name="workload")(run_workload_command)


def main() -> None:
    app()
