"""geotool's private PostgreSQL/PostGIS server: the embedded default database.

When ``GEOTOOL_DATABASE_URL`` is unset, geotool creates a data directory with the
system's ``initdb``, starts it with ``pg_ctl`` on a free port of 127.0.0.1 and reuses it
on every later call. PostgreSQL refuses to run as root, so when geotool runs as root the
server runs as the unprivileged ``postgres`` OS user (the data directory is owned by it).

Connections use password authentication (scram-sha-256); the generated superuser
password is kept in ``<server_dir>/../server.json`` readable only by the invoking user.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from geotool.errors import GeotoolError
from geotool.settings import Settings, load_settings

SUPERUSER = "geotool"
PG_BIN_CANDIDATES = [
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/14/bin",
    "/usr/lib/postgresql/13/bin",
]


class ServerError(GeotoolError, RuntimeError):
    """The private server could not be created, started or reached."""


def find_pg_bin() -> Path:
    """The directory holding ``initdb``/``pg_ctl`` (``GEOTOOL_PG_BIN`` overrides)."""
    explicit = os.environ.get("GEOTOOL_PG_BIN")
    candidates = [explicit] if explicit else []
    candidates += PG_BIN_CANDIDATES
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServerError(
        "PostgreSQL's initdb was not found. Install the server, e.g. on Debian/Ubuntu: "
        "`apt-get install postgresql postgresql-15-postgis-3`, or set GEOTOOL_PG_BIN to the "
        "folder holding initdb and pg_ctl, or point GEOTOOL_DATABASE_URL at an existing PostGIS."
    )


def postgis_available(pg_bin: Path) -> bool:
    """Whether the PostGIS extension is installed for this PostgreSQL version."""
    try:
        sharedir = subprocess.run(
            [str(pg_bin / "pg_config"), "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sharedir = str(pg_bin.parent.parent.parent.parent / "share/postgresql" / pg_bin.parent.name)
    return (Path(sharedir) / "extension" / "postgis.control").exists()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerStatus:
    """What ``geotool db status`` prints."""

    data_dir: Path
    initialised: bool
    running: bool
    port: int | None
    version: str | None


class PrivateServer:
    """A PostgreSQL cluster owned by geotool, in ``base_dir``.

    ``base_dir/data`` is the cluster; ``base_dir/server.json`` (mode 600) holds port
    and password. Every method is idempotent.
    """

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self.data_dir = self.base_dir / "data"
        self.state_file = self.base_dir / "server.json"
        self.log_file = self.base_dir / "server.log"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> PrivateServer:
        settings = settings or load_settings()
        return cls(settings.server_dir)

    # -- state -------------------------------------------------------------
    def _state(self) -> dict[str, object]:
        if not self.state_file.exists():
            return {}
        return dict(json.loads(self.state_file.read_text()))

    @property
    def port(self) -> int:
        port = self._state().get("port")
        if not isinstance(port, int):
            raise ServerError(f"The private server in {self.base_dir} is not initialised yet.")
        return port

    @property
    def password(self) -> str:
        return str(self._state().get("password", ""))

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq key=value connection string for ``dbname``."""
        return (
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} "
            f"password={self.password} dbname={dbname}"
        )

    def url(self, dbname: str = "geotool") -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for ``dbname``."""
        return (
            f"postgresql+psycopg://{SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{dbname}"
        )

    # -- running as the right OS user ---------------------------------------
    def _run_as(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServerError(
                "geotool runs as root and PostgreSQL refuses root; the unprivileged user "
                "'postgres' does not exist. Install the `postgresql` package (it creates "
                "that user) or run geotool as a normal user."
            ) from exc

    def _cmd(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        user = self._run_as()
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        if user is not None:
            def demote() -> None:
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)

            return subprocess.run(
                args, preexec_fn=demote, env=env, cwd="/", text=True,
                capture_output=True, **kwargs,  # type: ignore[call-overload]
            )
        return subprocess.run(
            args, env=env, text=True, capture_output=True, **kwargs  # type: ignore[call-overload]
        )

    def _own(self, path: Path) -> None:
        user = self._run_as()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    # -- lifecycle ---------------------------------------------------------
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self.state_file.exists()

    def init(self) -> None:
        """Create the cluster (``initdb``) if it does not exist yet."""
        if self.initialised():
            return
        pg_bin = find_pg_bin()
        if not postgis_available(pg_bin):
            raise ServerError(
                f"PostGIS is not installed for the PostgreSQL in {pg_bin}. On Debian/Ubuntu: "
                "`apt-get install postgresql-15-postgis-3` (match your PostgreSQL version)."
            )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-finished earlier initdb
        self.data_dir.mkdir(mode=0o700)
        self._own(self.data_dir)
        user = self._run_as()
        if user is not None:
            # the postgres user must be able to reach the data directory
            for parent in [self.base_dir, *self.base_dir.parents]:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    if parent == self.base_dir or str(parent).startswith("/var/lib/geotool"):
                        os.chmod(parent, mode | 0o011)
                    else:
                        raise ServerError(
                            f"The postgres user cannot enter {parent}; choose a server "
                            "directory it can reach with GEOTOOL_SERVER_DIR (e.g. under /var/lib)."
                        )
        password = secrets.token_urlsafe(18)
        pwfile = self.base_dir / ".pwfile"
        pwfile.write_text(password + "\n")
        self._own(pwfile)
        try:
            proc = self._cmd([
                str(pg_bin / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                "--pwfile", str(pwfile), "--auth=scram-sha-256", "-E", "UTF8",
                "--locale=C.UTF-8",
            ])
        finally:
            pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise ServerError(f"initdb failed in {self.data_dir}:\n{proc.stderr.strip()}")
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# written by geotool\nlisten_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\nmax_connections = 100\n"
                "shared_buffers = 256MB\nwork_mem = 64MB\nmaintenance_work_mem = 512MB\n"
                "fsync = on\nsynchronous_commit = off\nmax_wal_size = 4GB\n"
                "logging_collector = off\n"
            )
        state = {"port": _free_port(), "password": password, "pg_bin": str(pg_bin)}
        self.state_file.write_text(json.dumps(state))
        os.chmod(self.state_file, 0o600)

    def running(self) -> bool:
        if not self.initialised():
            return False
        try:
            with psycopg.connect(self.dsn(), connect_timeout=3):
                return True
        except psycopg.OperationalError:
            return False

    def start(self, timeout: float = 60.0) -> None:
        """Initialise if needed and start the server; a no-op when it already runs."""
        self.init()
        if self.running():
            return
        pg_bin = Path(str(self._state().get("pg_bin") or find_pg_bin()))
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            # stale pid file after a crash: pg_ctl handles it, but the port may have moved
            pass
        port = self.port
        if not _port_free(port):
            port = _free_port()
            state = self._state()
            state["port"] = port
            self.state_file.write_text(json.dumps(state))
        if not self.log_file.exists():
            self.log_file.touch()
        self._own(self.log_file)
        proc = self._cmd([
            str(pg_bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-o", f"-p {port}", "-w", "-t", str(int(timeout)), "start",
        ])
        if proc.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise ServerError(
                f"Could not start the private PostgreSQL in {self.data_dir}:\n"
                f"{proc.stderr.strip()}\n{tail}"
            )
        deadline = time.monotonic() + timeout
        while not self.running():
            if time.monotonic() > deadline:
                raise ServerError(
                    f"The private PostgreSQL did not accept connections; see {self.log_file}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server if it runs (fast shutdown)."""
        if not self.initialised() or not (self.data_dir / "postmaster.pid").exists():
            return
        pg_bin = Path(str(self._state().get("pg_bin") or find_pg_bin()))
        self._cmd([str(pg_bin / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        """Stop the server and delete its data directory (used by tests)."""
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def status(self) -> ServerStatus:
        version = None
        running = self.running()
        if running:
            with psycopg.connect(self.dsn()) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                version = str(row[0]) if row else None
        return ServerStatus(
            data_dir=self.data_dir,
            initialised=self.initialised(),
            running=running,
            port=self.port if self.initialised() else None,
            version=version,
        )

    def create_database(self, name: str, postgis: bool = True) -> None:
        """Create ``name`` (with the PostGIS extension) unless it exists."""
        self.start()
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
                )
        if postgis:
            with psycopg.connect(self.dsn(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psycopg.sql.Identifier(name)
                )
            )


def _port_free(port: int) -> bool:
    """Whether PostgreSQL could listen on ``port``. SO_REUSEADDR as PostgreSQL sets it:
    the connections a stopped server closed linger in TIME_WAIT on its port for a minute,
    which must not count as busy (the server would move to another port after `db down`
    / `db up` and break saved URLs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
