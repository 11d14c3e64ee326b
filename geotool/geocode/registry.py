"""The geocoders ``geotool geocode --geocoder NAME`` can use: name → factory.

A factory takes :class:`geotool.geocode.types.GeocoderOptions` (also importable from here)
and returns a subclass of :class:`geotool.geocode.types.Geocoder` (whose docstring says
what a geocoder declares and how to add one).

The geocoders are listed in :data:`GEOCODERS`, an explicit mapping from name to
``"module:function"``; a factory's module is imported only when that geocoder is created,
so neither this module nor ``names()`` imports any geocoder (and no geocoder module
registers itself). :func:`register` adds one at run time (tests, plugins).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from geotool.errors import InvalidValueError, require_module
from geotool.geocode.types import Geocoder, GeocoderOptions

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
    from geotool.geocode.nominatim.local import local_nominatim_environ

    environ, project_dir = local_nominatim_environ(options)
    return InProcessNominatim(environ, project_dir, concurrency=options.concurrency,
                              simplify=options.simplify)


def _nominatim_http(options: GeocoderOptions) -> Geocoder:
    from geotool.geocode.nominatim.http import HttpNominatim

    if not options.nominatim_url:
        raise InvalidValueError("--geocoder http needs --nominatim-url (e.g. http://localhost:8088)")
    return HttpNominatim(options.nominatim_url, options.user_agent,
                         concurrency=options.concurrency, timeout=options.timeout,
                         retries=options.retries, simplify=options.simplify,
                         progress=options.progress)

