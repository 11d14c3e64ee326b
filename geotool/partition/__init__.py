"""Location hierarchy, semantic partitionings and the S2 baseline, built by sql/ files.

The stage: ``build.build_partitioning(engine, BuildParams, *, progress)``."""

__all__ = [
    "build", "countries", "labels", "params", "reference_import", "s2build", "s2cells", "semantic",
    "summary"
]
