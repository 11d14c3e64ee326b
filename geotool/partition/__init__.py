"""Location hierarchy, semantic partitionings and the S2 baseline, built by sql/ files."""
