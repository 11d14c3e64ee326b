"""The one Python great-circle distance: against pyproj on the sphere, against the
database's ``geotool_haversine`` (the same formula and radius), and used by both training
and the concept pass."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.learn.geodesy import EARTH_RADIUS_KM, haversine_km


def test_matches_pyproj_geodesic_on_the_sphere() -> None:
    # pyproj's geodesic on the sphere R = 6371 km (Paris-London 343.6 km, the antimeridian,
    # two hemispheres)
    pyproj = pytest.importorskip("pyproj")
    geod = pyproj.Geod(a=EARTH_RADIUS_KM * 1000, b=EARTH_RADIUS_KM * 1000)
    lat = np.array([48.8566, 0.0, -33.9])
    lon = np.array([2.3522, 179.9, 151.2])
    lat2 = np.array([51.5074, 0.0, 40.7])
    lon2 = np.array([-0.1278, -179.9, -74.0])
    ours = haversine_km(lat, lon, lat2, lon2)
    for i in range(3):
        _, _, dist = geod.inv(lon[i], lat[i], lon2[i], lat2[i])
        assert ours[i] == pytest.approx(dist / 1000, rel=1e-9)


def test_agrees_with_the_sql_function(engine: Engine) -> None:
    rng = np.random.default_rng(5)
    n = 200
    lat1, lat2 = rng.uniform(-90, 90, n), rng.uniform(-90, 90, n)
    lon1, lon2 = rng.uniform(-180, 180, n), rng.uniform(-180, 180, n)
    # exact antipodes, where rounding pushes the argument past 1 without the clamp
    lat2[:20], lon2[:20] = -lat1[:20], np.where(lon1[:20] > 0, lon1[:20] - 180, lon1[:20] + 180)
    with engine.connect() as conn:
        sql = np.array(conn.execute(sa.text(
            "SELECT geotool_haversine(a, b, c, d) FROM unnest("
            "CAST(:a AS float8[]), CAST(:b AS float8[]), CAST(:c AS float8[]), "
            "CAST(:d AS float8[])) WITH ORDINALITY AS t(a, b, c, d, i) ORDER BY i"),
            {"a": lat1.tolist(), "b": lon1.tolist(), "c": lat2.tolist(),
             "d": lon2.tolist()}).scalars().all(), dtype=np.float64)
    ours = haversine_km(lat1, lon1, lat2, lon2)
    assert not np.isnan(ours).any()
    np.testing.assert_allclose(ours, sql, rtol=1e-12, atol=1e-9)


def test_training_and_the_concept_pass_use_this_one() -> None:
    """Both families' training validation, both predictions and the concept pass measure
    km with this one function."""
    from geotool.explain import pipeline
    from geotool.learn import classifier, predict
    from geotool.learn.align import family
    from geotool.learn.align import predict as align_predict

    for module in (classifier, family, predict, align_predict, pipeline):
        assert module.haversine_km is haversine_km, module.__name__
