"""The geocoders ``geotool geocode --geocoder NAME`` can use: name → factory.

A factory takes :class:`GeocoderOptions` and returns a subclass of
:class:`geotool.geocode.types.Geocoder` (whose docstring says what a geocoder declares and
how to add one).

The geocoders are listed in :data:`GEOCODERS`, an explicit mapping from name to
``"module:function"``; a factory's module is imported only when that geocoder is created,
so neither this module nor ``names()`` imports any geocoder (and no geocoder module
registers itself). :func:`register` adds one at run time (tests, plugins).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from geotool.errors import InvalidValueError, require_module
from geotool.geocode.types import Geocoder
from geotool.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class GeocoderOptions:
    """Everything a geocoder factory may need; each factory uses what applies to it."""

    database_url: str | None = None  # geotool's database (bulk/boundaries read from it)
    nominatim_url: str | None = None  # HTTP endpoint
    nominatim_dsn: str | None = None  # in-process: Nominatim's DATABASE_DSN (pgsql:...)
    nominatim_project_dir: str | None = None
    concurrency: int = 8
    simplify: float = 0.0
    user_agent: str = "geotool"
    timeout: float = 30.0
    retries: int = 5
    progress: Progress = NO_PROGRESS  # messages for the user (e.g. a warning)
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`InvalidValueError` naming the first value out of range."""
        if self.concurrency < 1:
            raise InvalidValueError(f"--concurrency must be at least 1, not {self.concurrency}")
        if self.timeout <= 0:
            raise InvalidValueError(f"--timeout must be more than 0 seconds, not {self.timeout}")
        if self.retries < 0:
            raise InvalidValueError(f"--retries must be 0 or more, not {self.retries}")
        if self.simplify < 0:
            raise InvalidValueError(f"--simplify must be 0 or more degrees, not {self.simplify}")


Factory = Callable[[GeocoderOptions], Geocoder]

#: Every built-in geocoder: name -> "module:function" returning the geocoder.
GEOCODERS: dict[str, str] = {
    "nominatim": "geotool.geocode.registry:_nominatim_inprocess",
    "http": "geotool.geocode.registry:_nominatim_http",
    "bulk": "geotool.geocode.nominatim.bulk:make_geocoder",
    "boundaries": "geotool.geocode.boundaries:make_geocoder",
    "geonames": "geotool.geocode.geonames:make_geocoder",
}
_FACTORIES: dict[str, Factory | str] = dict(GEOCODERS)


def register(name: str, factory: Factory | str) -> None:
    """Make ``--geocoder name`` available; ``factory`` may be ``"module:function"``."""
    _FACTORIES[name] = factory


def names() -> list[str]:
    """The registered geocoder names."""
    return sorted(_FACTORIES)


def create(name: str, options: GeocoderOptions) -> Geocoder:
    """A new geocoder called ``name``; :class:`InvalidValueError` listing the choices when
    unknown."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise InvalidValueError(f"unknown geocoder {name!r}; choose one of: {', '.join(names())}")
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InvalidValueError(f"geocoder {name!r} is not available in this installation "
                                    f"({exc})") from exc
    assert callable(factory)
    made = factory(options)
    # a bug in the factory (a plugin's), not something the user can fix
    assert isinstance(made, Geocoder), f"geocoder {name!r} is not a geotool Geocoder"
    return made


def _nominatim_inprocess(options: GeocoderOptions) -> Geocoder:
    require_module("nominatim_api", "nominatim", "the in-process Nominatim geocoder")
    from geotool.geocode.nominatim.inprocess import InProcessNominatim

    environ, project_dir = local_nominatim_environ(options)
    return InProcessNominatim(environ, project_dir, concurrency=options.concurrency,
                              simplify=options.simplify)


def local_nominatim_environ(options: GeocoderOptions) -> tuple[dict[str, str], str | None]:
    """Nominatim settings and project directory for the in-process geocoder: an explicit
    ``nominatim_dsn`` (or ``NOMINATIM_DATABASE_DSN``), else the local import of
    ``geotool nominatim import`` on geotool's database server."""
    dsn = options.nominatim_dsn or os.environ.get("NOMINATIM_DATABASE_DSN")
    if dsn:
        return {"NOMINATIM_DATABASE_DSN": dsn}, options.nominatim_project_dir
    from geotool.geocode.nominatim.local import local_nominatim, write_project
    from geotool.settings import load_settings

    overrides = {"database_url": options.database_url} if options.database_url else {}
    local = local_nominatim(load_settings(**overrides))
    if not (local.project_dir / ".env").is_file():
        write_project(local)
    return local.environ, str(local.project_dir)


def _nominatim_http(options: GeocoderOptions) -> Geocoder:
    from geotool.geocode.nominatim.http import HttpNominatim

    if not options.nominatim_url:
        raise InvalidValueError("--geocoder http needs --nominatim-url (e.g. http://localhost:8088)")
    return HttpNominatim(options.nominatim_url, options.user_agent,
                         concurrency=options.concurrency, timeout=options.timeout,
                         retries=options.retries, simplify=options.simplify,
                         progress=options.progress)

