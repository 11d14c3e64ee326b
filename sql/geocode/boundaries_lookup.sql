-- Point-in-polygon address vectors for the points in temp table boundary_points
-- (idx, lat, lon), filled by geotool/geocode/boundaries.py: ONE join against the
-- ST_Subdivide'd boundary pieces (GiST index), aggregated per point finest first
-- (highest admin level, then smallest area, then id). A point on the seam between two
-- pieces of one boundary meets both; the caller drops the adjacent repeat.

ANALYZE boundary_points;

SELECT p.idx,
       array_agg(bp.location_id ORDER BY bp.admin_level DESC, bp.area, bp.location_id)
FROM boundary_points p
JOIN boundary_parts bp
  ON ST_Intersects(bp.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
GROUP BY p.idx;
