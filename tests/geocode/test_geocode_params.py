"""The geocode stage's parameters check themselves, and every geocoder declares what the
pipeline reads (the Geocoder base class) instead of being probed for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import pytest

from geotool.errors import InvalidValueError
from geotool.geocode.boundaries import BoundaryGeocoder
from geotool.geocode.nominatim.bulk import BulkNominatim
from geotool.geocode.nominatim.http import HttpNominatim
from geotool.geocode.nominatim.inprocess import InProcessNominatim
from geotool.geocode.pipeline import GeocodeParams
from geotool.geocode.registry import GeocoderOptions
from geotool.geocode.types import DEFAULT_BATCH, AddressResult, Geocoder
from geotool.progress import RecordingProgress


@pytest.mark.parametrize(("params", "says"), [
    (GeocodeParams("d", precision=13), "--precision must be between 0 and 12"),
    (GeocodeParams("d", precision=-1), "--precision"),
    (GeocodeParams("d", batch_size=0), "--batch-size must be at least 1, not 0"),
    (GeocodeParams(""), "--dataset"),
    (GeocodeParams("d", options=GeocoderOptions(concurrency=0)), "--concurrency"),
    (GeocodeParams("d", options=GeocoderOptions(timeout=0)), "--timeout"),
    (GeocodeParams("d", options=GeocoderOptions(retries=-1)), "--retries"),
    (GeocodeParams("d", options=GeocoderOptions(simplify=-0.1)), "--simplify"),
])
def test_params_refuse_values_out_of_range(params: GeocodeParams, says: str) -> None:
    with pytest.raises(InvalidValueError, match=says):
        params.validate()


def test_params_are_frozen_and_defaults_valid() -> None:
    params = GeocodeParams("d", precision=5)
    params.validate()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.precision = 6  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.options.concurrency = 3  # type: ignore[misc]


def test_every_geocoder_declares_what_the_pipeline_reads() -> None:
    for cls, fetches in ((HttpNominatim, True), (InProcessNominatim, True),
                         (BulkNominatim, True), (BoundaryGeocoder, False)):
        assert issubclass(cls, Geocoder)
        assert cls.name and cls.source
        assert cls.fetches_details is fetches, cls
    assert BulkNominatim.pipeline_batch == 2000
    assert BoundaryGeocoder.pipeline_batch == DEFAULT_BATCH


class _Minimal(Geocoder):
    name = "minimal"
    source = "minimal"

    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        for lat, lon in points:
            yield AddressResult(lat, lon, "unplaceable")


def test_a_new_geocoder_needs_only_reverse_many() -> None:
    gc = _Minimal()
    assert (gc.namespace, gc.data_key, gc.concurrency, gc.check()) == (None, None, 1, "")
    assert not gc.fetches_details
    gc.close()
    assert [r.status for r in gc.reverse_many([(1.0, 2.0)])] == ["unplaceable"]
    with pytest.raises(NotImplementedError):
        gc.details_many(["R1"])

    class NoReverse(Geocoder):
        name = source = "none"

    with pytest.raises(TypeError):
        NoReverse()  # type: ignore[abstract]


def test_the_public_server_warning_is_a_progress_message() -> None:
    progress = RecordingProgress()
    with HttpNominatim("http://127.0.0.1:9", "geotool-tests", progress=progress) as local:
        assert local.namespace == "nominatim-http:http://127.0.0.1:9"
    assert progress.messages == []
