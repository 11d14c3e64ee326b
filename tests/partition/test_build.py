"""Build-level properties: determinism across insertion orders, atomic replacement,
spherical means, cell geometries containing their images, label views and rows."""

from __future__ import annotations

import math
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.partition_data import (
    Img,
    Loc,
    World,
    clear,
    load_world,
    polygon_world,
    random_world,
    snapshot,
)
from support.partition_reference import spherical_mean

from geotool.partition.build import BuildParams, PartitionError, build_partitioning
from geotool.partition.labels import label_rows
from geotool.progress import RecordingProgress


def test_insertion_order_never_changes_a_build(engine: Engine) -> None:
    world = random_world(random.Random(7), 25, 400)
    seen = []
    for seed in (1, 2):
        with engine.begin() as conn:
            clear(conn)
            load_world(conn, world, seed=seed)
        build_partitioning(engine, BuildParams(name="semp", taus=(3, 8, 20)))
        seen.append(snapshot(engine))
    assert seen[0]["cells"], "the world should produce classes"
    assert seen[0] == seen[1]


def test_rebuild_replaces_atomically_and_records_runs(engine: Engine) -> None:
    world = random_world(random.Random(3), 12, 120)
    with engine.begin() as conn:
        load_world(conn, world)
    build_partitioning(engine, BuildParams(name="semp", taus=(2, 5)))
    first = snapshot(engine)
    build_partitioning(engine, BuildParams(name="semp", taus=(2, 5)))
    assert snapshot(engine) == first
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM partitioning_sets")).scalar() == 1
        runs = conn.execute(sa.text(
            "SELECT status, params->>'name' FROM runs WHERE stage = 'build'")).all()
        assert [tuple(r) for r in runs] == [("done", "semp"), ("done", "semp")]
    # a failing rebuild leaves the old set in place
    with pytest.raises(PartitionError):
        build_partitioning(engine, BuildParams(name="semp", split="test"))
    assert snapshot(engine) == first
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM runs WHERE status = 'failed'")).scalar() == 1

    # Ctrl-C in the middle of a rebuild: the old set stays, the run says interrupted
    class Interrupt(RecordingProgress):
        def phase(self, name: str, total: int | None = None) -> None:
            if name.startswith("partitioning"):
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_partitioning(engine, BuildParams(name="semp", taus=(3, 4)), progress=Interrupt())
    assert snapshot(engine) == first
    with engine.connect() as conn:
        last = conn.execute(sa.text(
            "SELECT status, summary->>'error', finished_at IS NOT NULL FROM runs "
            "ORDER BY id DESC LIMIT 1")).one()
    assert tuple(last) == ("interrupted", "KeyboardInterrupt", True)


def test_spherical_mean_across_the_antimeridian(engine: Engine) -> None:
    pts = [(10.0, 179.0), (12.0, -179.5), (11.0, 178.5), (-5.0, -178.0)]
    world = World({"R1": Loc("R1", 4, 2, "Fiji")},
                  [Img(f"i{k}", "train", lat, lon, ("R1",)) for k, (lat, lon) in
                   enumerate(pts)])
    with engine.begin() as conn:
        load_world(conn, world)
    build_partitioning(engine, BuildParams(name="semp", taus=(1,)))
    with engine.connect() as conn:
        lat, lon, lat_p, lon_p = conn.execute(sa.text(
            "SELECT lat, lon, lat_plain, lon_plain FROM cells")).one()
    rlat, rlon = spherical_mean(pts)
    assert lat == pytest.approx(rlat, abs=1e-9)
    assert math.cos(math.radians(lon - rlon)) == pytest.approx(1.0, abs=1e-12)
    assert abs(lon) > 179.0  # near the antimeridian, not near 0 like the plain mean
    assert lat_p == pytest.approx(sum(p[0] for p in pts) / 4)
    assert lon_p == pytest.approx(sum(p[1] for p in pts) / 4)


def test_cell_geometries_contain_their_images(engine: Engine) -> None:
    with engine.begin() as conn:
        load_world(conn, polygon_world())
    build_partitioning(engine, BuildParams(name="semp", taus=(1, 100)))
    with engine.connect() as conn:
        sources = dict(conn.execute(sa.text(
            "SELECT l.osm_key, c.geom_source FROM cells c JOIN locations l "
            "ON l.id = c.location_id")).all())
        outside = conn.execute(sa.text(
            "SELECT count(*) FROM image_labels il JOIN cells c ON c.id = il.cell_id "
            "JOIN images i ON i.id = il.image_id WHERE NOT ST_Covers(c.geom, i.geom)")).scalar()
        osm_equal = conn.execute(sa.text(
            "SELECT bool_and(ST_Equals(c.geom, l.geom)) FROM cells c JOIN locations l "
            "ON l.id = c.location_id WHERE c.geom_source = 'osm'")).scalar()
    assert sources == {"R2": "osm", "R3": "osm", "N4": "hull"}
    assert outside == 0
    assert osm_equal


