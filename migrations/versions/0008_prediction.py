"""The prediction schema: prediction runs, predictions with top-k, failures.

``predictions`` (created empty by 0001, never written before) is reshaped: a row per
(prediction run, image, mode, level) where mode is ``flat`` (argmax of that level's head)
or ``hier`` (the hierarchical prediction and its ancestor at each level). The run's
parameters (crops, combine, top-k, resize) live once in ``prediction_runs``; a run is
resumed by predicting again with the same parameters. ``error_km`` (the great-circle
distance from the stored prediction to the photo's coordinate) is written with the row by
``geotool predict``. (Databases made before migrations stopped importing geotool had it
generated with the SQL function ``geotool_haversine``; 0011 makes it a plain column there.)
``image_id`` and ``cell_id`` have no foreign keys (COPY speed); the triggers of
sql/learn/prediction_cascades.sql delete the predictions of deleted images and cells.
The evaluation functions and views live in sql/learn/prediction_functions.sql and
sql/learn/prediction_views.sql, re-applied by ``geotool db upgrade``.

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("predictions")
    op.create_table(
        "prediction_runs",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("crops", sa.SmallInteger(), nullable=False),
        sa.Column("combine", sa.Text(), nullable=False),
        sa.Column("top_k", sa.SmallInteger(), nullable=False),
        sa.Column("resize", sa.Integer(), nullable=False),
        sa.Column("image_size", sa.Integer(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("combine IN ('mean', 'max')", name=op.f("ck_prediction_runs_combine_known")),
        sa.CheckConstraint("crops IN (1, 5)", name=op.f("ck_prediction_runs_crops_known")),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"],
                                name=op.f("fk_prediction_runs_model_id_models"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_runs")),
        sa.UniqueConstraint("model_id", "crops", "combine", "top_k", "resize",
                            name=op.f("uq_prediction_runs_model_id_crops_combine_top_k_resize")),
    )
    op.create_table(
        "predictions",
        sa.Column("prediction_run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("cell_id", sa.BigInteger(), nullable=False),
        sa.Column("class_index", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(precision=53), nullable=False),
        sa.Column("lat", sa.Float(precision=53), nullable=False),
        sa.Column("lon", sa.Float(precision=53), nullable=False),
        sa.Column("true_lat", sa.Float(precision=53), nullable=False),
        sa.Column("true_lon", sa.Float(precision=53), nullable=False),
        sa.Column("error_km", sa.Float(precision=53), nullable=True),
        sa.Column("topk_class_index", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column("topk_probability", postgresql.ARRAY(sa.REAL()), nullable=True),
        sa.Column("geom", geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326,
                  dimension=2, spatial_index=False, from_text="ST_GeomFromEWKT",
                  name="geometry", nullable=False),
                  sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
                  nullable=False),
        sa.CheckConstraint("mode IN ('flat', 'hier')", name=op.f("ck_predictions_mode_known")),
        sa.ForeignKeyConstraint(["prediction_run_id"], ["prediction_runs.id"],
                                name=op.f("fk_predictions_prediction_run_id_prediction_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("prediction_run_id", "image_id", "mode", "level",
                                name=op.f("pk_predictions")),
    )
    op.create_index("ix_predictions_geom", "predictions", ["geom"], unique=False,
                    postgresql_using="gist")
    op.create_table(
        "prediction_failures",
        sa.Column("prediction_run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["prediction_run_id"], ["prediction_runs.id"],
                                name=op.f("fk_prediction_failures_prediction_run_id_prediction_runs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_prediction_failures_image_id_images"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("prediction_run_id", "image_id",
                                name=op.f("pk_prediction_failures")),
    )


def downgrade() -> None:
    op.drop_table("prediction_failures")
    op.drop_table("predictions")
    op.drop_table("prediction_runs")
    op.create_table('predictions',
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.BigInteger(), nullable=False),
    sa.Column('partitioning_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.Text(), nullable=False),
    sa.Column('cell_id', sa.BigInteger(), nullable=False),
    sa.Column('probability', sa.Float(precision=53), nullable=False),
    sa.Column('lat', sa.Float(precision=53), nullable=False),
    sa.Column('lon', sa.Float(precision=53), nullable=False),
    sa.Column('error_km', sa.Float(precision=53), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), sa.Computed('ST_SetSRID(ST_MakePoint(lon, lat), 4326)', persisted=True), nullable=False),
    sa.ForeignKeyConstraint(['cell_id'], ['cells.id'], name=op.f('fk_predictions_cell_id_cells'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_predictions_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_predictions_model_id_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partitioning_id'], ['partitionings.id'], name=op.f('fk_predictions_partitioning_id_partitionings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_id', 'image_id', 'partitioning_id', 'mode', name=op.f('pk_predictions'))
    )
    op.create_index('ix_predictions_geom', 'predictions', ['geom'], unique=False, postgresql_using='gist')
