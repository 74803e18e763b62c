"""``madoguchi retention purge [--dry-run]``: delete conversations older than the retention.

Mounted by ``adapters.cli``. The retention is ``MADOGUCHI_STORAGE__RETENTION_DAYS`` (default
90; 0 keeps everything); the gateway runs the same purge every
``MADOGUCHI_STORAGE__RETENTION_INTERVAL_S`` (default hourly), so this command is for a first
clean-up, a cron job where the gateway does not run, or checking with ``--dry-run``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from adapters.retention import RetentionError, purge
from adapters.settings import Settings

retention_app = typer.Typer(no_args_is_help=True, help="Delete conversations past the retention.")


@retention_app.command("purge")
def purge_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, delete nothing")] = False,
    tracker: Annotated[
        Path | None, typer.Option(help="SQLite tracker file (default <data_dir>/tracker.db)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete tracker events, feedback, tickets and LINE state older than the retention."""
    try:
        report = purge(Settings(), dry_run=dry_run, tracker=tracker)
    except RetentionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(asdict(report) | {"total": report.total}))
        return
    if report.retention_days == 0:
        typer.echo("retention_days is 0: conversations are kept forever; nothing deleted")
        return
    cutoff = dt.datetime.fromtimestamp(report.cutoff, dt.timezone.utc).isoformat(timespec="seconds")
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"older than {report.retention_days} days (before {cutoff}): {verb}")
    for name, rows in report.deleted.items():
        typer.echo(f"  {name}: {rows} rows")
    typer.echo(f"  tracker conversations gone whole: {report.conversations}")
