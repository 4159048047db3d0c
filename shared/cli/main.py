"""`linli`: start the whole system, issue development tokens, inspect dead letters, make docs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shared.auth import TokenError, issue_token
from shared.settings import Settings
from shared.vocabulary.roles import Role

app = typer.Typer(help="Linli: order from the shops of your 15-minute living circle.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and replay dead-lettered events.", no_args_is_help=True)
docs_app = typer.Typer(help="Generate documentation from the code.", no_args_is_help=True)
book_app = typer.Typer(help="The circle's address book of estates and buildings (in orders).", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(docs_app, name="docs")
app.add_typer(book_app, name="address-book")
console = Console()

HOME = Path(os.environ.get("LINLI_HOME", ".linli"))


@app.command()
def up(
    keep: Annotated[bool, typer.Option("--keep", help="keep the data of the last run")] = False,
    seed: Annotated[bool, typer.Option(help="seed the demo neighbourhood")] = True,
    always_open: Annotated[
        bool, typer.Option("--always-open", help="open the demo shops round the clock instead of their real hours")
    ] = False,
    simulate_riders: Annotated[
        bool, typer.Option("--riders/--no-riders", help="let the demo riders take offers and deliver by themselves")
    ] = True,
    home: Annotated[Path, typer.Option(help="where data and logs go")] = HOME,
    instances: Annotated[
        int, typer.Option("--instances", min=1, max=9, help="run this many instances of each service (ports +100 each)")
    ] = 1,
) -> None:
    """Start PostgreSQL, Redis, the broker and the three services; Ctrl-C stops them all."""
    from shared.stack import (
        DEFAULT_PORTS,
        StackError,
        instance_ports,
        start_infrastructure,
        start_services,
        wait_healthy,
    )

    ports = instance_ports(DEFAULT_PORTS, instances)

    if keep and not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        console.print(
            "[yellow]--keep keeps the database, but the embedded broker keeps nothing: events not yet "
            "consumed are re-sent from the outbox only if still pending.[/yellow]"
        )
    busy = [f"{port} ({name})" for name, port in ports.items() if _in_use(port)]
    if busy:
        console.print(
            f"[red]port {', '.join(busy)} is already in use: is Linli already running? Stop it "
            "(Ctrl-C in its terminal) or free the port.[/red]"
        )
        raise typer.Exit(1)
    started = time.monotonic()
    try:
        with console.status("starting PostgreSQL, Redis and the broker..."):
            infra = start_infrastructure(home, keep=keep)
    except (StackError, TimeoutError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        with console.status("starting orders, inventory and dispatch..."):
            processes = start_services(
                infra,
                home,
                ports,
                {
                    "LINLI_DEMO_SEED": "true" if seed else "false",
                    "LINLI_DEMO_ALWAYS_OPEN": "true" if always_open else "false",
                    "LINLI_RIDER_SIMULATOR": "true" if simulate_riders else "false",
                    "LINLI_ALLOW_DEV_SIGN_IN": "true",
                },
                instances=instances,
            )
            wait_healthy(processes, ports, timeout=90)
        _welcome(infra, time.monotonic() - started, seed, ports, always_open=always_open)
        while not stop_requested:
            for name, process in processes.items():
                if not process.alive():
                    console.print(f"[red]{name} stopped unexpectedly:[/red]\n{process.tail()}")
                    raise typer.Exit(1)
            time.sleep(0.5)
    except (RuntimeError, TimeoutError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
    except KeyboardInterrupt:
        pass
    finally:
        # Whatever happened above, nothing we started outlives us.
        console.print("stopping...")
        infra.stop()
        console.print("stopped.")


def _in_use(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _demo_hours_note(ports: dict[str, int]) -> str | None:
    """What inventory's /health says about the demo shops closed now (it seeded their hours)."""
    port = ports.get("inventory")
    if port is None:
        return None
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=3.0).json()
    except (httpx.HTTPError, ValueError):
        return None
    note = health.get("demo_hours_note")
    return note if isinstance(note, str) else None


