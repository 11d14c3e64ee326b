"""geotool ingest: every format, every kind of bad row, all-or-nothing, idempotence,
swapped coordinates and the CLI — against a real PostGIS (the ``db_url`` fixture)."""

from __future__ import annotations

import bz2
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from geotool.cli.app import app
from geotool.db.engine import get_engine
from geotool.ingest.errors import IngestError, InvalidRowsError, SwappedColumnsError
from geotool.ingest.load import IngestParams, ingest_file
from geotool.progress import RecordingProgress

TABLES = ("datasets", "images", "rejected_rows", "runs", "locations", "image_addresses",
          "image_geocodes")


def rows(url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query), params)]
    finally:
        eng.dispose()


def counts(url: str) -> dict[str, int]:
    return {t: rows(url, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def assert_nothing_written(url: str, failed_runs: int) -> None:
    """No data at all, not even the dataset; only the ``failed`` runs of the attempts."""
    assert {t: n for t, n in counts(url).items() if t != "runs"} == {
        t: 0 for t in TABLES if t != "runs"}
    assert rows(url, "SELECT stage, status, dataset_id FROM runs") == [
        ("ingest", "failed", None)] * failed_runs


def images(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT external_id, split, lat, lon, path, mask_path, author, "
                     "ST_X(geom), ST_Y(geom) FROM images ORDER BY external_id")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- formats
def test_plain_csv_with_paths_and_split_column(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "all.csv",
              "id,lat,lon,path,mask_path,split\n"
              "p1,48.8566,2.3522,images/p1.jpg,masks/p1.png,train\n"
              "p2,-33.8688,151.2093,/abs/p2.jpg,,val\n"
              "\n"
              "p3,40.7128,-74.006,images/p3.jpg,masks/p3.png,TEST\n")
    s = ingest_file(get_engine(db_url), IngestParams(f, "demo"))
    assert (s.rows_read, s.loaded, s.already_present, s.rejected) == (3, 3, 0, 0)
    assert s.format == "csv"
    got = images(db_url)
    expected = [
        ("p1", "train", 48.8566, 2.3522, str(tmp_path / "images/p1.jpg"),
         str(tmp_path / "masks/p1.png"), None, 2.3522, 48.8566),
        ("p2", "val", -33.8688, 151.2093, "/abs/p2.jpg", None, None, 151.2093, -33.8688),
        ("p3", "test", 40.7128, -74.006, str(tmp_path / "images/p3.jpg"),
         str(tmp_path / "masks/p3.png"), None, -74.006, 40.7128),
    ]
    assert got == expected
    run = rows(db_url, "SELECT stage, status, params->>'format', (summary->>'loaded')::int "
                       "FROM runs")
    assert run == [("ingest", "done", "csv", 3)]


def test_split_option_overrides_column_and_is_needed_without_one(
        tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "a.csv", "id,lat,lon,split\na,1,2,train\n")
    ingest_file(get_engine(db_url), IngestParams(f, "d", split="val"))
    assert rows(db_url, "SELECT split FROM images") == [("val",)]
    g = write(tmp_path / "b.csv", "id,lat,lon\nb,1,2\n")
    with pytest.raises(IngestError, match="no split column; give --split"):
        ingest_file(get_engine(db_url), IngestParams(g, "d"))


def test_geoestimation_meta_csv(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "im2gps3k_places365.csv",
              "IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,S365_Label,Prob_indoor\n"
              "1234_abc.jpg,12345@N00,51.5,-0.12,1,5,200,0.1\n"
              "99_x.jpg,7@N01,35.68,139.69,0,4,12,0.8\n")
    s = ingest_file(get_engine(db_url), IngestParams(f, "im2gps3k", split="test"))
    assert s.format == "geoestimation"
    assert images(db_url) == [
        ("1234_abc.jpg", "test", 51.5, -0.12, None, None, "12345@N00", -0.12, 51.5),
        ("99_x.jpg", "test", 35.68, 139.69, None, None, "7@N01", 139.69, 35.68),
    ]


def test_semp_test_csv_points_into_img_folder(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "yfcc_test.csv",
              "img_id,latitude,longitude\nab/cd.jpg,10.5,-20.25\n")
    s = ingest_file(get_engine(db_url), IngestParams(f, "yfcc4k", split="test"))
    assert s.format == "semp"
    assert rows(db_url, "SELECT external_id, path, lat, lon FROM images") == [
        ("ab/cd.jpg", str(tmp_path / "img" / "ab" / "cd.jpg"), 10.5, -20.25)]


def _emp16_file(tmp_path: Path) -> Path:
    records = [
        {"id": "a.jpg", "latitude": 52.52, "longitude": 13.405,
         "h_raw": ["W100", "relation/62422", "R51477"], "h": ["x"]},
        {"id": "b.jpg", "latitude": 48.137, "longitude": 11.575,
         "h_raw": ["N7", "r2145268", "R51477"]},
        {"id": "c.jpg", "latitude": 0.0, "longitude": -30.0, "h_raw": []},
    ]
    f = tmp_path / "emp16.jsonl.bz2"
    f.write_bytes(bz2.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    return f


def test_emp16_vectors_are_cleaned_like_geocoded_ones(tmp_path: Path, db_url: str) -> None:
    """Postcodes (known as such from an earlier geocoding) and repeated locations leave
    EMP-16 vectors the way ``store.clean_vector`` leaves geocoded ones."""
    eng = sa.create_engine(db_url)
    with eng.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO locations (osm_key, osm_type, osm_id, category, type, rank_address) "
            "VALUES ('R5', 'R', 5, 'boundary', 'postal_code', 5), "
            "('N6', 'N', 6, 'place', 'postcode', 5)"))
    eng.dispose()
    records = [
        {"id": "a.jpg", "latitude": 52.5, "longitude": 13.4,
         "h_raw": ["W100", "R5", "W100", "R62422", "R51477", "R62422"]},
        {"id": "b.jpg", "latitude": 48.1, "longitude": 11.5, "h_raw": ["N6"]},
    ]
    f = tmp_path / "emp16.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    ingest_file(get_engine(db_url), IngestParams(f, "mp16", split="train"))
    vectors = rows(db_url, "SELECT i.external_id, array_agg(l.osm_key ORDER BY a.position), "
                           "array_agg(a.position ORDER BY a.position) "
                           "FROM image_addresses a JOIN images i ON i.id = a.image_id "
                           "JOIN locations l ON l.id = a.location_id GROUP BY 1 ORDER BY 1")
    assert vectors == [("a.jpg", ["W100", "R62422", "R51477"], [0, 1, 2])]
    assert rows(db_url, "SELECT i.external_id, g.status, g.detail FROM image_geocodes g "
                        "JOIN images i ON i.id = g.image_id ORDER BY 1") == [
        ("a.jpg", "ok", None), ("b.jpg", "unplaceable", "only postcodes in h_raw in EMP-16")]


def test_emp16_bz2_writes_address_vectors(tmp_path: Path, db_url: str) -> None:
    f = _emp16_file(tmp_path)
    s = ingest_file(get_engine(db_url), IngestParams(f, "mp16", split="train"))
    assert (s.format, s.loaded, s.geocoded, s.locations_added) == ("emp16", 3, 3, 5)
    locs = rows(db_url, "SELECT osm_key, osm_type, osm_id, name FROM locations ORDER BY osm_key")
    assert locs == [("N7", "N", 7, None), ("R2145268", "R", 2145268, None),
                    ("R51477", "R", 51477, None), ("R62422", "R", 62422, None),
                    ("W100", "W", 100, None)]
    vectors = rows(db_url, "SELECT i.external_id, array_agg(l.osm_key ORDER BY a.position) "
                           "FROM image_addresses a JOIN images i ON i.id = a.image_id "
                           "JOIN locations l ON l.id = a.location_id GROUP BY 1 ORDER BY 1")
    assert vectors == [("a.jpg", ["W100", "R62422", "R51477"]),
                       ("b.jpg", ["N7", "R2145268", "R51477"])]
    positions = rows(db_url, "SELECT DISTINCT position FROM image_addresses ORDER BY 1")
    assert positions == [(0,), (1,), (2,)]
    geocodes = rows(db_url, "SELECT i.external_id, g.status, g.source FROM image_geocodes g "
                            "JOIN images i ON i.id = g.image_id ORDER BY 1")
    assert geocodes == [("a.jpg", "ok", "emp16"), ("b.jpg", "ok", "emp16"),
                        ("c.jpg", "unplaceable", "emp16")]
    before = counts(db_url)
    snapshot = rows(db_url, "SELECT image_id, position, location_id FROM image_addresses "
                            "ORDER BY 1, 2")
    again = ingest_file(get_engine(db_url), IngestParams(f, "mp16", split="train"))
    assert (again.loaded, again.already_present, again.geocoded, again.locations_added) == (
        0, 3, 0, 0)
    after = counts(db_url)
    assert after == {**before, "runs": before["runs"] + 1}
    assert rows(db_url, "SELECT image_id, position, location_id FROM image_addresses "
                        "ORDER BY 1, 2") == snapshot


def test_emp16_bad_address_entry_is_rejected(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "e.jsonl",
              '{"id": "a", "latitude": 1, "longitude": 2, "h_raw": ["R1", "Q5"]}\n'
              'not json\n'
              '{"id": "c", "latitude": 1, "longitude": 2, "h_raw": "R1"}\n')
    with pytest.raises(InvalidRowsError) as info:
        ingest_file(get_engine(db_url), IngestParams(f, "m", split="train"))
    got = [(p.line_no, p.kind) for p in info.value.problems]
    assert got == [(1, "bad_address"), (2, "unreadable"), (3, "bad_address")]
    assert "'Q5'" in info.value.problems[0].reason


# --------------------------------------------------------------------------- bad rows
BAD_ROWS = [
    ("x1,95.5,10", "latitude_range", "latitude 95.5 is outside ±90"),
    ("x2,-90.01,10", "latitude_range", "outside ±90"),
    ("x3,10,180.5", "longitude_range", "longitude 180.5 is outside ±180"),
    ("x4,nan,10", "not_finite", "latitude nan is not a finite number"),
    ("x5,10,-inf", "not_finite", "longitude -inf is not a finite number"),
    ("x6,abc,10", "not_numeric", "latitude 'abc' is not a number"),
    ("x7,,10", "missing_value", "latitude is missing"),
    (",10,10", "missing_id", "id is missing"),
    ("  ,10,10", "missing_id", "id is missing"),
    ("x8,10", "missing_value", "longitude is missing"),
]


def test_each_bad_row_is_reported_with_line_and_reason(tmp_path: Path, db_url: str) -> None:
    body = "".join(f"{line}\nok{i},{i},{i}\n" for i, (line, _, _) in enumerate(BAD_ROWS))
    f = write(tmp_path / "bad.csv", "id,lat,lon\nfirst,1,1\n" + body)
    with pytest.raises(InvalidRowsError) as info:
        ingest_file(get_engine(db_url), IngestParams(f, "d", split="train"))
    err = info.value
    # header = line 1, "first" = line 2, then each bad row followed by a good one
    expected_lines = [3 + 2 * i for i in range(len(BAD_ROWS))]
    assert [p.line_no for p in err.problems] == expected_lines
    assert [p.kind for p in err.problems] == [kind for _, kind, _ in BAD_ROWS]
    for problem, (_, _, reason) in zip(err.problems, BAD_ROWS, strict=True):
        assert reason in problem.reason
    kinds = [kind for _, kind, _ in BAD_ROWS]
    assert err.total == len(BAD_ROWS)
    assert err.counts == {k: kinds.count(k) for k in set(kinds)}
    assert "line 3 (id 'x1'): latitude 95.5 is outside ±90" in str(err)
    assert "--skip-invalid" in str(err)
    assert_nothing_written(db_url, failed_runs=1)


def test_duplicates_bad_split_and_multiline_records(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "dups.csv",
              'id,lat,lon,path,split\n'
              'a,1,1,"two\nlines.jpg",train\n'
              'b,2,2,,train\n'
              'a,1,1,,train\n'
              'c,3,3,,holdout\n'
              'b,9,9,,val\n')
    with pytest.raises(InvalidRowsError) as info:
        ingest_file(get_engine(db_url), IngestParams(f, "d"))
    got = [(p.line_no, p.external_id, p.kind) for p in info.value.problems]
    assert got == [(5, "a", "duplicate_id"), (6, "c", "bad_split"), (7, "b", "duplicate_id")]
    assert "first on line 2" in info.value.problems[0].reason
    assert "first on line 4" in info.value.problems[2].reason


def test_listing_is_capped_but_total_is_counted(tmp_path: Path, db_url: str) -> None:
    body = "".join(f"r{i},{100 + i},0\n" for i in range(30))
    f = write(tmp_path / "many.csv", "id,lat,lon\n" + body + "fine,0,100\n")
    with pytest.raises(InvalidRowsError) as info:
        ingest_file(get_engine(db_url), IngestParams(f, "d", split="train"))
    err = info.value
    assert err.total == 30 and len(err.problems) == 20
    assert [p.line_no for p in err.problems] == list(range(2, 22))
    assert "and 10 more" in str(err)


def test_skip_invalid_records_rejected_rows_idempotently(tmp_path: Path, db_url: str) -> None:
    text = ("id,lat,lon\n"
            "a,10,20\n"
            "b,91,20\n"
            "c,10,20\n"
            "a,10,20\n"
            ",1,1\n")
    f = write(tmp_path / "mixed.csv", text)
    s = ingest_file(get_engine(db_url), IngestParams(f, "d", split="train", skip_invalid=True))
    assert (s.rows_read, s.loaded, s.rejected) == (5, 2, 3)
    assert s.reasons == {"duplicate_id": 1, "latitude_range": 1, "missing_id": 1}
    query = ("SELECT d.name, r.source, r.line_no, r.external_id, r.raw, r.reason, r.id "
             "FROM rejected_rows r JOIN datasets d ON d.id = r.dataset_id ORDER BY line_no")
    first = rows(db_url, query)
    lines = text.splitlines()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in first] == [
        ("d", str(f.resolve()), 3, "b", lines[2]),
        ("d", str(f.resolve()), 5, "a", lines[4]),
        ("d", str(f.resolve()), 6, None, lines[5]),
    ]
    imgs = images(db_url)
    again = ingest_file(get_engine(db_url), IngestParams(f, "d", split="train", skip_invalid=True))
    assert (again.loaded, again.already_present, again.rejected) == (0, 2, 3)
    assert rows(db_url, query) == first
    assert images(db_url) == imgs
    # the file is fixed: its stale rejected rows go away
    write(f, "id,lat,lon\na,10,20\nb,89,20\nc,10,20\n")
    fixed = ingest_file(get_engine(db_url), IngestParams(f, "d", split="train", skip_invalid=True))
    assert (fixed.loaded, fixed.already_present, fixed.rejected) == (1, 2, 0)
    assert rows(db_url, query) == []


