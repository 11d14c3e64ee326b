"""Read-only viewer roles, and the PostgreSQL service entries that QGIS connects through.

Why this file exists: QGIS (and psql, and a colleague's laptop) should read geotool's
live database without holding the owner's password and without being able to change
anything. Two pieces:

- **Service entries** (libpq's ``pg_service.conf``): ``[NAME]`` with host, port, dbname,
  user and a ``passfile``; the password itself lives in that pgpass file, created with
  mode 0600 under ``<geotool home>/services/`` like the private server's ``server.json``.
  A QGIS project then names only ``service='NAME'`` and holds no password. The service
  file is ``$PGSERVICEFILE`` when set, else ``~/.pg_service.conf`` (where libpq and QGIS
  look by default); entries of other programs in it are kept as they are.
- **Viewer roles**: ``geotool db viewer create NAME`` makes a LOGIN role, member of the
  NOLOGIN group ``geotool_viewers``, with a generated password, read-only transactions by
  default, and a service entry of the same name. The group may SELECT the viewing
  relations that ``sql/db/viewer_grants.sql`` lists (every view and materialized view
  of schema public plus a few catalogue tables and QGIS's own tables) and nothing else;
  ``geotool db upgrade`` re-runs that file, so views re-created later keep the grant.

Roles are cluster-wide in PostgreSQL; the grants are per database. Creating a role needs
the CREATEROLE privilege (the private server's ``geotool`` user is a superuser).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from geotool.db import sqlfiles
from geotool.errors import GeotoolError, InvalidValueError
from geotool.progress import NO_PROGRESS, Progress
from geotool.settings import load_settings

VIEWER_GROUP = "geotool_viewers"
DEFAULT_SERVICE = "geotool"
GRANTS_SQL = "db/viewer_grants.sql"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RESERVED = {"postgres", "geotool", VIEWER_GROUP, "public"}
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")


class ViewerExistsError(GeotoolError):
    """A role of that name exists already."""


class UnknownViewerError(GeotoolError):
    """No geotool viewer role of that name."""


class UnknownServiceError(GeotoolError):
    """No entry of that name in the service file."""


# -- service entries ---------------------------------------------------------------------

def service_file(path: Path | None = None) -> Path:
    """The service file geotool writes: ``path``, else ``$PGSERVICEFILE``, else
    ``~/.pg_service.conf`` (libpq's and QGIS's default)."""
    if path is not None:
        return Path(path)
    env = os.environ.get("PGSERVICEFILE")
    return Path(env) if env else Path.home() / ".pg_service.conf"


def secrets_dir(path: Path | None = None) -> Path:
    """Where the pgpass files of geotool's service entries live."""
    return Path(path) if path is not None else load_settings().home / "services"


