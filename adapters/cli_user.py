"""``madoguchi user …``: accounts of the clerk web app (issue 7).

Mounted by ``adapters.cli`` as ``app.add_typer(user_app, name="user")``. The password is never
an argument (it would land in the shell history and ``ps``): it is asked twice at a prompt, or
read from the first line of stdin with ``--password-stdin`` for scripts.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from adapters.clerk import ClerkError, open_store
from adapters.settings import Settings

user_app = typer.Typer(no_args_is_help=True, help="Accounts of the clerk web app.")


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="clerk or admin")] = "clerk",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Add a user, or set a new password and role for an existing one."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    store = None
    try:
        store = open_store(Settings())
        user = store.add_user(name, password, role)
    except ClerkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        if store is not None:
            store.close()
    typer.echo(f"user {user.name} ({user.role}) saved")


@user_app.command("list")
def list_users() -> None:
    """List the accounts and their roles."""
    store = open_store(Settings())
    try:
        for user in store.users():
            typer.echo(f"{user.name}\t{user.role}")
    finally:
        store.close()