def test_reingest_same_file_gives_same_rows(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "t.csv", "id,lat,lon,path\n" +
              "".join(f"i{k},{k % 90}.25,{k % 180}.5,img/{k}.jpg\n" for k in range(200)))
    ingest_file(get_engine(db_url), IngestParams(f, "d", split="train"))
    first = rows(db_url, "SELECT id, external_id, lat, lon, path FROM images ORDER BY id")
    assert [r[1] for r in first] == [f"i{k}" for k in range(200)]  # ids follow file order
    s = ingest_file(get_engine(db_url), IngestParams(f, "d", split="train"))
    assert (s.loaded, s.already_present, s.updated) == (0, 200, 0)
    assert rows(db_url, "SELECT id, external_id, lat, lon, path FROM images ORDER BY id") == first


def test_existing_id_with_other_coordinate_is_a_conflict(tmp_path: Path, db_url: str) -> None:
    ingest_file(get_engine(db_url),
                IngestParams(write(tmp_path / "one.csv", "id,lat,lon,path\na,1,2,x.jpg\nb,3,4,\n"),
                             "d", split="train"))
    g = write(tmp_path / "two.csv", "id,lat,lon,path\na,1,2,y.jpg\nb,3,5,\nc,6,7,\n")
    with pytest.raises(InvalidRowsError) as info:
        ingest_file(get_engine(db_url), IngestParams(g, "d", split="train"))
    assert [(p.line_no, p.kind) for p in info.value.problems] == [(3, "conflict")]
    assert "already in the dataset" in info.value.problems[0].reason
    s = ingest_file(get_engine(db_url), IngestParams(g, "d", split="train", skip_invalid=True))
    assert (s.loaded, s.already_present, s.updated, s.rejected) == (1, 1, 1, 1)
    assert rows(db_url, "SELECT external_id, lat, lon, path FROM images ORDER BY 1") == [
        ("a", 1.0, 2.0, str(tmp_path / "y.jpg")), ("b", 3.0, 4.0, None), ("c", 6.0, 7.0, None)]
    # the same id in another dataset is independent
    other = ingest_file(get_engine(db_url), IngestParams(g, "other", split="train"))
    assert other.loaded == 3


