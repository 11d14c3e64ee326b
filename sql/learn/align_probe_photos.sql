-- learn/align_probe_photos.sql (step file): the photos of dataset <ds> in the splits
-- <splits> (a text array) for a linear probe (geotool.learn.align.probe), in id order,
-- with the country of each photo's address vector (the finest entry of the 'country'
-- tier, English name where known; NULL when the photo is not geocoded).
SELECT i.id, i.external_id, i.split, i.lat, i.lon, i.path,
       (SELECT coalesce(l.name_en, l.name, l.osm_key)
        FROM image_addresses a JOIN locations l ON l.id = a.location_id
        WHERE a.image_id = i.id
          AND geotool_semantic_tier(l.rank_address, l.admin_level) = 'country'
        ORDER BY a.position LIMIT 1) AS country
FROM images i
WHERE i.dataset_id = :ds AND i.split = ANY (CAST(:splits AS text[]))
ORDER BY i.id