def _welcome(infra: object, seconds: float, seeded: bool, ports: dict[str, int], *, always_open: bool = False) -> None:
    settings = Settings()
    table = Table(title=f"Linli is running (started in {seconds:.1f}s)")
    table.add_column("service")
    table.add_column("API")
    table.add_column("docs")
    for name, port in sorted(ports.items(), key=lambda item: item[1]):
        table.add_row(name, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/docs")
    console.print(table)
    console.print(
        f"database: {getattr(infra, 'database_url', '')}  redis: {getattr(infra, 'redis_url', '')}  "
        f"broker: {getattr(infra, 'kafka_bootstrap_servers', '')}"
    )
    consoles = Table(title="Consoles (sign in by role and name; 中文 / English in the header)")
    consoles.add_column("who")
    consoles.add_column("open")
    for who, url in (
        ("shoppers and helpers (try resident-li: ¥200 on the balance)", "http://127.0.0.1:8001/app/"),
        ("store staff (store xiaoshi-market, kedi-corner, suguo-daxinggong…)", "http://127.0.0.1:8002/app/"),
        ("dispatchers", "http://127.0.0.1:8003/app/board/"),
        ("riders (a phone-sized window)", "http://127.0.0.1:8003/app/rider/"),
    ):
        consoles.add_row(who, url)
    console.print(consoles)
    if seeded:
        shopper = issue_token(settings, Role.SHOPPER, "resident-li")
        console.print("\nSign in with a development token, e.g. as a shopper:")
        print(f"  export TOKEN={shopper}")
        console.print('  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8002/stores')
        console.print("Other roles: linli token store_staff staff-1 --store xiaoshi-market | linli token dispatcher d1")
        note = None if always_open else _demo_hours_note(ports)
        if note:
            console.print(f"\n[yellow]{note}[/yellow]", markup=True, highlight=False)
    console.print("\nPress Ctrl-C to stop everything.")


@app.command()
def token(
    role: Annotated[Role, typer.Argument(help="shopper, helper, store_staff, rider, dispatcher or admin")],
    subject: Annotated[str, typer.Argument(help="who the token is for")],
    store: Annotated[str | None, typer.Option(help="for store_staff: the shop, stall or market")] = None,
    hours: Annotated[int, typer.Option(help="how long the token is valid")] = 24 * 7,
) -> None:
    """Print a development token (only while the development signing key is in use)."""
    try:
        typer.echo(issue_token(Settings(), role, subject, store, ttl_s=hours * 3600))
    except TokenError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e


@book_app.command("load")
def address_book_load(
    file: Annotated[Path, typer.Argument(help="UTF-8 CSV: estate_id,estate_zh,estate_en,building,lat,lon")],
    orders_url: Annotated[str | None, typer.Option(help="the orders service (default: LINLI_ORDERS_URL)")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="LINLI_TOKEN", help="an admin's token (default: a development one)")
    ] = None,
) -> None:
    """Replace the circle's address book with a CSV file; a bad file is refused row by row, book unchanged."""
    import httpx

    settings = Settings()
    try:
        body = file.read_bytes()
    except OSError as e:
        console.print(f"[red]cannot read {file}: {e.strerror}[/red]")
        raise typer.Exit(2) from e
    try:
        bearer = token or issue_token(settings, Role.ADMIN, "address-book-cli", ttl_s=300)
    except TokenError as e:
        console.print(f"[red]{e}; pass an admin's token with --token or LINLI_TOKEN[/red]")
        raise typer.Exit(2) from e
    url = (orders_url or settings.orders_url).rstrip("/") + "/admin/address-book"
    try:
        answer = httpx.put(
            url, content=body, headers={"Authorization": f"Bearer {bearer}", "Content-Type": "text/csv"}, timeout=60
        )
    except httpx.HTTPError as e:
        console.print(f"[red]cannot reach orders at {url}: {e}[/red]")
        raise typer.Exit(1) from e
    if answer.status_code != 200:
        detail = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        problems = detail.get("problems") or [detail.get("detail") or detail.get("message") or answer.text]
        console.print(f"[red]refused ({answer.status_code}); the address book is unchanged:[/red]")
        for problem in problems:
            console.print(f"  {problem}", markup=False)
        raise typer.Exit(1)
    done = answer.json()
    console.print(
        f"address book loaded: {done['buildings']} buildings of {done['estates']} estates (it had {done['replaced']})"
    )


def _bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or Settings().kafka_bootstrap_servers


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="the original topic, e.g. linli.orders")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """Show what is in <topic>.dlq, with each message's error and whether it was replayed."""
    from shared import dead_letters

    letters = asyncio.run(dead_letters.read(_bootstrap(), topic))
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(letter.as_dict(), ensure_ascii=False))
        return
    table = Table(title=f"{topic}.dlq: {len(letters)} dead letters")
    for col in ("offset", "replayed", "key", "event", "error"):
        table.add_column(col)
    for letter in letters:
        table.add_row(
            str(letter.offset), "yes" if letter.replayed else "no", letter.key or "", letter.event_type, letter.error
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="the original topic, e.g. linli.orders")],
    offset: Annotated[int | None, typer.Option(help="replay only this DLQ offset")] = None,
) -> None:
    """Publish dead letters back to their topic; consumers' inboxes apply each at most once."""
    from shared import dead_letters

    replayed = asyncio.run(dead_letters.replay(_bootstrap(), topic, offset))
    console.print(f"replayed {replayed} message(s) from {topic}.dlq to {topic}")


@docs_app.command("asyncapi")
def docs_asyncapi(
    out: Annotated[Path, typer.Option(help="folder for the documents")] = Path("docs/asyncapi"),
    check: Annotated[bool, typer.Option(help="fail if the committed documents are stale")] = False,
) -> None:
    """Write (or --check) the AsyncAPI document of each service, generated from its code."""
    from shared.asyncapi_docs import render_all

    stale = []
    for name, text in render_all().items():
        path = out / f"{name}.yaml"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            console.print(f"wrote {path}")
    if stale:
        console.print(f"[red]stale AsyncAPI documents: {', '.join(stale)}; run `linli docs asyncapi`[/red]")
        raise typer.Exit(1)


if __name__ == "__main__":
    sys.exit(app())