# --------------------------------------------------------------------------- swapped columns
SWAPPED = ("IMG_ID,AUTHOR,LAT,LON\n"
           "a.jpg,u,-118.24,34.05\n"   # Los Angeles, columns exchanged
           "b.jpg,u,139.69,35.68\n"    # Tokyo
           "c.jpg,u,2.35,48.86\n")     # Paris


def test_swapped_latlon_is_detected_and_explained(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "im2gps3k_places365.csv", SWAPPED)
    with pytest.raises(InvalidRowsError) as info:
        ingest_file(get_engine(db_url), IngestParams(f, "im2gps3k", split="test"))
    assert info.value.total == 2 and info.value.hint is not None
    assert "--swap-latlon" in str(info.value) and "2 of 3" in str(info.value)
    with pytest.raises(SwappedColumnsError, match="--swap-latlon"):
        ingest_file(get_engine(db_url),
                    IngestParams(f, "im2gps3k", split="test", skip_invalid=True))
    assert_nothing_written(db_url, failed_runs=2)


def test_swap_latlon_loads_the_right_coordinates(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "im2gps3k_places365.csv", SWAPPED)
    s = ingest_file(get_engine(db_url), IngestParams(f, "im2gps3k", split="test", swap_latlon=True))
    assert s.loaded == 3 and s.swapped_latlon
    assert rows(db_url, "SELECT external_id, lat, lon FROM images ORDER BY 1") == [
        ("a.jpg", 34.05, -118.24), ("b.jpg", 35.68, 139.69), ("c.jpg", 48.86, 2.35)]


