-- partition_labels_text.sql: human-readable cell labels of partitioning <partitioning_id>
-- from the hierarchy path of each cell's location, finest first, joined by ', ' — each
-- name is name_en, else name, else the osm_key ("Grand Hall, Main Street, Citta, ...").
-- Needs _hier_closure from partition_hierarchy.sql (same transaction).
UPDATE cells c
SET label = p.label
FROM (
    SELECT cl.id, string_agg(coalesce(l.name_en, l.name, l.osm_key), ', '
                             ORDER BY h.dist) AS label
    FROM cells cl
    JOIN _hier_closure h ON h.node = cl.location_id
    JOIN locations l ON l.id = h.ancestor
    WHERE cl.partitioning_id = :partitioning_id
    GROUP BY cl.id
) p
WHERE c.id = p.id;
