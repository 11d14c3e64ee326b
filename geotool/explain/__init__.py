"""Concept influence: which segmented concepts a geolocation model's explanations rest on.

- ``attributions``: Integrated Gradients in a SmoothGrad² NoiseTunnel (captum), batched.
- ``segmenters``: label maps behind one interface (PNG files, the synthetic planet's
  masks, a local segmentation network).
- ``preprocess``: the explained input and its mask through the same resize and crop.
- ``influence``: top-k, tki, size, ci and dilation as pure tensor functions.
- ``pipeline``: the resumable pass over a dataset split, written to PostGIS by COPY.
- ``report``: Tables 3/4, the bar chart, Spearman against a synthetic design.
- ``photo``: one photo explained, as a figure and a table.

The stages: ``pipeline.compute_concepts(engine, ConceptParams, *, progress)``,
``report.concept_report(engine, ReportParams)`` and ``photo.explain_photo(engine,
PhotoParams)``. docs/concepts.md describes the method and the tables.
"""

__all__ = [
    "attributions", "influence", "photo", "pipeline", "preprocess", "report", "segmenters"
]
