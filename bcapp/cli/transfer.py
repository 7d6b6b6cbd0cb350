"""`bcapp export` and `bcapp import`: every store as JSON lines, tokens still encrypted."""

from __future__ import annotations

import functools
import json
import sys

import click

from bcapp.cli.common import echo, fail, or_fail, service_or_exit


@click.command("export")
def export_command() -> None:
    """Write every store (installation, users, settings) to stdout as JSON lines.

    Tokens and client secrets stay AES-GCM sealed and name their key id, so the output is safe
    to keep as a backup; importing it needs one of the same TOKEN_ENCRYPTION_KEYS.
    """
    service = service_or_exit()
    count = 0
    for document in or_fail(lambda: list(service.operations.export_stores())):
        click.echo(json.dumps(document, sort_keys=True))
        count += 1
    click.echo(f"exported {count} store(s)", err=True)


@click.command("import")
@click.option("--dry-run", is_flag=True, help="check every line, write nothing")
def import_command(dry_run: bool) -> None:
    """Read JSON lines from stdin (what `bcapp export` wrote) into this deployment's Redis.

    Idempotent: a store already stored identically is left alone (one in its grace period
    however many seconds it has left, so --dry-run says what the import then does). Each store
    is written as bcapp itself writes it. A line is refused, naming its store, record and field,
    when it holds anything bcapp never writes: a record that does not decrypt with this
    deployment's keys, an unknown field, a time, id or size out of range. A refused line writes
    nothing; the other lines are still imported, and the run exits 1.
    """
    service = service_or_exit()
    written = unchanged = refused = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            try:
                document = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError("not JSON: each line of an export is one JSON object") from exc
            changed = or_fail(functools.partial(service.operations.import_store, document, dry_run))
        except RecursionError:
            echo(f"line {number}: refused: nested too deeply to be an export line")
            refused += 1
            continue
        except ValueError as exc:
            echo(f"line {number}: refused: {exc}")
            refused += 1
            continue
        written += changed
        unchanged += not changed
    verb = "would import" if dry_run else "imported"
    echo(f"{verb} {written} store(s); {unchanged} unchanged; {refused} refused")
    if refused:
        fail(f"{refused} line(s) refused")
