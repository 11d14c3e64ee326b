-- learn/prediction_functions.sql (schema file): SQL functions of the prediction schema.
--
-- geotool_haversine: great-circle distance in km on a sphere of radius 6371 km, double
-- precision throughout. The haversine term is clamped to [0, 1] before asin: rounding can
-- push it a hair above 1 near antipodes, where an unclamped asin returns NaN (a defect of
-- the reference evaluation code). IMMUTABLE and STRICT, so the planner may inline it; `geotool predict` writes
-- predictions.error_km with the same formula (geotool.learn.geodesy.haversine_km).
CREATE OR REPLACE FUNCTION geotool_haversine(lat1 double precision, lon1 double precision,
                                  lat2 double precision, lon2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$;
    SELECT 2.0 * 6371.0 * asin(sqrt(least(1.0, greatest(0.0,
        sin(radians(lat2 - lat1) / 2.0) ^ 2
        + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2.0) ^ 2))))
$$;

-- geotool_within: is distance d inside radius r? d <= r by default (the reference code's
-- choice), d < r when strict. NULL distances count as outside.
CREATE OR REPLACE FUNCTION geotool_within(d double precision, r double precision, strict boolean)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$;
    SELECT coalesce(CASE WHEN strict THEN d < r ELSE d <= r END, false)
$$;

-- geotool_semantic_tier: which tier of the semantic accuracy a location stands for, from
-- its Nominatim address rank (boundary files get rank 2 * admin_level): 'country' (rank
-- 2-4), 'state' (6-9), 'city' (13-16, Nominatim's city / town / municipality ranks), NULL
-- otherwise (counties, suburbs, streets, landmarks). One expression, so the planner
-- inlines it.
CREATE OR REPLACE FUNCTION geotool_semantic_tier(rank_address smallint, admin_level smallint)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$;
    SELECT CASE
        WHEN coalesce(rank_address::int, 2 * admin_level::int) BETWEEN 2 AND 4 THEN 'country'
        WHEN coalesce(rank_address::int, 2 * admin_level::int) BETWEEN 6 AND 9 THEN 'state'
        WHEN coalesce(rank_address::int, 2 * admin_level::int) BETWEEN 13 AND 16 THEN 'city'
    END
$$;
