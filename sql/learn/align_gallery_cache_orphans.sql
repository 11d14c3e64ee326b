-- learn/align_gallery_cache_orphans.sql (step file): delete cached gallery embeddings
-- (gallery_embedding_sets and, by cascade, their chunks) whose gallery content no gallery
-- holds any more: run after a gallery's points change
-- (geotool.learn.align.gallery.load_gallery). An embedding set is keyed by content, so a
-- gallery loaded again with its old content would miss once.
DELETE FROM gallery_embedding_sets s
WHERE NOT EXISTS (SELECT 1 FROM galleries g WHERE g.content_sha256 = s.gallery_sha256)
