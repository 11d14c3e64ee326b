-- geocode/country_outline.sql: a country known only from Nominatim's country tables
-- (key C:<cc>), read inside a Nominatim database by the bulk and the in-process
-- geocoders: its outline (the union of its country_osm_grid cells, simplified part by
-- part by :tol degrees, as in geocode/bulk_details.sql; NULL when the grid has no cell of
-- it) as WKT, a point on it, and its names (country_name).
SELECT ST_AsText(CASE
           WHEN :tol > 0
               THEN (SELECT ST_Union(ST_SimplifyPreserveTopology(d.geom, :tol))
                     FROM ST_Dump(g.outline) AS d)
           ELSE g.outline END),
       ST_Y(ST_PointOnSurface(g.outline)), ST_X(ST_PointOnSurface(g.outline)),
       (SELECT name FROM country_name WHERE country_code = :cc)
FROM (SELECT ST_Union(geometry) AS outline
      FROM country_osm_grid WHERE country_code = :cc) AS g;
