"""Concept influence: which segmented concepts a geolocation model's explanations rest on.

- ``attributions``: Integrated Gradients in a SmoothGrad² NoiseTunnel (captum), batched.
- ``segmenters``: label maps behind one interface (PNG files, the synthetic planet's
  masks, a local segmentation network).
- ``preprocess``: the explained input and its mask through the same resize and crop.
- ``influence``: top-k, tki, size, ci and dilation as pure tensor functions.
- ``pipeline``: the resumable pass over a dataset split, written to PostGIS by COPY.
- ``report``: Tables 3/4, the bar chart, Spearman against a synthetic design.
- ``photo``: one photo explained, as a figure and a table.
- ``page``: one photo explained as a self-contained HTML page with the model's answer on
  a map (docs/viewing.md).

The stages: ``pipeline.compute_concepts(engine, ConceptParams, *, progress)``,
``report.concept_report(engine, ReportParams)``, ``photo.explain_photo(engine,
PhotoParams)`` and ``page.explain_page(engine, ExplainPageParams, *, progress)``.
docs/concepts.md describes the method and the tables.
"""

__all__ = [
    "attributions", "influence", "page", "photo", "pipeline", "preprocess", "report",
    "segmenters"
]
