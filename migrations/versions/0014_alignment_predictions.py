"""The alignment family's predictions: GPS galleries, their cached embeddings, coordinate
answers beside class answers, and the concept scores of each answer (issue 20).

- ``galleries`` / ``gallery_points``: named sets of GPS candidates (a dataset's training
  coordinates, a CSV such as GeoCLIP's ``coordinates_100K.csv``, or a partitioning's cell
  centres) with the SHA-256 of their content (the coordinates in order).
- ``gallery_embedding_sets`` / ``gallery_embeddings``: a gallery's GPS embeddings under
  one checkpoint, keyed by (checkpoint content SHA-256, gallery content SHA-256) and kept
  as float32 chunks, so they are computed once and reused; a changed checkpoint or gallery
  has another key and misses.
- ``prediction_runs`` gains ``family`` ('classifier' | 'align') and ``gallery_id``; its
  unique key includes the gallery (NULLs equal: classifier runs keep their old key).
- ``predictions``: ``cell_id`` and ``class_index`` become nullable; mode ``gallery`` is an
  alignment answer (the best gallery point, ``gallery_index``, with the top-k points in
  ``topk_gallery_index`` and their probabilities in ``topk_probability``); checks keep the
  classifier's rows as they were.
- ``prediction_concepts``: per alignment answer and side (``image``: the photo's embedding;
  ``location``: the answered gallery point's embedding) the concept ids and scores, best
  first.

Revision ID: 0014
Revises: 0016
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0016"  # chain: 0011, 0018, 0015, 0012, 0016, 0014
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "galleries",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("source IN ('dataset', 'csv', 'cells')",
                           name=op.f("ck_galleries_source_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_galleries")),
        sa.UniqueConstraint("name", name=op.f("uq_galleries_name")),
    )
    op.create_table(
        "gallery_points",
        sa.Column("gallery_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(precision=53), nullable=False),
        sa.Column("lon", sa.Float(precision=53), nullable=False),
        sa.Column("geom", geoalchemy2.types.Geometry(
            geometry_type="POINT", srid=4326, dimension=2, spatial_index=False,
            from_text="ST_GeomFromEWKT", name="geometry", nullable=False),
            sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
            nullable=False),
        sa.CheckConstraint("lat BETWEEN -90 AND 90", name=op.f("ck_gallery_points_lat_range")),
        sa.CheckConstraint("lon BETWEEN -180 AND 180",
                           name=op.f("ck_gallery_points_lon_range")),
        sa.ForeignKeyConstraint(["gallery_id"], ["galleries.id"],
                                name=op.f("fk_gallery_points_gallery_id_galleries"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("gallery_id", "idx", name=op.f("pk_gallery_points")),
    )
    op.create_index("ix_gallery_points_geom", "gallery_points", ["geom"], unique=False,
                    postgresql_using="gist")
    op.create_table(
        "gallery_embedding_sets",
        sa.Column("checkpoint_sha256", sa.Text(), nullable=False),
        sa.Column("gallery_sha256", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(precision=53), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"],
                                name=op.f("fk_gallery_embedding_sets_model_id_models"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("checkpoint_sha256", "gallery_sha256",
                                name=op.f("pk_gallery_embedding_sets")),
    )
    op.create_table(
        "gallery_embeddings",
        sa.Column("checkpoint_sha256", sa.Text(), nullable=False),
        sa.Column("gallery_sha256", sa.Text(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_sha256", "gallery_sha256"],
            ["gallery_embedding_sets.checkpoint_sha256",
             "gallery_embedding_sets.gallery_sha256"],
            name=op.f("fk_gallery_embeddings_checkpoint_sha256_gallery_embedding_sets"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("checkpoint_sha256", "gallery_sha256", "chunk",
                                name=op.f("pk_gallery_embeddings")),
    )
    # float32 bytes do not compress: store them out of line without trying
    op.execute("ALTER TABLE gallery_embeddings ALTER COLUMN data SET STORAGE EXTERNAL")

    # prediction runs: the family and the gallery; the key includes the gallery
    op.add_column("prediction_runs", sa.Column("family", sa.Text(),
                                               server_default="classifier", nullable=False))
    op.add_column("prediction_runs", sa.Column("gallery_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_prediction_runs_gallery_id_galleries"), "prediction_runs",
                          "galleries", ["gallery_id"], ["id"], ondelete="CASCADE")
    op.create_check_constraint(op.f("ck_prediction_runs_family_known"), "prediction_runs",
                               "family IN ('classifier', 'align')")
    op.create_check_constraint(op.f("ck_prediction_runs_gallery_of_align"), "prediction_runs",
                               "(family = 'align') = (gallery_id IS NOT NULL)")
    op.drop_constraint(op.f("uq_prediction_runs_weights_params"),
                       "prediction_runs", type_="unique")
    op.create_unique_constraint(
        op.f("uq_prediction_runs_key"),
        "prediction_runs", ["model_id", "checkpoint_sha256", "amp", "crops", "combine",
                            "top_k", "resize", "gallery_id"],
        postgresql_nulls_not_distinct=True)

    # predictions: coordinate answers beside class answers
    op.alter_column("predictions", "cell_id", existing_type=sa.BigInteger(), nullable=True)
    op.alter_column("predictions", "class_index", existing_type=sa.Integer(), nullable=True)
    op.add_column("predictions", sa.Column("gallery_index", sa.Integer(), nullable=True))
    op.add_column("predictions", sa.Column("topk_gallery_index",
                                           postgresql.ARRAY(sa.Integer()), nullable=True))
    op.drop_constraint(op.f("ck_predictions_mode_known"), "predictions", type_="check")
    op.create_check_constraint(op.f("ck_predictions_mode_known"), "predictions",
                               "mode IN ('flat', 'hier', 'gallery')")
    op.create_check_constraint(
        op.f("ck_predictions_answer_of_mode"), "predictions",
        "CASE WHEN mode = 'gallery' THEN gallery_index IS NOT NULL "
        "ELSE cell_id IS NOT NULL AND class_index IS NOT NULL END")

    op.create_table(
        "prediction_concepts",
        sa.Column("prediction_run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("concept_ids", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("scores", postgresql.ARRAY(sa.REAL()), nullable=False),
        sa.CheckConstraint("side IN ('image', 'location')",
                           name=op.f("ck_prediction_concepts_side_known")),
        sa.ForeignKeyConstraint(["prediction_run_id"], ["prediction_runs.id"],
                                name=op.f("fk_prediction_concepts_prediction_run_id_"
                                          "prediction_runs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_prediction_concepts_image_id_images"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("prediction_run_id", "image_id", "side",
                                name=op.f("pk_prediction_concepts")),
    )


def downgrade() -> None:
    op.drop_table("prediction_concepts")
    op.execute("DELETE FROM predictions WHERE mode = 'gallery'")
    op.drop_constraint(op.f("ck_predictions_answer_of_mode"), "predictions", type_="check")
    op.drop_constraint(op.f("ck_predictions_mode_known"), "predictions", type_="check")
    op.create_check_constraint(op.f("ck_predictions_mode_known"), "predictions",
                               "mode IN ('flat', 'hier')")
    op.drop_column("predictions", "topk_gallery_index")
    op.drop_column("predictions", "gallery_index")
    op.alter_column("predictions", "class_index", existing_type=sa.Integer(), nullable=False)
    op.alter_column("predictions", "cell_id", existing_type=sa.BigInteger(), nullable=False)
    op.execute("DELETE FROM prediction_runs WHERE family = 'align'")
    op.drop_constraint(op.f("uq_prediction_runs_key"),
                       "prediction_runs", type_="unique")
    op.create_unique_constraint(op.f("uq_prediction_runs_weights_params"),
                                "prediction_runs",
                                ["model_id", "checkpoint_sha256", "amp", "crops", "combine",
                                 "top_k", "resize"])
    op.drop_constraint(op.f("ck_prediction_runs_gallery_of_align"), "prediction_runs",
                       type_="check")
    op.drop_constraint(op.f("ck_prediction_runs_family_known"), "prediction_runs", type_="check")
    op.drop_constraint(op.f("fk_prediction_runs_gallery_id_galleries"), "prediction_runs",
                       type_="foreignkey")
    op.drop_column("prediction_runs", "gallery_id")
    op.drop_column("prediction_runs", "family")
    op.drop_table("gallery_embeddings")
    op.drop_table("gallery_embedding_sets")
    op.drop_index("ix_gallery_points_geom", table_name="gallery_points",
                  postgresql_using="gist")
    op.drop_table("gallery_points")
    op.drop_table("galleries")
