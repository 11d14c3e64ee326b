"""One settings object for the whole library.

Values are layered, each layer overriding the one before:
defaults < config file (TOML) < ``GEOTOOL_*`` environment variables < explicit arguments
(the CLI's flags). The config file is ``$GEOTOOL_CONFIG`` if set, else
``~/.config/geotool/config.toml`` when it exists.

Example ``config.toml``::

    database_url = "postgresql+psycopg://me@db.example.org/geo"
    nominatim_url = "http://localhost:8080"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from geotool.errors import InvalidValueError, MissingInputError

ENV_PREFIX = "GEOTOOL_"


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "geotool"


def _default_server_dir(home: Path) -> Path:
    """Where the private PostgreSQL keeps its data.

    As root the server runs as the ``postgres`` OS user, which cannot enter ``/root``;
    the data then lives under ``/var/lib/geotool`` instead of the user's home.
    """
    if os.geteuid() == 0 and str(home).startswith("/root"):
        return Path("/var/lib/geotool/server")
    return home / "server"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with :func:`load_settings`."""

    home: Path
    server_dir: Path
    database_url: str | None = None
    database_name: str = "geotool"
    nominatim_url: str | None = None
    user_agent: str = "geotool/0.1 (https://github.com/geotool; research photo geolocation)"
    config_file: Path | None = None

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given non-None values replaced (used for CLI flags)."""
        clean = {k: v for k, v in values.items() if v is not None}
        return replace(self, **clean)


def _config_file() -> Path | None:
    explicit = os.environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise MissingInputError(
                f"GEOTOOL_CONFIG points at {path}, which does not exist. "
                "Create it or unset GEOTOOL_CONFIG."
            )
        return path
    default = Path.home() / ".config" / "geotool" / "config.toml"
    return default if default.is_file() else None


def _coerce(name: str, value: Any) -> Any:
    if name in {"home", "server_dir", "config_file"} and value is not None:
        return Path(str(value)).expanduser()
    return value


def load_settings(**overrides: Any) -> Settings:
    """Resolve settings from defaults, the config file, the environment and ``overrides``."""
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    cfg = _config_file()
    if cfg is not None:
        with cfg.open("rb") as fh:
            data = tomllib.load(fh)
        unknown = set(data) - names
        if unknown:
            raise InvalidValueError(
                f"Unknown setting(s) {sorted(unknown)} in {cfg}; known: {sorted(names)}"
            )
        values.update(data)
        values["config_file"] = cfg
    for name in names:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env:
            values[name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    values = {k: _coerce(k, v) for k, v in values.items()}
    home = values.get("home") or _default_home()
    values["home"] = home
    values.setdefault("server_dir", _default_server_dir(home))
    return Settings(**values)
