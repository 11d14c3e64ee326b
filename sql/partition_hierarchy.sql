-- partition_hierarchy.sql: the location hierarchy of one build (ARCHITECTURE §1).
--
-- Input: the address vectors (image_addresses, position 0 = finest) of the images of
-- dataset <dataset_id> and split <split>. Output, keyed by partitioning set <set_id>:
--   hierarchy_edges  every consecutive pair (l_i, l_i+1) of every vector, counted by
--                    occurrence (self pairs l -> l are skipped);
--   hierarchy_nodes  every location of those vectors with its one kept parent:
--       preference order of a child's candidate parents:
--         edge count DESC, parent rank_address DESC (finer parent first, NULL as 0),
--         parent admin_level DESC (NULL as 0), parent osm_key ASC;
--       cycles of kept parents: in each cycle the weakest kept edge, i.e. the last
--       one in the same order (count ASC, rank ASC, admin ASC, parent osm_key DESC),
--       is dropped and its child becomes a root (cycle_broken = true);
--       depth (root = 0), n_finest (images whose H(x) starts here) and n_images =
--       count(l), the number of images whose H(x) contains l.
-- Temporary tables left for the later steps of the same transaction:
--   _hier_closure(node, ancestor, dist)  every node's path to its root (dist 0 = itself)
--   _hier_node_stats(node, n, sums, hull)  statistics of the build images per anchor
--   _hier_anchor(image_id, location_id, split)  for EVERY image of the dataset, the
--       finest entry of its address vector that is a node of this hierarchy: for the
--       build's images that is their finest location; H(x) = closure of the anchor.
DROP TABLE IF EXISTS _hier_pairs;
CREATE TEMP TABLE _hier_pairs ON COMMIT DROP AS
SELECT a.image_id, a.position, a.location_id,
       lead(a.location_id) OVER (PARTITION BY a.image_id ORDER BY a.position) AS parent_id
FROM image_addresses a
JOIN images i ON i.id = a.image_id
WHERE i.dataset_id = :dataset_id AND i.split = :split;
ANALYZE _hier_pairs;

DROP TABLE IF EXISTS _hier_edges;
CREATE TEMP TABLE _hier_edges ON COMMIT DROP AS
SELECT location_id AS child_id, parent_id, count(*) AS n
FROM _hier_pairs
WHERE parent_id IS NOT NULL AND parent_id <> location_id
GROUP BY location_id, parent_id;
ANALYZE _hier_edges;

INSERT INTO hierarchy_edges (set_id, child_id, parent_id, n)
SELECT :set_id, child_id, parent_id, n FROM _hier_edges;

-- Work on an unlogged temporary copy; hierarchy_nodes is written once at the end.
DROP TABLE IF EXISTS _hier_nodes;
CREATE TEMP TABLE _hier_nodes ON COMMIT DROP AS
SELECT n.location_id, b.parent_id, b.n AS parent_edge_count, false AS cycle_broken
FROM (SELECT DISTINCT location_id FROM _hier_pairs) n
LEFT JOIN (
    SELECT DISTINCT ON (e.child_id) e.child_id, e.parent_id, e.n
    FROM _hier_edges e
    JOIN locations p ON p.id = e.parent_id
    ORDER BY e.child_id, e.n DESC, coalesce(p.rank_address, 0) DESC,
             coalesce(p.admin_level, 0) DESC, p.osm_key COLLATE "C" ASC
) b ON b.child_id = n.location_id;
ALTER TABLE _hier_nodes ADD PRIMARY KEY (location_id);
ANALYZE _hier_nodes;

