"""``geotool db``: the private PostgreSQL/PostGIS server and schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.db import migrate
from geotool.db.engine import database_url
from geotool.db.server import PrivateServer
from geotool.db.urls import libpq_url, shown_url
from geotool.settings import load_settings

app = typer.Typer(
    help=(
        "Manage geotool's database: the private PostGIS server and the schema."
        "\n\nExample: geotool db up && geotool db upgrade && geotool db status"
    ),
    no_args_is_help=True,
)


@app.command("up")
@friendly_errors
def up() -> None:
    """Create (first time) and start the private PostGIS server.

    Example: geotool db up
    """
    settings = load_settings()
    server = PrivateServer.from_settings(settings)
    server.start()
    server.create_database(settings.database_name, postgis=True)
    out.print(f"private server running on 127.0.0.1:{server.port} (data in {server.data_dir})")


@app.command("down")
@friendly_errors
def down() -> None:
    """Stop the private server (its data stays; `geotool db up` starts it again).

    Example: geotool db down
    """
    server = PrivateServer.from_settings()
    server.stop()
    out.print("private server stopped")


@app.command("status")
@friendly_errors
def status(database_url_: DatabaseUrlOption = None) -> None:
    """Show whether the server runs, where its data is and the schema revision.

    Example: geotool db status
    """
    settings = load_settings()
    if database_url_ or settings.database_url:
        url = database_url(database_url_, settings)
        out.print(f"external database: {_hide(url)}")
    else:
        st = PrivateServer.from_settings(settings).status()
        out.print(f"data directory: {st.data_dir}")
        out.print(f"initialised:    {st.initialised}")
        out.print(f"running:        {st.running}" + (f" on port {st.port}" if st.running else ""))
        if st.version:
            out.print(f"version:        PostgreSQL {st.version}")
        if not st.running:
            return
        url = database_url(None, settings)
    out.print(f"schema:         {migrate.current_revision(url) or 'empty'}"
              f" (head {migrate.head_revision()})")


@app.command("url")
@friendly_errors
def url(
    libpq: Annotated[bool, typer.Option(help="Print a libpq URL for psql/QGIS.")] = False,
) -> None:
    """Print the database URL (starts the private server if needed).

    Example: psql "$(geotool db url --libpq)"
    """
    resolved = database_url()
    out.print(libpq_url(resolved) if libpq else resolved, soft_wrap=True)


@app.command("upgrade")
@friendly_errors
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database_url_: DatabaseUrlOption = None,
) -> None:
    """Migrate the schema up (to the newest revision by default); at the newest, re-create
    geotool's SQL functions and views (the files of sql/schema.txt). One transaction.

    Example: geotool db upgrade
    """
    rev = migrate.upgrade(database_url_, revision)
    out.print(f"schema at revision {rev}")


@app.command("downgrade")
@friendly_errors
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")] = "-1",
    database_url_: DatabaseUrlOption = None,
) -> None:
    """Migrate the schema down (one step by default; `base` removes geotool's tables).
    geotool's SQL functions and views are dropped first; `geotool db upgrade` brings them
    back.

    Example: geotool db downgrade base
    """
    rev = migrate.downgrade(database_url_, revision)
    out.print(f"schema at revision {rev or 'base'}")


def _hide(url: str) -> str:
    return shown_url(url)
