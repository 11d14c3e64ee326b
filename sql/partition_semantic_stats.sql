-- partition_semantic_stats.sql: cell statistics of semantic partitioning <partitioning_id>
-- (level <level>) from the per-node sums of partition_hierarchy.sql (_hier_node_stats)
-- and the node -> cell map of partition_semantic.sql (_part_node_cells): a cell's build
-- images are exactly the build images anchored at the nodes that map to it. Same definitions as
-- partition_cell_stats.sql (which S2 cells use):
--   n_images; lat, lon = spherical mean (mean unit vector; exact integer sums of the
--   terms in units of 1e-15, so no dependence on row order); lat_plain, lon_plain =
--   arithmetic means (sums in units of 1e-12 degrees);
--   geom = the location's OSM polygon ('osm') where it has one, otherwise the convex hull
--   of the cell's images (the hull of the nodes' hulls) buffered by 0.001° ('hull').
WITH stats AS (
    SELECT s.cell_id,
           sum(s.n) AS n,
           (sum(s.sx) / sum(s.n) / 1e15)::float8 AS x,
           (sum(s.sy) / sum(s.n) / 1e15)::float8 AS y,
           (sum(s.sz) / sum(s.n) / 1e15)::float8 AS z,
           (sum(s.slat) / sum(s.n) / 1e12)::float8 AS lat_plain,
           (sum(s.slon) / sum(s.n) / 1e12)::float8 AS lon_plain,
           ST_Normalize(ST_Buffer(ST_ConvexHull(ST_Collect(s.hull)), 0.001)) AS hull
    FROM (
        -- node order within a cell from the sorted input (one sort for all cells)
        SELECT m.cell_id, s.*
        FROM _part_node_cells m
        JOIN _hier_node_stats s ON s.node = m.node
        WHERE m.level = :level
        ORDER BY m.cell_id, s.node
    ) s
    GROUP BY s.cell_id
)
UPDATE cells c
SET n_images = s.n,
    lat = degrees(atan2(s.z, sqrt(s.x * s.x + s.y * s.y))),
    lon = degrees(atan2(s.y, s.x)),
    lat_plain = s.lat_plain,
    lon_plain = s.lon_plain,
    geom = CASE WHEN coalesce(ST_Dimension(l.geom) = 2, false) THEN l.geom ELSE s.hull END,
    geom_source = CASE WHEN coalesce(ST_Dimension(l.geom) = 2, false) THEN 'osm'
                       ELSE 'hull' END
FROM stats s
JOIN cells c2 ON c2.id = s.cell_id
LEFT JOIN locations l ON l.id = c2.location_id
WHERE c.id = s.cell_id;
