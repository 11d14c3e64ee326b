"""A local Nominatim database inside geotool's PostgreSQL, imported from an OSM file.

geotool reverse-geocodes without HTTP by importing an OSM extract (a real one, or the synthetic
planet's ``world.osm``) with the ``nominatim-db`` package and Debian's ``osm2pgsql`` into a
database of its own server, then querying it in-process with ``nominatim-api``. This module
owns that import: the Nominatim *project directory* (``<home>/nominatim/<database>``) holding
Nominatim's ``.env``, the import itself, a record of what was imported (``import.json``), a
status check and opening the in-process API.

Import quirks we hit (Nominatim 5.3 with osm2pgsql 1.8), and what we do about them:

* ``nominatim import`` creates the database itself and refuses one that exists; re-importing
  therefore drops the database first (only with ``force`` or when the file changed).
* The database date: without ``osm2pgsql_properties`` (osm2pgsql ≥ 1.9 writes it) Nominatim
  fetches the newest node from api.openstreetmap.org. ``--offline`` turns that into a logged
  error, after which we write ``import_status`` ourselves from the file header's ``timestamp``.
* ``NOMINATIM_DATABASE_WEBUSER`` must be an existing role (Nominatim grants it SELECT); we use
  the connection's own user.
* osm2pgsql is found on ``PATH`` only when not configured; we always set
  ``NOMINATIM_OSM2PGSQL_BINARY`` so a venv without it on ``PATH`` still works.
* Nominatim settings in the process environment override the project's ``.env``; the import
  runs with an explicit environment and the API gets an explicit ``environ`` so a stray
  ``NOMINATIM_DATABASE_DSN`` cannot redirect either to another database.
* ``--reverse-only`` skips the search index, which makes a small import take ~20 s, most of it
  fixed cost (SQL functions, country tables); ``--threads`` is capped at 2.
* A country in a reverse answer is built from Nominatim's ``country_name`` table: its address
  row has no OSM object (``osm_object`` is None), even when the OSM file has the country's
  ``admin_level=2`` boundary relation, whose names Nominatim copies into that table.
* Nominatim keeps one main tag per object. ``building``, ``historic`` and
  ``tourism=attraction`` are "fallback" tags, and when an object has two of them the one that
  wins depends on Lua's table iteration order, which differs between imports of the same file:
  ``building=yes`` + ``historic=monument`` became ``historic/monument`` in one import and
  ``building/yes`` in the next (and reverse skips ``building`` POIs). The synthetic world
  therefore never gives a landmark two fallback tags.
* Place nodes are linked to a boundary when they are its ``label`` member; the boundary then
  answers with the node's rank (``place=city`` → 16, ``place=suburb`` → 20).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from geotool.db.urls import (
    conninfo_to_nominatim,
    conninfo_with_database,
    dsn_database,
    dsn_setting,
    url_to_libpq_conninfo,
)
from geotool.errors import GeotoolError
from geotool.geocode.types import GeocoderOptions
from geotool.progress import NO_PROGRESS, Progress
from geotool.settings import Settings, load_settings

DEFAULT_DATABASE = "nominatim"
# The SHA-256 of the imported file, stored in the Nominatim database itself: caches and
# locations are keyed by it (``data_key``), so a re-import of other data under the same
# database name can never answer from the old data.
DATA_KEY_PROPERTY = "geotool_osm_sha256"
# The data key of a Nominatim database: the imported file's hash when geotool imported it,
# else the database's own identity (its OID changes with every re-creation) and data date.
DATA_KEY_SQL = (
    "SELECT CASE WHEN to_regclass('nominatim_properties') IS NOT NULL THEN "
    "(SELECT value FROM nominatim_properties WHERE property = 'geotool_osm_sha256') END, "
    "(SELECT oid FROM pg_database WHERE datname = current_database()), "
    "CASE WHEN to_regclass('import_status') IS NOT NULL THEN "
    "(SELECT max(lastimportdate)::text FROM import_status) END")


def data_key_of(row: Any) -> str:
    """The data key from the row of ``DATA_KEY_SQL``: ``sha256-<16 hex>`` or
    ``db<oid>-<data date>``."""
    digest, oid, date = row
    if digest:
        return f"sha256-{str(digest)[:16]}"
    return f"db{oid}-{re.sub(r'[^0-9]', '', str(date or ''))[:14] or 'nodate'}"
IMPORT_RECORD = "import.json"
IMPORT_LOG = "import.log"
MAX_THREADS = 2


class NominatimLocalError(GeotoolError, RuntimeError):
    """The local Nominatim database could not be imported, found or opened."""


@dataclass(frozen=True)
class ImportRecord:
    """What was imported into a local Nominatim database (``import.json``)."""

    osm_file: str
    sha256: str
    size_bytes: int
    database: str
    imported_at: str
    seconds: float
    nominatim_version: str
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("skipped")
        return data


@dataclass(frozen=True)
class NominatimStatus:
    """Whether a local Nominatim database exists and answers reverse queries."""

    project_dir: Path
    database: str
    exists: bool
    ready: bool
    places: int | None
    imported: ImportRecord | None
    message: str


@dataclass(frozen=True)
class LocalNominatim:
    """Where a local Nominatim lives: its project directory and its database (libpq DSN)."""

    project_dir: Path
    dsn: str

    @property
    def database(self) -> str:
        return dsn_database(self.dsn, DEFAULT_DATABASE)

    @property
    def nominatim_dsn(self) -> str:
        """The DSN in Nominatim's ``pgsql:key=value;...`` form."""
        return conninfo_to_nominatim(self.dsn)

    @property
    def environ(self) -> dict[str, str]:
        """The Nominatim settings for this database (also written to the project's ``.env``)."""
        user = dsn_setting(self.dsn, "user") or ""
        env = {"NOMINATIM_DATABASE_DSN": self.nominatim_dsn,
               "NOMINATIM_USE_US_TIGER_DATA": "no"}
        if user:
            env["NOMINATIM_DATABASE_WEBUSER"] = user
        osm2pgsql = shutil.which("osm2pgsql") or "/usr/bin/osm2pgsql"
        env["NOMINATIM_OSM2PGSQL_BINARY"] = os.environ.get("GEOTOOL_OSM2PGSQL") or osm2pgsql
        return env

    def admin_dsn(self) -> str:
        """A DSN for the same server's ``postgres`` database (to create/drop databases)."""
        return conninfo_with_database(self.dsn, "postgres")


