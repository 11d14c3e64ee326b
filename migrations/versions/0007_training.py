"""Training: models keep their classes; training metrics, bad images, the shard index.

- ``models`` gains what a trained model needs to stay usable after its set is rebuilt
  (``set_id`` goes NULL then): the set's name, the fingerprint and list of the classes
  it was trained on, its status, best and last checkpoint paths (``checkpoint_path``
  stays the best one, which prediction reads), the best validation metrics and step,
  the run that trained it.
- ``training_metrics``: one row per (model, step, split, metric): curves are plain SQL.
- ``bad_images``: images a training run skipped (missing, corrupt, undecodable).
- ``shard_index``: where an image's record lies in a GeoEstimation-style msgpack shard
  (file, byte offset, length), so training reads it by random access.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("models", sa.Column("set_name", sa.Text(), nullable=True))
    op.add_column("models", sa.Column("class_fingerprint", sa.Text(), nullable=True))
    op.add_column("models", sa.Column(
        "classes", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("models", sa.Column(
        "status", sa.Text(), server_default="created", nullable=False))
    op.add_column("models", sa.Column("last_checkpoint_path", sa.Text(), nullable=True))
    op.add_column("models", sa.Column("best_step", sa.BigInteger(), nullable=True))
    op.add_column("models", sa.Column("run_id", sa.BigInteger(), nullable=True))
    op.add_column("models", sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
        nullable=False))
    op.create_foreign_key(op.f("fk_models_run_id_runs"), "models", "runs", ["run_id"], ["id"],
                          ondelete="SET NULL")
    op.create_table(
        "training_metrics",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("split", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("images_seen", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"],
                                name=op.f("fk_training_metrics_model_id_models"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_id", "step", "split", "metric",
                                name=op.f("pk_training_metrics")),
    )
    op.create_table(
        "bad_images",
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_bad_images_image_id_images"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"],
                                name=op.f("fk_bad_images_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "run_id", name=op.f("pk_bad_images")),
    )
    op.create_table(
        "shard_index",
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("shard_path", sa.Text(), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_shard_index_image_id_images"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", name=op.f("pk_shard_index")),
    )


def downgrade() -> None:
    op.drop_table("shard_index")
    op.drop_table("bad_images")
    op.drop_table("training_metrics")
    op.drop_constraint(op.f("fk_models_run_id_runs"), "models", type_="foreignkey")
    for column in ("updated_at", "run_id", "best_step", "last_checkpoint_path", "status",
                   "classes", "class_fingerprint", "set_name"):
        op.drop_column("models", column)
