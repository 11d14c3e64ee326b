-- partition/hierarchy.sql: the location hierarchy of one build (docs/method.md §2).
--
-- Input: the address vectors (image_addresses, position 0 = finest) of the images of
-- dataset <dataset_id> and split <split>. Output, keyed by partitioning set <set_id>:
--   hierarchy_edges  every consecutive pair (l_i, l_i+1) of every vector, counted by
--                    occurrence (self pairs l -> l are skipped);
--   hierarchy_nodes  every location of those vectors with its one kept parent:
--       preference order of a child's candidate parents:
--         edge count DESC, parent strictly coarser than the child first (both ranks
--         known and parent rank_address < child rank_address), parent rank_address
--         DESC (finer parent first, NULL as 0), parent admin_level DESC (NULL as 0),
--         parent osm_key ASC (bytewise);
--       cycles of kept parents, one at a time in the order of their smallest member's
--       osm_key: the weakest kept edge of the cycle, i.e. the last one in the same
--       order, is dropped and its child takes its best candidate parent (same order)
--       whose chain of parents does not lead back to the child; with none it becomes a
--       root (either way cycle_broken = true);
--       depth (root = 0), n_finest (images whose H(x) starts here) and n_images =
--       count(l), the number of images whose H(x) contains l.
-- Temporary tables left for the later steps of the same transaction:
--   _hier_closure(node, ancestor, dist)  every node's path to its root (dist 0 = itself)
--   _hier_node_stats(node, n, sums, hull)  statistics of the build images per anchor
--       node
--   _hier_build_anchor(image_id, location_id, lat, lon, geom), _hier_other_anchor(
--       image_id, location_id)  for EVERY image of the dataset, its anchor: the finest
--       entry of its address vector that is a node of this hierarchy (for the build's
--       images that is their finest location); H(x) = closure of the anchor.
--   _part_node_cells(level, node, cell_id)  empty; partition/class_cells.sql fills it.

-- Edges: each entry of a build image's vector with its successor (position order; the
-- vectors are read in primary-key order, so no sort is needed), counted.
DROP TABLE IF EXISTS _hier_edges;
CREATE TEMP TABLE _hier_edges ON COMMIT DROP AS
SELECT location_id AS child_id, parent_id, count(*) AS n
FROM (
    SELECT a.location_id,
           lead(a.location_id) OVER (PARTITION BY a.image_id ORDER BY a.position) AS parent_id
    FROM image_addresses a
    JOIN images i ON i.id = a.image_id
    WHERE i.dataset_id = :dataset_id AND i.split = :split
) p
WHERE parent_id IS NOT NULL AND parent_id <> location_id
GROUP BY location_id, parent_id;
ANALYZE _hier_edges;

INSERT INTO hierarchy_edges (set_id, child_id, parent_id, n)
SELECT :set_id, child_id, parent_id, n FROM _hier_edges;

-- Anchors of the build images: the first entry of each vector (with the image's
-- coordinates, for the node statistics below).
DROP TABLE IF EXISTS _hier_build_anchor;
CREATE TEMP TABLE _hier_build_anchor ON COMMIT DROP AS
SELECT DISTINCT ON (a.image_id) a.image_id, a.location_id, i.lat, i.lon, i.geom
FROM image_addresses a
JOIN images i ON i.id = a.image_id
WHERE i.dataset_id = :dataset_id AND i.split = :split
ORDER BY a.image_id, a.position;

-- Per anchor node, sums of the build images' unit vectors (x = cos φ cos λ,
-- y = cos φ sin λ, z = sin φ) and coordinates, and the convex hull of their points: cell
-- statistics then aggregate a few nodes per cell instead of all images
-- (partition/class_cells.sql); n is the node's n_finest. The sums are exact integer
-- sums of the terms in units of 1e-15 (unit vector) and 1e-12 degrees (lat, lon), so
-- they do not depend on row order. "hull" is the hull of the points, or for up to 3
-- points their collection (the cell hull is the same). The points are collected in
-- (lon, lat) order from the sorted input: one sort, where an ORDER BY inside the
-- aggregate sorted every group separately (twice the time).
DROP TABLE IF EXISTS _hier_node_stats;
CREATE TEMP TABLE _hier_node_stats ON COMMIT DROP AS
SELECT location_id AS node,
       count(*) AS n,
       sum(round(cos(radians(lat)) * cos(radians(lon)) * 1e15)::int8) AS sx,
       sum(round(cos(radians(lat)) * sin(radians(lon)) * 1e15)::int8) AS sy,
       sum(round(sin(radians(lat)) * 1e15)::int8) AS sz,
       sum(round(lat * 1e12)::int8) AS slat,
       sum(round(lon * 1e12)::int8) AS slon,
       CASE WHEN count(*) > 3 THEN ST_ConvexHull(ST_Collect(geom)) ELSE ST_Collect(geom) END
           AS hull
FROM (SELECT * FROM _hier_build_anchor ORDER BY location_id, lon, lat) o
GROUP BY location_id;
ALTER TABLE _hier_node_stats ADD PRIMARY KEY (node);
ANALYZE _hier_node_stats (node, n);