def test_unknown_format_and_missing_columns(tmp_path: Path, db_url: str) -> None:
    with pytest.raises(IngestError, match="cannot tell the format"):
        ingest_file(get_engine(db_url),
                    IngestParams(write(tmp_path / "x.csv", "name,x,y\n"), "d", split="train"))
    with pytest.raises(IngestError, match="lacks column"):
        ingest_file(get_engine(db_url),
                    IngestParams(write(tmp_path / "y.csv", "id,lat\n"), "d", split="train",
                                 fmt="csv"))
    with pytest.raises(IngestError, match="cannot open"):
        ingest_file(get_engine(db_url),
                    IngestParams(tmp_path / "missing.csv", "d", split="train", fmt="csv"))


# --------------------------------------------------------------------------- CLI
def test_cli_ingest_prints_summary(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "c.csv", "id,lat,lon\na,1,2\nb,3,4\nc,95,0\n")
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", str(f), "--dataset", "demo", "--split", "val",
                              "--skip-invalid", "--database-url", db_url])
    assert res.exit_code == 0, res.output
    assert "loaded (new)" in res.output and "latitude_range" in res.output
    assert rows(db_url, "SELECT count(*) FROM images WHERE split = 'val'") == [(2,)]


def test_cli_ingest_fails_clearly_on_invalid_rows(tmp_path: Path, db_url: str) -> None:
    f = write(tmp_path / "c.csv", "id,lat,lon\na,1,2\nb,3,400\n")
    res = CliRunner().invoke(app, ["ingest", str(f), "--dataset", "demo", "--split", "val",
                                   "--database-url", db_url])
    assert res.exit_code == 1
    assert "line 3" in res.output and "longitude 400 is outside ±180" in res.output
    assert "--skip-invalid" in res.output
    assert counts(db_url)["images"] == 0