-- Cycles: walk up from every node; a walk that returns to its start found a cycle whose
-- members are the walk's path. One weakest edge per cycle is dropped.
WITH RECURSIVE walk (start, cur, path) AS (
    SELECT location_id, parent_id, ARRAY[location_id]
    FROM _hier_nodes WHERE parent_id IS NOT NULL
    UNION ALL
    SELECT w.start, h.parent_id, w.path || w.cur
    FROM walk w
    JOIN _hier_nodes h ON h.location_id = w.cur
    WHERE h.parent_id IS NOT NULL AND NOT (w.cur = ANY (w.path))
),
cycles AS (
    SELECT DISTINCT (SELECT min(m) FROM unnest(path) m) AS cycle, unnest(path) AS member
    FROM walk WHERE cur = start
),
weakest AS (
    SELECT DISTINCT ON (c.cycle) c.member
    FROM cycles c
    JOIN _hier_nodes h ON h.location_id = c.member
    JOIN locations p ON p.id = h.parent_id
    ORDER BY c.cycle, h.parent_edge_count ASC, coalesce(p.rank_address, 0) ASC,
             coalesce(p.admin_level, 0) ASC, p.osm_key COLLATE "C" DESC
)
UPDATE _hier_nodes h
SET parent_id = NULL, parent_edge_count = NULL, cycle_broken = true
FROM weakest w
WHERE h.location_id = w.member;

DROP TABLE IF EXISTS _hier_closure;
CREATE TEMP TABLE _hier_closure ON COMMIT DROP AS
WITH RECURSIVE up (node, ancestor, dist) AS (
    SELECT location_id, location_id, 0 FROM _hier_nodes
    UNION ALL
    SELECT u.node, h.parent_id, u.dist + 1
    FROM up u
    JOIN _hier_nodes h ON h.location_id = u.ancestor
    WHERE h.parent_id IS NOT NULL
)
SELECT node, ancestor, dist FROM up;
CREATE INDEX ON _hier_closure (ancestor);
CREATE INDEX ON _hier_closure (node, dist);
ANALYZE _hier_closure;

DROP TABLE IF EXISTS _hier_anchor;
CREATE TEMP TABLE _hier_anchor ON COMMIT DROP AS
SELECT DISTINCT ON (a.image_id) a.image_id, a.location_id, i.split
FROM image_addresses a
JOIN images i ON i.id = a.image_id
JOIN _hier_nodes h ON h.location_id = a.location_id
WHERE i.dataset_id = :dataset_id
ORDER BY a.image_id, a.position;
CREATE INDEX ON _hier_anchor (location_id);
ANALYZE _hier_anchor;

INSERT INTO hierarchy_nodes (set_id, location_id, parent_id, parent_edge_count,
                             cycle_broken, depth, n_finest, n_images)
WITH finest AS (
    SELECT location_id, count(*) AS n FROM _hier_anchor
    WHERE split = :split GROUP BY location_id
),
counted AS (
    SELECT c.ancestor, sum(f.n) AS n
    FROM finest f JOIN _hier_closure c ON c.node = f.location_id
    GROUP BY c.ancestor
),
depths AS (
    SELECT node, max(dist) AS depth FROM _hier_closure GROUP BY node
)
SELECT :set_id, h.location_id, h.parent_id, h.parent_edge_count, h.cycle_broken,
       d.depth, coalesce(f.n, 0), coalesce(c.n, 0)
FROM _hier_nodes h
JOIN depths d ON d.node = h.location_id
LEFT JOIN finest f ON f.location_id = h.location_id
LEFT JOIN counted c ON c.ancestor = h.location_id;
ANALYZE hierarchy_nodes;

-- Per anchor node, exact (numeric) sums of the build images' unit vectors and
-- coordinates, and the convex hull of their points: cell statistics then aggregate a
-- few nodes per cell instead of all images (partition_semantic_stats.sql).
DROP TABLE IF EXISTS _hier_node_stats;
CREATE TEMP TABLE _hier_node_stats ON COMMIT DROP AS
SELECT a.location_id AS node,
       count(*) AS n,
       sum((cos(radians(i.lat)) * cos(radians(i.lon)))::numeric) AS sx,
       sum((cos(radians(i.lat)) * sin(radians(i.lon)))::numeric) AS sy,
       sum(sin(radians(i.lat))::numeric) AS sz,
       sum(i.lat::numeric) AS slat,
       sum(i.lon::numeric) AS slon,
       ST_ConvexHull(ST_Collect(i.geom ORDER BY i.lon, i.lat)) AS hull
FROM _hier_anchor a
JOIN images i ON i.id = a.image_id
WHERE a.split = :split
GROUP BY a.location_id;
CREATE INDEX ON _hier_node_stats (node);
ANALYZE _hier_node_stats;

DROP TABLE _hier_pairs;
DROP TABLE _hier_edges;