-- Work on an unlogged temporary copy; hierarchy_nodes is written once at the end.
DROP TABLE IF EXISTS _hier_nodes;
CREATE TEMP TABLE _hier_nodes ON COMMIT DROP AS
SELECT n.location_id, b.parent_id, b.n AS parent_edge_count, false AS cycle_broken
FROM (
    -- every entry of a vector is its first (an anchor node), or the parent of an edge,
    -- or repeats the entry before it (a skipped self pair)
    SELECT child_id AS location_id FROM _hier_edges
    UNION SELECT parent_id FROM _hier_edges
    UNION SELECT node FROM _hier_node_stats
) n
LEFT JOIN (
    SELECT DISTINCT ON (e.child_id) e.child_id, e.parent_id, e.n
    FROM _hier_edges e
    JOIN locations p ON p.id = e.parent_id
    JOIN locations c ON c.id = e.child_id
    ORDER BY e.child_id, e.n DESC,
             coalesce(p.rank_address < c.rank_address, false) DESC,
             coalesce(p.rank_address, 0) DESC,
             coalesce(p.admin_level, 0) DESC, p.osm_key COLLATE "C" ASC
) b ON b.child_id = n.location_id;
ALTER TABLE _hier_nodes ADD PRIMARY KEY (location_id);
ANALYZE _hier_nodes;

-- Cycles: walk up from every node; a walk that returns to its start found a cycle whose
-- members are the walk's path. The cycles are found once (the loop's query reads the
-- table as it was when the loop started; cycles are disjoint and re-parenting never
-- makes a new one), then broken one by one: the weakest kept edge is dropped and its
-- child re-parented to its best candidate whose chain of parents does not reach the
-- child, so the cut keeps the branch attached to its state and country.
DO $$
DECLARE
    cyc record;
    weak bigint;
    best record;
BEGIN
    FOR cyc IN
        WITH RECURSIVE walk (start, cur, path) AS (
            SELECT location_id, parent_id, ARRAY[location_id]
            FROM _hier_nodes WHERE parent_id IS NOT NULL
            UNION ALL
            SELECT w.start, h.parent_id, w.path || w.cur
            FROM walk w
            JOIN _hier_nodes h ON h.location_id = w.cur
            WHERE h.parent_id IS NOT NULL AND NOT (w.cur = ANY (w.path))
        ),
        members AS (
            SELECT DISTINCT (SELECT min(m) FROM unnest(path) m) AS cycle,
                   unnest(path) AS member
            FROM walk WHERE cur = start
        )
        SELECT m.cycle, array_agg(m.member) AS members,
               min(l.osm_key COLLATE "C") AS first_key
        FROM members m JOIN locations l ON l.id = m.member
        GROUP BY m.cycle
        ORDER BY first_key
    LOOP
        SELECT h.location_id INTO weak
        FROM _hier_nodes h
        JOIN locations p ON p.id = h.parent_id
        JOIN locations c ON c.id = h.location_id
        WHERE h.location_id = ANY (cyc.members)
        ORDER BY h.parent_edge_count ASC,
                 coalesce(p.rank_address < c.rank_address, false) ASC,
                 coalesce(p.rank_address, 0) ASC, coalesce(p.admin_level, 0) ASC,
                 p.osm_key COLLATE "C" DESC
        LIMIT 1;

        SELECT e.parent_id, e.n INTO best
        FROM _hier_edges e
        JOIN locations p ON p.id = e.parent_id
        JOIN locations c ON c.id = e.child_id
        WHERE e.child_id = weak
          AND NOT EXISTS (
              WITH RECURSIVE up (node, path) AS (
                  SELECT e.parent_id, ARRAY[e.parent_id]
                  UNION ALL
                  SELECT h.parent_id, u.path || h.parent_id
                  FROM up u JOIN _hier_nodes h ON h.location_id = u.node
                  WHERE h.parent_id IS NOT NULL AND NOT (h.parent_id = ANY (u.path))
              )
              SELECT 1 FROM up WHERE up.node = weak)
        ORDER BY e.n DESC,
                 coalesce(p.rank_address < c.rank_address, false) DESC,
                 coalesce(p.rank_address, 0) DESC,
                 coalesce(p.admin_level, 0) DESC, p.osm_key COLLATE "C" ASC
        LIMIT 1;

        UPDATE _hier_nodes
        SET parent_id = best.parent_id, parent_edge_count = best.n, cycle_broken = true
        WHERE location_id = weak;
    END LOOP;
END
$$;

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
ANALYZE _hier_closure;

-- Anchors of the images of the other splits: their first entry that is a node.
DROP TABLE IF EXISTS _hier_other_anchor;
CREATE TEMP TABLE _hier_other_anchor ON COMMIT DROP AS
SELECT DISTINCT ON (a.image_id) a.image_id, a.location_id
FROM image_addresses a
JOIN images i ON i.id = a.image_id
JOIN _hier_nodes h ON h.location_id = a.location_id
WHERE i.dataset_id = :dataset_id AND i.split <> :split
ORDER BY a.image_id, a.position;
ANALYZE _hier_other_anchor;

INSERT INTO hierarchy_nodes (set_id, location_id, parent_id, parent_edge_count,
                             cycle_broken, depth, n_finest, n_images)
WITH counted AS (
    SELECT c.ancestor, sum(f.n) AS n
    FROM _hier_node_stats f JOIN _hier_closure c ON c.node = f.node
    GROUP BY c.ancestor
),
depths AS (
    SELECT node, max(dist) AS depth FROM _hier_closure GROUP BY node
)
SELECT :set_id, h.location_id, h.parent_id, h.parent_edge_count, h.cycle_broken,
       d.depth, coalesce(f.n, 0), coalesce(c.n, 0)
FROM _hier_nodes h
JOIN depths d ON d.node = h.location_id
LEFT JOIN _hier_node_stats f ON f.node = h.location_id
LEFT JOIN counted c ON c.ancestor = h.location_id;
ANALYZE hierarchy_nodes;

DROP TABLE _hier_edges;

-- Node -> cell maps of the set's partitionings, filled by partition/class_cells.sql.
DROP TABLE IF EXISTS _part_node_cells;
CREATE TEMP TABLE _part_node_cells (
    level integer NOT NULL,
    node bigint NOT NULL,
    cell_id bigint NOT NULL,
    PRIMARY KEY (level, node)
) ON COMMIT DROP;