def find_osm2pgsql() -> str:
    """The osm2pgsql binary (``GEOTOOL_OSM2PGSQL`` overrides, then ``PATH``, then /usr/bin)."""
    candidates = [os.environ.get("GEOTOOL_OSM2PGSQL"), shutil.which("osm2pgsql"),
                  "/usr/bin/osm2pgsql"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise NominatimLocalError(
        "osm2pgsql was not found; install it (Debian/Ubuntu: apt-get install osm2pgsql) or set "
        "GEOTOOL_OSM2PGSQL to its path")


def local_nominatim(settings: Settings | None = None, database: str = DEFAULT_DATABASE,
                    project_dir: Path | None = None) -> LocalNominatim:
    """The local Nominatim of these settings.

    Its database lives on ``GEOTOOL_DATABASE_URL``'s server when that is set, else on geotool's
    private server (started on demand); the project directory defaults to
    ``<home>/nominatim/<database>``.
    """
    settings = settings or load_settings()
    if settings.database_url:
        dsn = url_to_libpq_conninfo(settings.database_url, database)
    else:
        from geotool.db.server import PrivateServer

        server = PrivateServer.from_settings(settings)
        server.start()
        dsn = server.dsn(database)
    return LocalNominatim(project_dir or settings.home / "nominatim" / database, dsn)


def local_dsn(settings: Settings | None = None, database: str = DEFAULT_DATABASE) -> str:
    """Nominatim-style DSN of the local Nominatim database (for the in-process geocoder)."""
    return local_nominatim(settings, database).nominatim_dsn


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def osm_file_timestamp(path: Path) -> dt.datetime | None:
    """The data date in an OSM XML header (``timestamp`` or ``osmosis_replication_timestamp``)."""
    if path.suffix != ".osm":
        return None
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        head = handle.read(4096)
    match = re.search(r'<osm\b[^>]*?\b(?:osmosis_replication_)?timestamp="([^"]+)"', head)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def read_import_record(project_dir: Path) -> ImportRecord | None:
    """The record of the last successful import in ``project_dir``, if any."""
    path = Path(project_dir) / IMPORT_RECORD
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return ImportRecord(**{k: data[k] for k in ImportRecord.__dataclass_fields__ if k in data})


def _database_exists(local: LocalNominatim) -> bool:
    try:
        with psycopg.connect(local.admin_dsn(), connect_timeout=10) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (local.database,)).fetchone()
    except psycopg.OperationalError as exc:
        raise NominatimLocalError(f"cannot reach the PostgreSQL server for Nominatim: {exc}; "
                                  "start it with 'geotool db start'") from exc
    return row is not None


