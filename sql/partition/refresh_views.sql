-- partition/refresh_views.sql: refresh the materialized QGIS views over all cells
-- (qgis_cells: MultiPolygon geometry per cell; qgis_cell_centres: the cells' mean
-- coordinates as points). Run at the end of every build or import.
REFRESH MATERIALIZED VIEW qgis_cells;
REFRESH MATERIALIZED VIEW qgis_cell_centres;