def test_areas_only_skips_point_locations(engine: Engine) -> None:
    with engine.begin() as conn:
        load_world(conn, polygon_world())
    build_partitioning(engine, BuildParams(name="areas", taus=(1,), areas_only=True))
    with engine.connect() as conn:
        keys = set(conn.execute(sa.text(
            "SELECT l.osm_key FROM cells c JOIN locations l ON l.id = c.location_id"))
            .scalars())
    assert keys == {"R2", "R3"}


def test_label_view_and_rows(engine: Engine) -> None:
    world = polygon_world()
    world.images.append(Img("lost", "test", 50.0, 50.0, ()))
    world.images.append(Img("far", "test", 50.0, 50.0, ("N99",)))
    world.locations["N99"] = Loc("N99", 30, None, "elsewhere")
    with engine.begin() as conn:
        load_world(conn, world)
    build_partitioning(engine, BuildParams(name="semp_1_100", taus=(1, 100)))
    with engine.connect() as conn:
        view = {r[0]: (r[1], r[2]) for r in conn.execute(sa.text(
            "SELECT external_id, class_0, class_1 FROM labels_semp_1_100"))}
        cells = {r[0]: r[1] for r in conn.execute(sa.text(
            "SELECT l.osm_key, c.class_index FROM cells c JOIN locations l "
            "ON l.id = c.location_id JOIN partitionings p ON p.id = c.partitioning_id "
            "WHERE p.level = 0"))}
    expected = {}
    for im in world.images:
        first = im.address[0] if im.address and im.address[0] in cells else None
        expected[im.external_id] = (None if first is None else cells[first], None)
    assert view == expected
    train = list(label_rows(engine, "semp_1_100", "train"))
    assert sorted(r.external_id for r in train) == sorted(
        im.external_id for im in world.images if im.split == "train")
    assert [r.image_id for r in train] == sorted(r.image_id for r in train)
    assert {r.external_id: r.classes for r in train} == {
        k: v for k, v in expected.items() if k in {r.external_id for r in train}}
    test_rows = {r.external_id: r for r in label_rows(engine, "semp_1_100", "test")}
    assert not test_rows["lost"].labelled and not test_rows["far"].labelled
    assert len(test_rows) == sum(im.split == "test" for im in world.images)
    labelled = list(label_rows(engine, "semp_1_100", "test", labelled_only=True))
    assert all(r.labelled for r in labelled) and len(labelled) == len(test_rows) - 2
    with pytest.raises(PartitionError, match="partitions list"):
        next(label_rows(engine, "nope"))