def _drop_database(local: LocalNominatim) -> None:
    with psycopg.connect(local.admin_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(local.database)))


def write_project(local: LocalNominatim) -> Path:
    """Create the project directory with Nominatim's ``.env`` (mode 600: it holds a password)."""
    local.project_dir.mkdir(parents=True, exist_ok=True)
    env_file = local.project_dir / ".env"
    text = "".join(f'{key}="{value}"\n' for key, value in sorted(local.environ.items()))
    env_file.write_text(text, encoding="utf-8")
    env_file.chmod(0o600)
    return env_file


def _nominatim_version() -> str:
    from nominatim_db.version import NOMINATIM_VERSION

    return str(NOMINATIM_VERSION)


def _run_nominatim(local: LocalNominatim, args: list[str], progress: Progress) -> None:
    """Run the ``nominatim`` CLI of the installed nominatim-db package; output to import.log."""
    command = [sys.executable, "-c",
               "import sys; from nominatim_db import cli; sys.exit(cli.nominatim())", *args]
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOMINATIM_")}
    env.update(local.environ)
    log_path = local.project_dir / IMPORT_LOG
    tail: list[str] = []
    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, cwd=local.project_dir, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            tail = (tail + [line.rstrip()])[-25:]
            if line.strip():
                progress.message(line.rstrip())
        code = process.wait()
    if code != 0:
        raise NominatimLocalError(
            f"'nominatim {' '.join(args)}' failed with exit code {code}; the full log is in "
            f"{log_path}. Last lines:\n" + "\n".join(tail))