def test_cli_help_has_example() -> None:
    res = CliRunner().invoke(app, ["ingest", "--help"])
    assert res.exit_code == 0 and "Example: geotool ingest" in res.output


def test_emp16_location_table_fills_attributes(tmp_path: Path, db_url: str) -> None:
    import pyarrow as pa  # hard dependencies of geotool: imported, never skipped
    import pyarrow.feather as feather
    import shapely
    square = shapely.Polygon([(13, 52), (14, 52), (14, 53), (13, 53)])
    table = pa.table({
        "id": ["R62422", "R51477", "W100"],
        "osm_type": ["R", "R", "W"],
        "osm_id": [62422, 51477, 100],
        "geometry": [shapely.to_wkb(square), None, shapely.to_wkb(shapely.Point(13.4, 52.5))],
        "latitude_center": [52.5, 51.0, None],
        "longitude_center": [13.4, 10.0, None],
        "category": ["boundary", "boundary", "tourism"],
        "type": ["administrative", "administrative", "attraction"],
        "admin_level": [4, 2, None],
        "rank_address": [8, 4, 30],
        "isarea": [True, True, False],
        "name_en": ["Berlin", "Germany", None],
        "localname": ["Berlin", "Deutschland", "Museum"],
        "country_code": ["de", "de", "de"],
        "importance": [0.8, 0.9, None],
    })
    loc_file = tmp_path / "locations.feather"
    feather.write_feather(table, loc_file)
    s = ingest_file(get_engine(db_url),
                    IngestParams(_emp16_file(tmp_path), "mp16", split="train", locations=loc_file))
    assert s.locations_described == 3
    got = rows(db_url, "SELECT osm_key, name, name_en, admin_level, is_area, country_code, "
                       "ST_Equals(geom, ST_GeomFromText(:square, 4326)), ST_AsText(geom), "
                       "ST_X(centroid), ST_Y(centroid), details_source "
                       "FROM locations WHERE name IS NOT NULL ORDER BY osm_key",
               square=square.wkt)
    assert got == [
        ("R51477", "Deutschland", "Germany", 2, True, "de", None, None, 10.0, 51.0,
         "emp16-locations"),
        ("R62422", "Berlin", "Berlin", 4, True, "de", True, got[1][7], 13.4, 52.5,
         "emp16-locations"),
        ("W100", "Museum", None, None, False, "de", False, "POINT(13.4 52.5)", 13.4, 52.5,
         "emp16-locations"),
    ]
    # locations described by a geocoder are not overwritten
    eng = sa.create_engine(db_url)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE locations SET name = 'Berlin (geocoded)', "
                             "details_source = 'nominatim' WHERE osm_key = 'R62422'"))
    eng.dispose()
    again = ingest_file(get_engine(db_url),
                        IngestParams(_emp16_file(tmp_path), "mp16", split="train",
                                     locations=loc_file))
    assert again.loaded == 0
    assert rows(db_url, "SELECT name FROM locations WHERE osm_key = 'R62422'") == [
        ("Berlin (geocoded)",)]


