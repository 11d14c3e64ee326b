"""Test helper: compare bulk answers with Nominatim's and explain every difference.

A difference between ``--geocoder bulk`` and the in-process Nominatim is acceptable only
where Nominatim's own answer is the database's row order: the two finest places are at
exactly equal distance from the point (docs/geocoding.md, "Known differences"). This
helper measures that distance in the Nominatim database itself, so a test can pin the
number of such ties and require every other answer to be identical;
``assert_same_attributes`` checks that both give each location the same attributes.
"""

from __future__ import annotations

import sqlalchemy as sa

from geotool.geocode.nominatim.bulk import nominatim_engine
from geotool.geocode.types import AddressResult

# How many street/address/POI candidates of Nominatim's first step (reverse.py,
# _find_closest_street_or_pois at zoom 18) lie at exactly the smallest distance, and how
# many addressable areas of the highest rank contain the point.
_TIES = sa.text("""
WITH q AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
near AS (
    SELECT ST_Distance(t.geometry, q.g) AS d FROM placex t, q
    WHERE ST_DWithin(t.geometry, q.g, 0.007) AND t.indexed_status = 0
      AND t.linked_place_id IS NULL
      AND (ST_GeometryType(t.geometry) NOT IN ('ST_Polygon', 'ST_MultiPolygon')
           OR ST_Distance(t.centroid, q.g) < 0.007)
      AND ((t.rank_address BETWEEN 26 AND 29)
           OR (t.rank_address = 30 AND (t.address IS NULL OR NOT t.address ? '_inherited')
               AND (t.housenumber IS NOT NULL OR t.name ? 'addr:housename'))
           OR (t.rank_search = 30 AND t.class NOT IN ('place', 'building')
               AND ST_GeometryType(t.geometry) NOT IN ('ST_LineString',
                                                       'ST_MultiLineString')))
),
areas AS (
    SELECT t.rank_search FROM placex t, q
    WHERE ST_Contains(t.geometry, q.g)
      AND ST_GeometryType(t.geometry) IN ('ST_Polygon', 'ST_MultiPolygon')
      AND t.rank_address BETWEEN 4 AND 25 AND t.rank_address NOT IN (5, 11)
      AND t.rank_search BETWEEN 5 AND 30 AND t.name IS NOT NULL
      AND t.indexed_status = 0 AND t.linked_place_id IS NULL
)
SELECT (SELECT count(*) FROM near WHERE d = (SELECT min(d) FROM near)),
       (SELECT count(*) FROM areas WHERE rank_search = (SELECT max(rank_search) FROM areas))
""")


# The keys of the street/address/POI candidates at exactly the smallest distance (the same
# candidate filter as _TIES).
_CLOSEST_KEYS = sa.text("""
WITH q AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
near AS (
    SELECT t.osm_type || t.osm_id AS key, ST_Distance(t.geometry, q.g) AS d FROM placex t, q
    WHERE ST_DWithin(t.geometry, q.g, 0.007) AND t.indexed_status = 0
      AND t.linked_place_id IS NULL
      AND (ST_GeometryType(t.geometry) NOT IN ('ST_Polygon', 'ST_MultiPolygon')
           OR ST_Distance(t.centroid, q.g) < 0.007)
      AND ((t.rank_address BETWEEN 26 AND 29)
           OR (t.rank_address = 30 AND (t.address IS NULL OR NOT t.address ? '_inherited')
               AND (t.housenumber IS NOT NULL OR t.name ? 'addr:housename'))
           OR (t.rank_search = 30 AND t.class NOT IN ('place', 'building')
               AND ST_GeometryType(t.geometry) NOT IN ('ST_LineString',
                                                       'ST_MultiLineString')))
)
SELECT key FROM near WHERE d = (SELECT min(d) FROM near) ORDER BY key
""")


def closest_candidates(dsn: str, point: tuple[float, float]) -> list[str]:
    """OSM keys of the street/address/POI candidates at exactly the smallest distance from
    ``point`` (lat, lon): more than one is a tie that Nominatim leaves to row order."""
    engine = nominatim_engine(dsn)
    try:
        with engine.connect() as conn:
            return [str(k) for k in conn.execute(
                _CLOSEST_KEYS, {"lat": point[0], "lon": point[1]}).scalars()]
    finally:
        engine.dispose()


def unexplained_differences(dsn: str, points: list[tuple[float, float]],
                            got: list[AddressResult], want: list[AddressResult]
                            ) -> tuple[int, list[object]]:
    """(number of differing points where Nominatim's choice is the database's row order:
    two or more closest street/address/POI candidates at exactly the same distance, or
    two or more containing areas of the highest rank; the other differing points with
    both answers)."""
    ties, other = 0, []
    engine = nominatim_engine(dsn)
    with engine.connect() as conn:
        for point, g, w in zip(points, got, want, strict=True):
            gk, wk = [x.osm_key for x in g.locations], [x.osm_key for x in w.locations]
            if (g.status, gk) == (w.status, wk):
                continue
            closest, areas = conn.execute(_TIES, {"lat": point[0], "lon": point[1]}).one()
            if closest > 1 or areas > 1:
                ties += 1
            else:
                other.append((point, gk, wk))
    engine.dispose()
    return ties, other


ATTRIBUTES = ("osm_type", "osm_id", "name", "category", "type", "rank_address",
              "admin_level", "country_code", "place")


def assert_same_attributes(got: list[AddressResult], want: list[AddressResult],
                           dsn: str | None = None) -> set[str]:
    """Both geocoders give every location the attributes of its own placex row (and the
    country row only its key, code, rank 4 and admin level 2): the stored attributes do
    not depend on which geocoder wrote last. With ``dsn``, a location may differ only when
    it is one OSM object with several placex rows (several main tags at one spot), where
    Nominatim's pick is the database's row order; returns those keys."""
    def table(results: list[AddressResult]) -> dict[str, set[tuple[object, ...]]]:
        out: dict[str, set[tuple[object, ...]]] = {}
        for r in results:
            for loc in r.locations:
                out.setdefault(loc.osm_key, set()).add(
                    tuple(getattr(loc, a) for a in ATTRIBUTES))
        return out

    mine, theirs = table(got), table(want)
    shared = set(mine) & set(theirs)
    assert len(shared) >= len(theirs) * 0.9
    assert all(len(v) == 1 for v in mine.values())  # one record per location
    differing = {k for k in shared if mine[k] != theirs[k]}
    if not differing:
        return differing
    assert dsn is not None, {k: (mine[k], theirs[k]) for k in differing}
    engine = nominatim_engine(dsn)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT osm_type || osm_id, count(*) FROM placex "
            "WHERE osm_type || osm_id = ANY(:keys) GROUP BY 1"), {"keys": sorted(differing)})
        several = {str(k) for k, n in rows if n > 1}
    engine.dispose()
    assert differing <= several, {k: (mine[k], theirs[k]) for k in differing - several}
    return differing
