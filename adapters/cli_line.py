"""``madoguchi line …``: LINE channel operations that happen once, outside the webhook.

``setup-richmenu FILE.yaml`` creates the rich menu described in the file, uploads its image
(the file's own, or one drawn from its captions) and makes it every user's default, using
the channel access token from settings (``MADOGUCHI_LINE__CHANNEL_ACCESS_TOKEN``).
``--dry-run`` validates the file and writes the request body and image without calling LINE.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from adapters.line.client import LineClient, LineError
from adapters.line.richmenu import RichMenuError, load_richmenu, menu_image, setup_richmenu
from adapters.settings import Settings

line_app = typer.Typer(no_args_is_help=True, help="The LINE channel (rich menu set-up).")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@line_app.command("setup-richmenu")
def setup_richmenu_command(
    file: Annotated[
        Path, typer.Argument(help="rich menu YAML (see adapters/line/richmenu.sample.yaml)")
    ],
    default: Annotated[bool, typer.Option(help="make it every user's default menu")] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate and write the body and image; call nothing")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="with --dry-run: directory for body.json and image")
    ] = None,
) -> None:
    """Create the rich menu in FILE, upload its image and set it as the default."""
    try:
        spec = load_richmenu(file)
        image, content_type = menu_image(spec)
    except RichMenuError as exc:
        _fail(str(exc))
        return
    if dry_run:
        target = out or Path(".")
        target.mkdir(parents=True, exist_ok=True)
        (target / "richmenu.json").write_text(
            json.dumps(spec.body(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        suffix = "png" if content_type == "image/png" else "jpg"
        (target / f"richmenu.{suffix}").write_bytes(image)
        typer.echo(
            f"valid: {len(spec.request.areas)} areas; "
            f"wrote richmenu.json and richmenu.{suffix} to {target}"
        )
        return
    settings = Settings().line
    if not settings.channel_access_token.get_secret_value():
        _fail("LINE channel not configured: set MADOGUCHI_LINE__CHANNEL_ACCESS_TOKEN")

    async def run() -> str:
        async with httpx.AsyncClient() as http:
            return await setup_richmenu(LineClient(settings, http), spec, make_default=default)

    try:
        rich_menu_id = asyncio.run(run())
    except LineError as exc:
        _fail(str(exc))
        return
    state = "and set as the default" if default else "(not set as the default)"
    typer.echo(f"rich menu {rich_menu_id} created {state}")
