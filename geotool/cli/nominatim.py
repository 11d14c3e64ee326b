"""``geotool nominatim``: import an OSM file into a local Nominatim database and check it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.status import Status

from geotool.cli.common import console, friendly_errors, out

app = typer.Typer(
    help=(
        "A local Nominatim database in geotool's PostgreSQL: reverse geocoding without HTTP."
        "\n\n"
        "Example: geotool nominatim import world/world.osm && geotool nominatim status"
    ),
    no_args_is_help=True,
)

DatabaseOption = Annotated[
    str, typer.Option("--database", help="Name of the Nominatim database.")
]
ProjectOption = Annotated[
    Path | None,
    typer.Option("--project-dir", help="Nominatim project directory; default "
                 "<geotool home>/nominatim/<database>.", show_default=False),
]


@app.command("import")
@friendly_errors
def import_(
    osm_file: Annotated[Path, typer.Argument(help="OSM file (.osm, .osm.pbf) to import.")],
    database: DatabaseOption = "nominatim",
    project_dir: ProjectOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Re-import even when this file was imported.")
    ] = False,
    threads: Annotated[int, typer.Option("--threads", help="Import threads (at most 2).")] = 2,
) -> None:
    """Import an OSM file into the local Nominatim database (reverse-only, offline).

    Importing the same file again does nothing unless --force is given; a different file
    replaces the database.

    Example: geotool nominatim import world/world.osm --database nominatim
    """
    from geotool.geocode.nominatim.local import import_osm, local_nominatim
    from geotool.progress import NullProgress

    class StatusLine(NullProgress):
        """Nominatim's latest output line, in the spinner's status."""

        def __init__(self, spinner: Status) -> None:
            self.spinner = spinner

        def message(self, text: str) -> None:
            self.spinner.update(f"importing into Nominatim: {text[-90:]}")

    local = local_nominatim(database=database, project_dir=project_dir)
    with console.status("importing into Nominatim…") as spinner:
        record = import_osm(osm_file, local, force=force, threads=threads,
                            progress=StatusLine(spinner))
    if record.skipped:
        out.print(f"{osm_file} is already imported into {record.database!r} "
                  f"(at {record.imported_at}); use --force to import it again")
    else:
        out.print(f"imported {osm_file} into {record.database!r} in {record.seconds:.1f} s; "
                  f"project directory {local.project_dir}")


@app.command("status")
@friendly_errors
def status(database: DatabaseOption = "nominatim", project_dir: ProjectOption = None) -> None:
    """Say whether the local Nominatim database exists and is ready; exit code 1 if not.

    Example: geotool nominatim status --database nominatim
    """
    from geotool.geocode.nominatim.local import local_nominatim, nominatim_status

    result = nominatim_status(local_nominatim(database=database, project_dir=project_dir))
    out.print(f"database:    {result.database}")
    out.print(f"project dir: {result.project_dir}")
    out.print(f"ready:       {'yes' if result.ready else 'no'}")
    if result.places is not None:
        out.print(f"places:      {result.places}")
    if result.imported is not None:
        out.print(f"imported:    {result.imported.osm_file} (sha256 "
                  f"{result.imported.sha256[:12]}…, {result.imported.imported_at})")
    out.print(result.message)
    if not result.ready:
        raise typer.Exit(1)
