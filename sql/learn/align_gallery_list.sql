-- learn/align_gallery_list.sql (step file): every gallery with its size, source and
-- cached embedding sets (`geotool gallery list`).
SELECT g.name, g.source, g.source_ref, g.n_points, left(g.content_sha256, 12) AS sha256,
       g.created_at,
       (SELECT count(*) FROM gallery_embedding_sets s
        WHERE s.gallery_sha256 = g.content_sha256) AS cached_models
FROM galleries g
ORDER BY g.name
