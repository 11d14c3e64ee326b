"""``geotool db``: the private PostgreSQL/PostGIS server and schema migrations."""

from __future__ import annotations

from pathlib import Path
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


ServiceFileOption = Annotated[Path | None, typer.Option(
    "--service-file", help="The libpq service file to write (default: $PGSERVICEFILE, "
                           "else ~/.pg_service.conf).", show_default=False)]

viewer_app = typer.Typer(
    help="Read-only login roles for people who look at the data in QGIS or psql."
    "\n\nExample: geotool db viewer create anna && geotool db viewer drop anna",
    no_args_is_help=True)
app.add_typer(viewer_app, name="viewer")


@app.command("service")
@friendly_errors
def service(
    name: Annotated[str, typer.Argument(help="Service name.")] = "geotool",
    service_file_: ServiceFileOption = None,
    database_url_: DatabaseUrlOption = None,
) -> None:
    """Write a PostgreSQL service entry (pg_service.conf) for the current database.

    The password goes into a pgpass file readable only by you; QGIS and psql then
    connect with the service name alone (`psql service=geotool`).

    Example: geotool db service geotool
    """
    from geotool.db.viewer import service_file, write_service

    entry = write_service(name, database_url(database_url_), path=service_file_)
    out.print(f"service {entry.name!r} → {entry.user}@{entry.host}:{entry.port}/"
              f"{entry.dbname} in {service_file(service_file_)}"
              + (f" (password in {entry.passfile}, mode 600)" if entry.passfile else ""))


@viewer_app.command("create")
@friendly_errors
def viewer_create(
    name: Annotated[str, typer.Argument(help="Role name (lower case, digits, _).")],
    service_file_: ServiceFileOption = None,
    database_url_: DatabaseUrlOption = None,
) -> None:
    """Create a read-only login role with a generated password and a service entry.

    It may SELECT the views and the viewing tables of this database and nothing else.

    Example: geotool db viewer create anna
    """
    from geotool.db.engine import get_engine
    from geotool.db.viewer import ViewerParams, create_viewer

    done = create_viewer(get_engine(database_url_),
                         ViewerParams(name, service_file=service_file_))
    entry = done.service
    assert entry is not None
    out.print(f"viewer {done.name!r} may read {done.relations} relations of database "
              f"{done.database!r}; service {entry.name!r} in {done.service_file}"
              + (f", password in {entry.passfile} (mode 600)" if entry.passfile else ""))


@viewer_app.command("drop")
@friendly_errors
def viewer_drop(
    name: Annotated[str, typer.Argument(help="Viewer role name.")],
    service_file_: ServiceFileOption = None,
    database_url_: DatabaseUrlOption = None,
) -> None:
    """Drop a viewer role and remove its service entry and password file.

    Example: geotool db viewer drop anna
    """
    from geotool.db.engine import get_engine
    from geotool.db.viewer import ViewerParams, drop_viewer

    done = drop_viewer(get_engine(database_url_), ViewerParams(name, service_file=service_file_))
    out.print(f"viewer {done.name!r} dropped")


@viewer_app.command("list")
@friendly_errors
def viewer_list(database_url_: DatabaseUrlOption = None) -> None:
    """List the viewer roles.

    Example: geotool db viewer list
    """
    from geotool.db.engine import get_engine
    from geotool.db.viewer import list_viewers

    for name in list_viewers(get_engine(database_url_)):
        out.print(name)
