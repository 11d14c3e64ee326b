"""``geotool geocode`` as a library call: every image of a dataset gets its address vector.

Steps: find the images without an ``image_geocodes`` row and group them by (optionally
rounded) coordinate; answer from ``geocode_cache`` where possible; send the rest to the
geocoder a batch at a time (the geocoder runs its own concurrency inside a batch); write
each batch in one transaction (:func:`geotool.geocode.store.write_batch`); then fetch the
details (attributes + polygon) of every location that still lacks them. A ``runs`` row
records parameters and outcome.

Safe to kill at any moment: a batch is written whole or not at all and an image counts as
done only through its ``image_geocodes`` row, so running again picks up exactly the
missing images; on a finished dataset it finds nothing to do.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from geotool.db import datasets
from geotool.db.runs import recorded_run
from geotool.errors import GeotoolError, InvalidValueError
from geotool.geocode import store
from geotool.geocode.registry import GeocoderOptions, create
from geotool.geocode.types import Geocoder
from geotool.progress import NO_PROGRESS, Progress

T = TypeVar("T")


class GeocodeInterrupted(GeotoolError, RuntimeError):
    """The geocoder failed for good part-way; what was written is kept."""


@dataclass
class GeocodeSummary:
    """What a :func:`geocode` call did."""

    dataset: str
    geocoder: str
    images_todo: int = 0
    points_todo: int = 0
    points_queried: int = 0
    points_cached: int = 0
    images_written: int = 0
    ok: int = 0
    unplaceable: int = 0
    failed: int = 0
    details_written: int = 0
    details_missing: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


@dataclass(frozen=True)
class GeocodeParams:
    """What one ``geotool geocode`` does.

    ``geocoder`` is a registered name (:mod:`geotool.geocode.registry`), created from
    ``options``. ``precision`` rounds coordinates to that many decimals before querying
    (None: exact). ``batch_size`` is the number of coordinates per committed batch (None:
    the geocoder's ``pipeline_batch``). ``details`` fetches the locations' attributes and
    polygons afterwards; ``retry_failed`` geocodes images marked failed again.
    """

    dataset: str
    geocoder: str = "nominatim"
    options: GeocoderOptions = field(default_factory=GeocoderOptions)
    precision: int | None = None
    batch_size: int | None = None
    details: bool = True
    retry_failed: bool = False

    def validate(self) -> None:
        """Raise :class:`InvalidValueError` naming the first value out of range."""
        if not self.dataset:
            raise InvalidValueError("--dataset must name a dataset, e.g. --dataset demo")
        if self.batch_size is not None and self.batch_size < 1:
            raise InvalidValueError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.precision is not None and not 0 <= self.precision <= 12:
            raise InvalidValueError(
                f"--precision must be between 0 and 12 decimal places, not {self.precision}")
        self.options.validate()


def geocode(
    engine: Engine,
    params: GeocodeParams,
    *,
    progress: Progress = NO_PROGRESS,
    geocoder: Geocoder | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> GeocodeSummary:
    """Geocode every image of ``params.dataset`` that has no address vector yet.

    ``geocoder``: a ready geocoder to use instead of creating ``params.geocoder`` (the
    caller then closes it). ``progress`` gets a message with the work to do, then the
    phases "geocoding points" (advanced by coordinates) and "location details" (by
    locations); the geocoder's own messages (a warning) go there too. ``after_batch(k)``
    is called after the k-th batch committed (tests use it). Raises
    :class:`GeocodeInterrupted` when the geocoder or the database gives up, after
    recording the run as failed; any other exception (a bug) propagates as it is.
    """
    params.validate()
    gc = geocoder if geocoder is not None else create(
        params.geocoder, replace(params.options, progress=progress))
    batch_size = params.batch_size or gc.pipeline_batch
    try:
        return _run(engine, params.dataset, gc, params.precision, batch_size, params.details,
                    params.retry_failed, progress, after_batch)
    finally:
        if geocoder is None:
            gc.close()


def _run(
    engine: Engine, dataset: str, gc: Geocoder, precision: int | None, batch_size: int,
    details: bool, retry_failed: bool, progress: Progress,
    after_batch: Callable[[int], None] | None,
) -> GeocodeSummary:
    started = time.monotonic()
    source = gc.source
    with engine.connect() as conn:
        ds = datasets.dataset_id(conn, dataset)
    if retry_failed:
        store.forget_failed(engine, ds)
    with engine.connect() as conn:
        # a geocoder that answers every image in SQL needs no distinct-coordinate count
        images_todo, points_todo = store.count_pending(
            conn, ds, precision, distinct=not gc.writes_in_database)
    summary = GeocodeSummary(dataset, gc.name, images_todo, points_todo)
    progress.message(f"{dataset}: {images_todo:,} images to geocode" + (
        "" if gc.writes_in_database else f" at {points_todo:,} distinct coordinates"))
    if images_todo == 0 and not _details_pending(engine, ds, details, gc):
        summary.seconds = time.monotonic() - started
        return summary
    if described := gc.check():
        summary.extra["server"] = described
    # after check(): a Nominatim geocoder names its imported data only once it is reachable
    namespace = gc.namespace
    data_key = gc.data_key
    params = {"geocoder": gc.name, "namespace": namespace, "precision": precision,
              "batch_size": batch_size, "concurrency": gc.concurrency}
    try:
        with recorded_run(engine, "geocode", params, ds) as run:
            try:
                if gc.writes_in_database:
                    # the geocoder answers and writes whole batches in SQL (geonames)
                    _geocode_in_database(gc, engine, ds, precision, batch_size, summary,
                                         progress, after_batch)
                else:
                    # closing(): a batch that fails must end the streaming query's
                    # connection now, not whenever the generator is garbage-collected.
                    with contextlib.closing(store.iter_pending_points(
                            engine, ds, precision, namespace)) as pending:
                        _geocode_batches(engine, gc, source, namespace, data_key, pending,
                                         batch_size, summary, progress, after_batch)
                if details:
                    _fetch_details(engine, gc, ds, summary, batch_size, data_key, progress)
            finally:  # Ctrl-C and failures too: stored batches stay, the run says so
                summary.seconds = time.monotonic() - started
                run.summary.update(summary.as_dict())
    except (GeotoolError, OSError, sa_exc.DBAPIError) as exc:
        done = summary.images_written
        raise GeocodeInterrupted(
            f"geocoding {dataset!r} stopped: {exc}\n{done:,} of {images_todo:,} images were "
            f"stored before it stopped (kept). Run the same `geotool geocode --dataset "
            f"{dataset}` command again to continue where it stopped.") from exc
    return summary


def _geocode_batches(
    engine: Engine, gc: Geocoder, source: str, namespace: str | None, data_key: str | None,
    pending: Iterable[store.PendingPoint], batch_size: int, summary: GeocodeSummary,
    progress: Progress, after_batch: Callable[[int], None] | None,
) -> None:
    progress.phase("geocoding points", summary.points_todo)
    for batches, batch in enumerate(_chunks(pending, batch_size), start=1):
        cached = [p for p in batch if p.cached_status is not None]
        fresh = [p for p in batch if p.cached_status is None]
        answers = list(gc.reverse_many([(p.lat, p.lon) for p in fresh])) if fresh else []
        counts = store.write_batch(
            engine, source, [(p.image_ids, a) for p, a in zip(fresh, answers, strict=True)],
            namespace=namespace, cached=cached, data_key=data_key)
        summary.points_queried += len(fresh)
        summary.points_cached += len(cached)
        summary.images_written += counts.images
        summary.ok += counts.ok
        summary.unplaceable += counts.unplaceable
        summary.failed += counts.failed
        progress.advance(len(batch))
        if after_batch:
            after_batch(batches)


def _geocode_in_database(
    gc: Geocoder, engine: Engine, dataset: int, precision: int | None, batch_size: int,
    summary: GeocodeSummary, progress: Progress, after_batch: Callable[[int], None] | None,
) -> None:
    """A geocoder that answers and stores batches itself in SQL (``writes_in_database``):
    no coordinate passes through Python; counts come back per run."""
    progress.phase("geocoding points", summary.images_todo)
    counts = gc.geocode_pending(engine, dataset, precision, batch_size, progress, after_batch)
    summary.points_queried += counts.images
    summary.images_written += counts.images
    summary.ok += counts.ok
    summary.unplaceable += counts.unplaceable


def _details_pending(engine: Engine, dataset: int, details: bool, gc: Geocoder) -> bool:
    if not details or not gc.fetches_details:
        return False
    with engine.connect() as conn:
        return store.count_locations_missing_details(conn, dataset) > 0


def _fetch_details(
    engine: Engine, gc: Geocoder, dataset: int, summary: GeocodeSummary, batch_size: int,
    data_key: str | None, progress: Progress,
) -> None:
    """Details (attributes + geometry) for the dataset's locations still lacking them
    (OSM objects and ``C:<cc>`` countries; other sources' keys are left alone)."""
    if not gc.fetches_details:
        return
    source = gc.source
    with engine.connect() as conn:
        todo = store.locations_missing_details(conn, dataset)
    progress.phase("location details", len(todo))
    for chunk in _chunks(todo, batch_size):
        keys = [k for _, k in chunk]
        records = gc.details_many(keys)
        found = [r for r in records if r is not None]
        missing = [k for k, r in zip(keys, records, strict=True) if r is None]
        summary.details_written += store.write_location_details(engine, found, source,
                                                                data_key)
        store.mark_details_missing(engine, missing, source)
        summary.details_missing += len(missing)
        progress.advance(len(chunk))
