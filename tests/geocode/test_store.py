"""Storage of geocoder answers: upserts, address vectors, cache, pending points."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.point_datasets import add_point_dataset

from geotool.geocode import store
from geotool.geocode.types import AddressResult, LocationRecord


def _dataset(engine: Engine, points: list[tuple[float, float]], name: str = "d") -> int:
    return add_point_dataset(engine, name, points, id_prefix=name)


def _loc(key: str, **kw: object) -> LocationRecord:
    return LocationRecord(osm_key=key, osm_type=key[0], osm_id=int(key[1:]), **kw)  # type: ignore[arg-type]


def test_pending_points_dedup_and_rounding(engine: Engine) -> None:
    pts = [(10.0, 20.0), (10.0, 20.0), (10.00004, 20.00004), (10.4, 20.4)]
    ds = _dataset(engine, pts)
    exact = list(store.iter_pending_points(engine, ds))
    assert sorted(len(p.image_ids) for p in exact) == [1, 1, 2]
    rounded = list(store.iter_pending_points(engine, ds, precision=3))
    expected = {(round(a, 3), round(b, 3)) for a, b in pts}
    assert {(p.lat, p.lon) for p in rounded} == expected
    assert sum(len(p.image_ids) for p in rounded) == len(pts)
    with engine.connect() as conn:
        assert store.count_pending(conn, ds, 3) == (4, len(expected))


def test_write_batch_vectors_postcodes_and_idempotence(engine: Engine) -> None:
    ds = _dataset(engine, [(1.0, 1.0), (1.0, 1.0), (2.0, 2.0)])
    pts = list(store.iter_pending_points(engine, ds))
    street = _loc("W5", name="Main St", rank_address=26)
    postcode = LocationRecord(osm_key="N9", osm_type="N", osm_id=9, type="postcode")
    city = _loc("R2", name="Town", admin_level=8, name_en="Town EN")
    vec = AddressResult(1.0, 1.0, "ok", (street, postcode, city, street))
    sea = AddressResult(2.0, 2.0, "unplaceable", detail="Unable to geocode")
    counts = store.write_batch(engine, "test", [(pts[0].image_ids, vec), (pts[1].image_ids, sea)],
                               namespace="ns")
    assert (counts.images, counts.ok, counts.unplaceable) == (3, 2, 1)
    with engine.connect() as conn:
        got = conn.execute(sa.text(
            "SELECT a.image_id, a.position, l.osm_key FROM image_addresses a "
            "JOIN locations l ON l.id = a.location_id ORDER BY 1, 2")).all()
        assert [r[2] for r in got] == ["W5", "R2", "W5", "R2"]
        assert conn.execute(sa.text("SELECT count(*) FROM image_geocodes")).scalar_one() == 3
        assert conn.execute(sa.text(
            "SELECT name_en FROM locations WHERE osm_key='R2'")).scalar_one() == "Town EN"
        assert store.count_pending(conn, ds) == (0, 0)
    # writing the same answers again changes nothing
    again = store.write_batch(engine, "test", [(pts[0].image_ids, vec)])
    assert again.images == 0 and again.skipped_done == 2
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM image_addresses")).scalar_one() == 4


def test_cache_serves_second_dataset_and_details(engine: Engine) -> None:
    ds1 = _dataset(engine, [(5.0, 6.0)], "a")
    p = list(store.iter_pending_points(engine, ds1, namespace="ns"))
    assert p[0].cached_status is None
    vec = AddressResult(5.0, 6.0, "ok", (_loc("N1", name="x"), _loc("R7", admin_level=2)))
    store.write_batch(engine, "test", [(p[0].image_ids, vec)], namespace="ns")
    ds2 = _dataset(engine, [(5.0, 6.0)], "b")
    p2 = list(store.iter_pending_points(engine, ds2, namespace="ns"))
    assert p2[0].cached_status == "ok" and p2[0].cached_location_ids is not None
    assert list(store.iter_pending_points(engine, ds2, namespace="other"))[0].cached_status is None
    store.write_batch(engine, "test", [], cached=p2)
    with engine.connect() as conn:
        vecs = conn.execute(sa.text(
            "SELECT i.dataset_id, array_agg(l.osm_key ORDER BY a.position) FROM image_addresses a "
            "JOIN images i ON i.id = a.image_id JOIN locations l ON l.id = a.location_id "
            "GROUP BY 1")).all()
        assert {tuple(v) for _, v in vecs} == {("N1", "R7")} and len(vecs) == 2
        missing = store.locations_missing_details(conn)
    assert sorted(k for _, k in missing) == ["N1", "R7"]
    poly = "POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"
    store.write_location_details(engine, [_loc("R7", geometry_wkt=poly, centroid=(0.5, 0.5))],
                                 "src")
    store.mark_details_missing(engine, ["N1"], "src")
    with engine.connect() as conn:
        assert store.locations_missing_details(conn) == []
        area, admin = conn.execute(sa.text(
            "SELECT ST_Area(geom), admin_level FROM locations WHERE osm_key='R7'")).one()
        assert area == 1.0 and admin == 2
