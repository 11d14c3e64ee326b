"""Synthetic planet: a seeded world, its OSM extract, and photos with concept masks.

No database: ``world.generate_world`` and ``photos.generate_photos`` write files, and
``places.world_matches`` / ``photos.photo_set_matches`` recognise finished ones."""

__all__ = [
    "concepts", "country_grid", "errors", "names", "osm_xml", "photos", "places", "preview",
    "render", "sampling", "scene", "shapes", "splits", "styles", "world"
]
