-- Store the geonames answers of temp table gn_answer (geonames_locate.sql; idx = image id)
-- in ONE transaction with the batch: an image_geocodes row per image ('ok' inside a
-- country polygon, 'unplaceable' outside every one, with the reason in detail) and its
-- address vector, finest first: the nearest place when within <city_m> metres, its
-- admin2, its admin1, the country. Parameters: source, city_m, admin_km.
-- Returns (ok, unplaceable) of the images this run claimed.

CREATE TEMP TABLE gn_claimed ON COMMIT DROP AS
SELECT a.* FROM gn_answer a WHERE false;

WITH claimed AS (
    INSERT INTO image_geocodes (image_id, status, source, detail)
    SELECT a.idx,
           CASE WHEN a.country_id IS NULL THEN 'unplaceable' ELSE 'ok' END,
           :source,
           CASE WHEN a.country_id IS NULL THEN 'outside every country polygon (at sea?)'
                WHEN a.on_coast AND a.place_id IS NOT NULL AND a.dist_m > :city_m
                    THEN 'outside the country polygon, within the coast tolerance; '
                         || 'nearest place ' || round((a.dist_m / 1000)::numeric) || ' km away'
                WHEN a.on_coast THEN 'outside the country polygon, within the coast tolerance'
                WHEN a.place_id IS NULL
                    THEN 'no GeoNames place of the country within ' || CAST(:admin_km AS text) || ' km'
                WHEN a.dist_m > :city_m
                    THEN 'nearest place ' || round((a.dist_m / 1000)::numeric) || ' km away'
           END
    FROM gn_answer a
    ORDER BY a.idx
    ON CONFLICT (image_id) DO NOTHING
    RETURNING image_id
)
INSERT INTO gn_claimed
SELECT a.* FROM gn_answer a JOIN claimed c ON c.image_id = a.idx;

DELETE FROM image_addresses d USING gn_claimed a WHERE d.image_id = a.idx;

INSERT INTO image_addresses (image_id, position, location_id)
SELECT a.idx, (v.ord - 1)::smallint, v.loc
FROM gn_claimed a
CROSS JOIN LATERAL unnest(array_remove(ARRAY[
    CASE WHEN a.dist_m <= :city_m THEN a.place_id END,
    a.admin2_id, a.admin1_id, a.country_id], NULL)) WITH ORDINALITY AS v(loc, ord)
WHERE a.country_id IS NOT NULL
ORDER BY a.idx, v.ord;

SELECT count(*) FILTER (WHERE country_id IS NOT NULL),
       count(*) FILTER (WHERE country_id IS NULL)
FROM gn_claimed;
