"""The values every geocoder produces, whatever its backend; the ``Geocoder`` base and the
``GeocoderOptions`` its factory takes (here, below every geocoder and the registry).

A geocoder turns coordinates into address vectors R(x): locations ordered finest first
(postcodes dropped). Storage (``geotool.geocode.store``) writes them to ``locations`` and
``image_addresses`` the same way for Nominatim (HTTP, in-process, bulk SQL), boundary
files, and EMP-16's precomputed vectors, so later stages never care about the source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from geotool.errors import InvalidValueError
from geotool.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

Status = Literal["ok", "unplaceable", "failed"]

#: Coordinates per committed batch unless a geocoder names its own ``pipeline_batch``.
DEFAULT_BATCH = 500


@dataclass(frozen=True)
class LocationRecord:
    """One place, keyed by OSM type letter + id (``R62422``) or ``C:de`` for a country
    known only from Nominatim's country table."""

    osm_key: str
    osm_type: str
    osm_id: int | None = None
    name: str | None = None
    name_en: str | None = None
    category: str | None = None
    type: str | None = None
    admin_level: int | None = None
    rank_address: int | None = None
    is_area: bool | None = None
    country_code: str | None = None
    wikidata: str | None = None
    wikipedia: str | None = None
    population: int | None = None
    place: str | None = None
    importance: float | None = None
    geometry_wkt: str | None = None  # polygon where OSM has one (simplified), else point
    centroid: tuple[float, float] | None = None  # (lat, lon)


@dataclass(frozen=True)
class AddressResult:
    """The answer for one coordinate: its address vector, finest first."""

    lat: float
    lon: float
    status: Status
    locations: tuple[LocationRecord, ...] = field(default_factory=tuple)
    detail: str | None = None


def parse_osm_key(text: str) -> tuple[str, int]:
    """``R62422``/``r62422``/``relation/62422``/``R:62422`` → ("R", 62422)."""
    raw = text.strip()
    words = {"node": "N", "way": "W", "relation": "R"}
    for word, letter in words.items():
        if raw.lower().startswith(word):
            return letter, int(raw[len(word):].lstrip("/: "))
    letter, rest = raw[0].upper(), raw[1:].lstrip(":/")
    if letter not in "NWR" or not rest.lstrip("-").isdigit():
        raise InvalidValueError(f"{text!r} is not an OSM id such as R62422, W123 or N42")
    return letter, int(rest)


@dataclass
class PendingCounts:
    """What a geocoder that writes in the database (``geocode_pending``) stored."""

    images: int = 0
    ok: int = 0
    unplaceable: int = 0
    batches: int = 0


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



class Geocoder(ABC):
    """Base of every geocoder: turns coordinates into address vectors.

    ``geotool geocode`` (:mod:`geotool.geocode.pipeline`) reads only what is declared
    here, so a geocoder states everything explicitly:

    - ``name``: the ``--geocoder`` name; ``source``: written to ``image_geocodes.source``;
    - ``namespace``: the ``geocode_cache`` namespace of its answers, None = never cached
      (answers that change when data are reloaded); ``data_key``: names the data its
      answers come from (a changed key makes stored locations be replaced, not merged);
      both may be properties that are valid only after :meth:`check`;
    - ``pipeline_batch``: coordinates per committed batch it works best with;
      ``concurrency``: queries it keeps in flight at once (1 = one at a time);
    - ``fetches_details``: True when :meth:`details_many` gives full location details
      (attributes + polygon); the pipeline's details step then runs;
    - ``writes_in_database``: True when :meth:`geocode_pending` answers and stores a
      dataset's pending images itself, in SQL inside geotool's database (the geonames
      geocoder); the pipeline then hands it the dataset instead of streaming points;
    - :meth:`reverse_many` (required), :meth:`check` (once before work; raises
      :class:`geotool.errors.UnavailableError` or another ``GeotoolError`` when the
      backend is unusable; returns a description of it), :meth:`close` (release
      connections); the base class's ``check``/``close`` do nothing.

    Adding a geocoder (e.g. GeoNames): subclass this in ``geotool/geocode/<name>.py``
    (its SQL in ``sql/geocode/``), write a factory ``make_geocoder(options:
    GeocoderOptions) -> YourGeocoder``, add ``"<name>": "geotool.geocode.<name>:
    make_geocoder"`` to ``geotool.geocode.registry.GEOCODERS``, and test it in
    ``tests/geocode/`` against a real backend. Messages for the user (a warning) go to the
    ``progress`` of the options (:class:`geotool.progress.Progress`), never to print.
    """

    name: ClassVar[str]
    source: ClassVar[str]
    pipeline_batch: int = DEFAULT_BATCH
    concurrency: int = 1
    fetches_details: ClassVar[bool] = False
    writes_in_database: ClassVar[bool] = False

    @property
    def namespace(self) -> str | None:
        return None

    @property
    def data_key(self) -> str | None:
        return None

    @abstractmethod
    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        """Address vectors for (lat, lon) points, in the input order."""

    def details_many(self, osm_keys: Sequence[str]) -> list[LocationRecord | None]:
        """Full details of these locations (None where unknown); only when
        ``fetches_details``."""
        raise NotImplementedError(f"the {self.name} geocoder fetches no location details")

    def geocode_pending(self, engine: Engine, dataset_id: int, precision: int | None,
                        batch_size: int, progress: Progress,
                        after_batch: Callable[[int], None] | None = None) -> PendingCounts:
        """Answer and store every image of the dataset without an ``image_geocodes`` row,
        a committed batch at a time; only when ``writes_in_database``."""
        raise NotImplementedError(f"the {self.name} geocoder does not write in the database")

    def check(self) -> str:
        """Raise when the backend is unusable; a one-line description of it ("": none)."""
        return ""

    def close(self) -> None:
        """Release connections and threads (the pipeline calls it for geocoders it made)."""
        return None
