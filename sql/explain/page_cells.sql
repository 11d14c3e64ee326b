-- explain/page_cells.sql: the polygons of the explain page's top cells
-- (geotool.explain.page), as SVG path data. ST_AsSVG writes x = longitude and y = minus
-- latitude (SVG's y grows downwards); the page scales x by cos(mid latitude) so shapes
-- keep their proportions near the map's centre. Simplified by :tolerance degrees
-- (a fraction of the map's size) to keep the page small.
-- Parameters: :cell_ids (bigint[]), :tolerance (degrees).
SELECT c.id,
       ST_AsSVG(ST_SimplifyPreserveTopology(c.geom, :tolerance), 0, 5) AS path,
       ST_XMin(c.geom) AS xmin, ST_YMin(c.geom) AS ymin,
       ST_XMax(c.geom) AS xmax, ST_YMax(c.geom) AS ymax
FROM cells c
WHERE c.id = ANY(:cell_ids) AND c.geom IS NOT NULL AND NOT ST_IsEmpty(c.geom);