@dataclass(frozen=True)
class ServiceEntry:
    """One ``[name]`` section of a service file."""

    name: str
    host: str
    port: int
    dbname: str
    user: str
    passfile: Path | None

    def conninfo(self) -> str:
        """A libpq key/value string reaching the same database (password from passfile)."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}",
                 f"user={self.user}"]
        if self.passfile is not None:
            parts.append(f"passfile={self.passfile}")
        return " ".join(parts)


def _sections(text: str) -> list[tuple[str | None, list[str]]]:
    """The file as (section name or None for the preamble, its lines), in order."""
    out: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            out.append((m.group(1).strip(), [line]))
        else:
            out[-1][1].append(line)
    return out


def read_service(name: str, path: Path | None = None) -> ServiceEntry | None:
    """The entry ``name`` of the service file, or None when there is none."""
    file = service_file(path)
    if not file.exists():
        return None
    for section, lines in _sections(file.read_text(encoding="utf-8")):
        if section != name:
            continue
        values: dict[str, str] = {}
        for line in lines[1:]:
            if "=" in line and not line.lstrip().startswith(("#", ";")):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
        return ServiceEntry(name, values.get("host", "localhost"),
                            int(values.get("port", "5432")), values.get("dbname", ""),
                            values.get("user", ""),
                            Path(values["passfile"]) if "passfile" in values else None)
    return None


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(part, 0o600)
    os.replace(part, path)


def _replace_section(path: Path, name: str, body: list[str] | None) -> None:
    """Replace (or add, or with ``body`` None remove) section ``name`` of ``path``."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    kept: list[str] = []
    for section, lines in _sections(text):
        if section == name:
            continue
        kept.extend(lines)
    while kept and not kept[-1].strip():
        kept.pop()
    if body is not None:
        if kept:
            kept.append("")
        kept.extend([f"[{name}]", *body])
    _write_private(path, "\n".join(kept) + "\n" if kept else "")


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def write_service(name: str, url: str | URL, *, path: Path | None = None,
                  secrets: Path | None = None) -> ServiceEntry:
    """Write service entry ``name`` reaching the database of ``url`` as its user, the
    password in ``<secrets>/<name>.pgpass`` (0600). Replaces an entry of that name."""
    if not _NAME.match(name):
        raise InvalidValueError(f"service name {name!r}: use lower-case letters, digits and "
                                "_ (starting with a letter or _), e.g. geotool_viewer")
    u = make_url(url) if isinstance(url, str) else url
    host, port = u.host or "127.0.0.1", int(u.port or 5432)
    dbname, user = u.database or "", u.username or ""
    passfile: Path | None = None
    if u.password:
        passfile = secrets_dir(secrets) / f"{name}.pgpass"
        line = ":".join(_pgpass_field(v) for v in (host, str(port), dbname, user,
                                                    str(u.password)))
        _write_private(passfile, line + "\n")
    body = [f"host={host}", f"port={port}", f"dbname={dbname}", f"user={user}"]
    if passfile is not None:
        body.append(f"passfile={passfile}")
    _replace_section(service_file(path), name, body)
    return ServiceEntry(name, host, port, dbname, user, passfile)


def remove_service(name: str, *, path: Path | None = None, secrets: Path | None = None) -> bool:
    """Remove entry ``name`` and its pgpass file; False when there was no entry."""
    entry = read_service(name, path)
    if entry is None:
        return False
    _replace_section(service_file(path), name, None)
    if entry.passfile is not None and entry.passfile.parent == secrets_dir(secrets):
        entry.passfile.unlink(missing_ok=True)
    return True


def require_service(name: str, path: Path | None = None) -> ServiceEntry:
    """Entry ``name``, or an error saying which command writes it."""
    entry = read_service(name, path)
    if entry is None:
        raise UnknownServiceError(
            f"no service {name!r} in {service_file(path)}; write it with `geotool db "
            f"service {name}` (the current database) or `geotool db viewer create {name}`")
    return entry


# -- viewer roles ------------------------------------------------------------------------