def _label_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Rows per set name in the label and hierarchy tables."""
    queries = {
        "image_classes": "SELECT s.name, count(*) FROM image_classes x "
                         "JOIN partitioning_sets s ON s.id = x.set_id GROUP BY 1",
        "hierarchy_nodes": "SELECT s.name, count(*) FROM hierarchy_nodes x "
                           "JOIN partitioning_sets s ON s.id = x.set_id GROUP BY 1",
        "hierarchy_edges": "SELECT s.name, count(*) FROM hierarchy_edges x "
                           "JOIN partitioning_sets s ON s.id = x.set_id GROUP BY 1",
        "orphans": "SELECT t, count(*) FROM (SELECT 'labels' AS t, set_id FROM image_classes "
                   "UNION ALL SELECT 'nodes', set_id FROM hierarchy_nodes UNION ALL "
                   "SELECT 'edges', set_id FROM hierarchy_edges) x WHERE NOT EXISTS "
                   "(SELECT 1 FROM partitioning_sets s WHERE s.id = x.set_id) GROUP BY 1",
    }
    with engine.connect() as conn:
        return {k: {str(r[0]): int(r[1]) for r in conn.execute(sa.text(q))}
                for k, q in queries.items()}


def test_labels_and_hierarchy_follow_deleted_sets_and_images(engine: Engine) -> None:
    world = random_world(random.Random(11), 12, 150)
    with engine.begin() as conn:
        load_world(conn, world)
    build_partitioning(engine, BuildParams(name="one", taus=(2, 6)))
    build_partitioning(engine, BuildParams(name="two", taus=(3,)))
    before = _label_counts(engine)
    assert set(before["image_classes"]) == {"one", "two"}
    assert set(before["hierarchy_nodes"]) == {"one", "two"}
    with engine.connect() as conn:
        # the image_labels view agrees with the label view, image by image and level
        view_rows = {(r[0], r[1], r[2]) for r in conn.execute(sa.text(
            "SELECT p.level, il.image_id, c.class_index FROM image_labels il "
            "JOIN partitionings p ON p.id = il.partitioning_id "
            "JOIN partitioning_sets s ON s.id = p.set_id AND s.name = 'one' "
            "JOIN cells c ON c.id = il.cell_id"))}
        label_view = set()
        for image_id, c0, c1 in conn.execute(sa.text(
                "SELECT image_id, class_0, class_1 FROM labels_one")):
            label_view |= {(lv, image_id, c) for lv, c in ((0, c0), (1, c1)) if c is not None}
        victims = conn.execute(sa.text(
            "SELECT image_id FROM image_classes ic JOIN partitioning_sets s "
            "ON s.id = ic.set_id AND s.name = 'one' ORDER BY image_id LIMIT 5")).scalars().all()
    assert view_rows == label_view and view_rows
    with engine.begin() as conn:  # deleting images deletes their labels in every set
        conn.execute(sa.text("DELETE FROM images WHERE id = ANY(:ids)"), {"ids": victims})
    after = _label_counts(engine)
    with engine.connect() as conn:
        left = conn.execute(sa.text(
            "SELECT count(*) FROM image_classes WHERE image_id = ANY(:ids)"),
            {"ids": victims}).scalar()
    assert left == 0
    assert after["image_classes"]["one"] == before["image_classes"]["one"] - len(victims)
    with engine.begin() as conn:  # deleting a set deletes its labels and hierarchy only
        conn.execute(sa.text("DROP VIEW labels_one"))
        conn.execute(sa.text("DELETE FROM partitioning_sets WHERE name = 'one'"))
    after = _label_counts(engine)
    assert after["image_classes"] == {"two": before["image_classes"]["two"] - len(victims)}
    assert after["hierarchy_nodes"] == {"two": before["hierarchy_nodes"]["two"]}
    assert after["hierarchy_edges"] == {"two": before["hierarchy_edges"]["two"]}
    assert after["orphans"] == {}
    with engine.begin() as conn:  # and so does deleting the dataset
        conn.execute(sa.text("DROP VIEW labels_two"))
        conn.execute(sa.text("DELETE FROM datasets"))
        assert conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM image_classes) + (SELECT count(*) FROM "
            "hierarchy_nodes) + (SELECT count(*) FROM hierarchy_edges)")).scalar() == 0


def test_truncating_sets_truncates_labels_and_hierarchy(engine: Engine) -> None:
    world = random_world(random.Random(12), 10, 80)
    with engine.begin() as conn:
        load_world(conn, world)
    build_partitioning(engine, BuildParams(name="semp", taus=(2,)))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW labels_semp"))
        clear(conn)  # TRUNCATE datasets, ..., partitioning_sets CASCADE
    assert _label_counts(engine)["orphans"] == {}


@pytest.mark.parametrize(("scheme", "taus", "hint"), [
    ("semantic", (2, 5), " (or build an S2 set with --scheme s2)"), ("countries", (2,), "")])
def test_every_hierarchy_scheme_names_the_missing_geocoding(
        engine: Engine, scheme: str, taus: tuple[int, ...], hint: str) -> None:
    """The semantic and the countries scheme share one hierarchy step, and its error."""
    with engine.begin() as conn:
        load_world(conn, random_world(random.Random(3), 12, 120))
        conn.execute(sa.text("DELETE FROM image_addresses"))  # photos not geocoded yet
    want = ("the train images of this dataset have no address vectors yet: run `geotool "
            "geocode` first" + hint)
    with pytest.raises(PartitionError) as caught:
        build_partitioning(engine, BuildParams(name="x", taus=taus, scheme=scheme))
    assert str(caught.value) == want


def test_list_flags_are_parsed_by_build_params() -> None:
    """``--tau 50 75 100`` / ``--tau 50,75 100`` and the scheme's defaults come from
    BuildParams, so a Python caller gets the CLI's parsing and errors."""
    assert BuildParams.parse_numbers(["50,75", "100"], "--tau") == (50, 75, 100)
    assert BuildParams.from_flags("a", taus=["50"], extra=["75", "100"]).taus == (50, 75, 100)
    assert BuildParams.from_flags("a").taus == (50, 75, 100)
    assert BuildParams.from_flags("a", "countries").taus == (1000,)
    s2 = BuildParams.from_flags("a", "s2", img_min=5, areas_only=True)
    assert (s2.img_maxes, s2.img_min, s2.areas_only) == ((5000, 2000, 1000), 5, False)
    for kwargs, named in [({"taus": ["x"]}, "--tau takes whole numbers"),
                          ({"scheme": "s2", "taus": ["5"]}, "--tau does not apply"),
                          ({"img_maxes": ["100"]}, "--img-max does not apply"),
                          ({"extra": ["7"]}, "unexpected arguments: 7"),
                          ({"scheme": "hexagons"}, "--scheme must be")]:
        with pytest.raises(PartitionError, match=named):
            BuildParams.from_flags("a", **kwargs)  # type: ignore[arg-type]