def test_emp16_keeps_vectors_from_another_geocoder(tmp_path: Path, db_url: str) -> None:
    csv_file = write(tmp_path / "mp16.csv", "id,lat,lon\na.jpg,52.52,13.405\n")
    ingest_file(get_engine(db_url), IngestParams(csv_file, "mp16", split="train"))
    eng = sa.create_engine(db_url)
    with eng.begin() as conn:
        conn.execute(sa.text("INSERT INTO image_geocodes (image_id, status, source) "
                             "SELECT id, 'failed', 'nominatim' FROM images"))
    eng.dispose()
    s = ingest_file(get_engine(db_url), IngestParams(_emp16_file(tmp_path), "mp16", split="train"))
    assert (s.loaded, s.already_present, s.geocoded) == (2, 1, 2)
    assert rows(db_url, "SELECT i.external_id, g.status, g.source FROM image_geocodes g "
                        "JOIN images i ON i.id = g.image_id ORDER BY 1") == [
        ("a.jpg", "failed", "nominatim"), ("b.jpg", "ok", "emp16"),
        ("c.jpg", "unplaceable", "emp16")]
    assert rows(db_url, "SELECT count(*) FROM image_addresses a JOIN images i "
                        "ON i.id = a.image_id WHERE i.external_id = 'a.jpg'") == [(0,)]


def test_gzip_csv_and_progress_reports(tmp_path: Path, db_url: str) -> None:
    import gzip

    n = 20_500
    f = tmp_path / "big.csv.gz"
    with gzip.open(f, "wt", encoding="utf-8") as fh:
        fh.write("id,lat,lon\n")
        for i in range(n):
            fh.write(f"g{i},{(i % 1800) / 10 - 90},{(i % 3600) / 10 - 180}\n")
    calls: list[tuple[int, int]] = []  # (rows advanced so far, bytes read) per advance

    class Calls(RecordingProgress):
        def advance(self, n: int = 1) -> None:
            super().advance(n)
            calls.append((self.done["reading"], int(self.fields["bytes"])))

    progress = Calls()
    s = ingest_file(get_engine(db_url), IngestParams(f, "d", split="train"), progress=progress)
    assert s.loaded == n
    assert [c[0] for c in calls] == [10_000, 20_000, n]
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert calls[-1][1] == f.stat().st_size
    assert [name for name, _ in progress.phases] == ["reading", "checking", "loading"]
    lats = [(i % 1800) / 10 - 90 for i in range(n)]
    lons = [(i % 3600) / 10 - 180 for i in range(n)]
    assert rows(db_url, "SELECT min(lat), max(lat), min(lon), max(lon) FROM images") == [
        (min(lats), max(lats), min(lons), max(lons))]
