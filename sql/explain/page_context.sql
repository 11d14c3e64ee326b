-- explain/page_context.sql: grey context for the explain page's map: the cells of the
-- model's coarsest level (usually countries) that meet the map's box, as SVG path data
-- (same conventions as explain/page_cells.sql).
-- Parameters: :set_name, :xmin, :ymin, :xmax, :ymax, :tolerance.
SELECT c.id, c.label,
       ST_AsSVG(ST_SimplifyPreserveTopology(c.geom, :tolerance), 0, 5) AS path
FROM cells c
JOIN partitionings p ON p.id = c.partitioning_id
JOIN partitioning_sets s ON s.id = p.set_id
WHERE s.name = :set_name
  AND p.level = (SELECT max(p2.level) FROM partitionings p2 WHERE p2.set_id = s.id)
  AND c.geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)
  AND NOT ST_IsEmpty(c.geom);