def _set_status_date(local: LocalNominatim, date: dt.datetime, digest: str) -> None:
    with psycopg.connect(local.dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE TABLE import_status")
        conn.execute("INSERT INTO import_status (lastimportdate, sequence_id, indexed) "
                     "VALUES (%s, NULL, true)", (date,))
        conn.execute("DELETE FROM nominatim_properties WHERE property = %s",
                     (DATA_KEY_PROPERTY,))
        conn.execute("INSERT INTO nominatim_properties (property, value) VALUES (%s, %s)",
                     (DATA_KEY_PROPERTY, digest))


def import_osm(osm_file: Path | str, local: LocalNominatim | None = None, *,
               force: bool = False, threads: int = MAX_THREADS,
               progress: Progress = NO_PROGRESS) -> ImportRecord:
    """Import ``osm_file`` into the local Nominatim database (reverse-only, offline).

    A no-op (``skipped=True``) when the same file (by SHA-256) was already imported into an
    existing database, unless ``force``. Nominatim's output lines are ``progress``
    messages.
    """
    path = Path(osm_file)
    if not path.is_file():
        raise NominatimLocalError(f"OSM file not found: {path}; create one with "
                                  "'geotool synth world --out DIR' (DIR/world.osm)")
    local = local or local_nominatim()
    digest = file_sha256(path)
    previous = read_import_record(local.project_dir)
    exists = _database_exists(local)
    if (not force and exists and previous is not None and previous.sha256 == digest
            and previous.database == local.database):
        return ImportRecord(**{**previous.to_json(), "skipped": True})
    if exists:
        _drop_database(local)
    (local.project_dir / IMPORT_RECORD).unlink(missing_ok=True)
    find_osm2pgsql()
    write_project(local)
    started = time.monotonic()
    threads = max(1, min(threads, MAX_THREADS))
    _run_nominatim(local, ["import", "--osm-file", str(path.resolve()), "--reverse-only",
                           "--offline", "--no-partitions", "--threads", str(threads),
                           "--osm2pgsql-cache", "200",
                           "--project-dir", str(local.project_dir)], progress)
    date = osm_file_timestamp(path) or dt.datetime.now(dt.UTC).replace(microsecond=0)
    _set_status_date(local, date, digest)
    record = ImportRecord(
        osm_file=str(path.resolve()), sha256=digest, size_bytes=path.stat().st_size,
        database=local.database,
        imported_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        seconds=round(time.monotonic() - started, 2), nominatim_version=_nominatim_version())
    (local.project_dir / IMPORT_RECORD).write_text(
        json.dumps(record.to_json(), indent=1) + "\n", encoding="utf-8")
    return record


def nominatim_status(local: LocalNominatim | None = None) -> NominatimStatus:
    """Whether the local Nominatim database exists and is ready for reverse queries."""
    local = local or local_nominatim()
    record = read_import_record(local.project_dir)

    def status(exists: bool, ready: bool, places: int | None, message: str) -> NominatimStatus:
        return NominatimStatus(local.project_dir, local.database, exists, ready, places,
                               record, message)

    if not _database_exists(local):
        return status(False, False, None, f"no database {local.database!r}; import one with "
                      "'geotool nominatim import FILE.osm'")
    try:
        with psycopg.connect(local.dsn, connect_timeout=10) as conn:
            tables = {row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            if not {"placex", "import_status", "nominatim_properties"} <= tables:
                return status(True, False, None, "the database exists but the import did not "
                              "finish; re-run 'geotool nominatim import FILE.osm --force'")
            places = conn.execute("SELECT count(*) FROM placex").fetchone()
            pending = conn.execute(
                "SELECT count(*) FROM placex WHERE indexed_status > 0").fetchone()
    except psycopg.Error as exc:
        return status(True, False, None, f"cannot read the Nominatim database: {exc}")
    count = int(places[0]) if places else 0
    if pending and int(pending[0]) > 0:
        return status(True, False, count, f"{pending[0]} places are not indexed yet")
    if record is None:
        return status(True, True, count, "ready (imported outside geotool: no import.json)")
    return status(True, True, count, f"ready: {count} places from {record.osm_file}")


def open_local_api(local: LocalNominatim | None = None) -> Any:
    """A synchronous ``nominatim_api.NominatimAPI`` on the local database; close it after use.

    Example::

        api = open_local_api()
        result = api.reverse((lon, lat), max_rank=30, address_details=True)
        api.close()
    """
    import nominatim_api

    local = local or local_nominatim()
    if not (local.project_dir / ".env").is_file():
        write_project(local)
    return nominatim_api.NominatimAPI(local.project_dir, environ=local.environ)


def local_nominatim_environ(options: GeocoderOptions) -> tuple[dict[str, str], str | None]:
    """Nominatim settings and project directory for the in-process and bulk geocoders: an explicit
    ``nominatim_dsn`` (or ``NOMINATIM_DATABASE_DSN``), else the local import of
    ``geotool nominatim import`` on geotool's database server."""
    dsn = options.nominatim_dsn or os.environ.get("NOMINATIM_DATABASE_DSN")
    if dsn:
        return {"NOMINATIM_DATABASE_DSN": dsn}, options.nominatim_project_dir
    overrides = {"database_url": options.database_url} if options.database_url else {}
    local = local_nominatim(load_settings(**overrides))
    if not (local.project_dir / ".env").is_file():
        write_project(local)
    return local.environ, str(local.project_dir)