@dataclass(frozen=True)
class ViewerParams:
    """``name``: the role (and its service entry); ``service_file``/``secrets``: where
    the entry and its pgpass file go (defaults: :func:`service_file`, :func:`secrets_dir`)."""

    name: str
    service_file: Path | None = None
    secrets: Path | None = None

    def validate(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidValueError(
                f"viewer name {self.name!r}: use lower-case letters, digits and _ "
                "(starting with a letter or _, at most 63), e.g. anna_viewer")
        if self.name in _RESERVED or self.name.startswith("pg_"):
            raise InvalidValueError(f"viewer name {self.name!r} is reserved; pick another")


@dataclass(frozen=True)
class ViewerSummary:
    """What ``create``/``drop`` did."""

    name: str
    database: str
    service: ServiceEntry | None
    service_file: Path
    relations: int  # relations the viewers may read in this database


def _role_exists(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"),
                        {"n": name}).first() is not None


def _is_viewer(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text(
        "SELECT 1 FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
        "JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = :g AND m.rolname = :n"),
        {"g": VIEWER_GROUP, "n": name}).first() is not None


def _execute_formatted(conn: Connection, template: str, **values: str) -> None:
    """Run a statement that PostgreSQL cannot parameterise (CREATE ROLE …): the values
    are bound into ``format()`` on the server, which quotes them (%I, %L)."""
    names = list(values)
    args = ", ".join(f"CAST(:{n} AS text)" for n in names)
    stmt = conn.execute(sa.text(f"SELECT format(CAST(:template AS text), {args})"),
                        {"template": template, **values}).scalar_one()
    conn.exec_driver_sql(stmt)


def grant_viewing(conn: Connection) -> int:
    """(Re-)grant the viewing relations to the viewer group; returns how many relations
    the group may read in this database (0 when the group does not exist)."""
    sqlfiles.run(conn, GRANTS_SQL)
    if not _role_exists(conn, VIEWER_GROUP):
        return 0
    return int(conn.execute(sa.text(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm') "
        "AND has_table_privilege(:g, c.oid, 'SELECT')"), {"g": VIEWER_GROUP}).scalar_one())


def create_viewer(engine: Engine, params: ViewerParams, *,
                  progress: Progress = NO_PROGRESS) -> ViewerSummary:
    """Create login role ``params.name`` (read-only, member of ``geotool_viewers``) with a
    generated password, grant the viewing relations, and write its service entry."""
    params.validate()
    password = secrets.token_urlsafe(18)
    progress.phase("viewer role", None)
    with engine.begin() as conn:
        if _role_exists(conn, params.name):
            raise ViewerExistsError(
                f"a role named {params.name!r} exists already; pick another name, or "
                f"`geotool db viewer drop {params.name}` first if it is an old viewer")
        conn.exec_driver_sql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
            f"'{VIEWER_GROUP}') THEN CREATE ROLE {VIEWER_GROUP} NOLOGIN; END IF; END $$")
        _execute_formatted(conn, "CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I",
                           name=params.name, password=password, group=VIEWER_GROUP)
        _execute_formatted(conn, "ALTER ROLE %I SET default_transaction_read_only = on",
                           name=params.name)
        # PostgreSQL 15 already refuses CREATE in public to other roles; older ones not
        conn.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        relations = grant_viewing(conn)
        database = str(conn.execute(sa.text("SELECT current_database()")).scalar_one())
    url = engine.url.set(username=params.name, password=password)
    entry = write_service(params.name, url, path=params.service_file, secrets=params.secrets)
    progress.advance()
    return ViewerSummary(params.name, database, entry, service_file(params.service_file),
                         relations)


def drop_viewer(engine: Engine, params: ViewerParams, *,
                progress: Progress = NO_PROGRESS) -> ViewerSummary:
    """Drop viewer role ``params.name`` and remove its service entry and pgpass file."""
    params.validate()
    progress.phase("viewer role", None)
    with engine.begin() as conn:
        if not _role_exists(conn, params.name):
            raise UnknownViewerError(f"there is no role named {params.name!r}; "
                                     "`geotool db viewer list` shows the viewers")
        if not _is_viewer(conn, params.name):
            raise UnknownViewerError(
                f"role {params.name!r} is not a geotool viewer (not a member of "
                f"{VIEWER_GROUP}); geotool drops only the roles it created")
        _execute_formatted(conn, "DROP ROLE %I", name=params.name)
        database = str(conn.execute(sa.text("SELECT current_database()")).scalar_one())
    remove_service(params.name, path=params.service_file, secrets=params.secrets)
    progress.advance()
    return ViewerSummary(params.name, database, None, service_file(params.service_file), 0)


def list_viewers(engine: Engine) -> list[str]:
    """The names of the geotool viewer roles of this cluster."""
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(sa.text(
            "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
            "JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = :g ORDER BY 1"),
            {"g": VIEWER_GROUP})]
