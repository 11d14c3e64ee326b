"""Synthetic planet: a seeded world, its OSM extract, and photos with concept masks."""
