"""Concept influence: runs with their parameters once, per-image outcomes, ci per β.

Reshapes the ``concepts`` and ``concept_influence`` tables of 0001 (which were never
written by any release): concepts become (vocabulary, pixel value, name) with ADE20k's 150
classes seeded as ids 1..150; ``concept_runs`` keeps the explanation parameters once per
setting; ``concept_images`` each image's outcome, explained class and error; and
``concept_influence`` one row per (run, image, concept, β) with pixel counts.
``error_intervals`` holds the default [0, 25), [25, 750), [750, 2500) km.

The ADE20k names are written out here (not imported) so that the migration never changes.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ADE20K_150 = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed",
    "windowpane", "grass", "cabinet", "sidewalk", "person", "earth", "door", "table",
    "mountain", "plant", "curtain", "chair", "car", "water", "painting", "sofa", "shelf",
    "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk", "rock",
    "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator",
    "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door",
    "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer",
    "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light", "truck",
    "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman",
    "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt",
    "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen",
    "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan",
    "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator",
    "glass", "clock", "flag",
)


def upgrade() -> None:
    op.drop_table("concept_influence")
    op.drop_table("concepts")
    concepts = op.create_table(
        "concepts",
        sa.Column("id", sa.Integer(), sa.Identity(always=False, start=1001), nullable=False),
        sa.Column("vocabulary", sa.Text(), server_default="ade20k", nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concepts")),
        sa.UniqueConstraint("vocabulary", "value", name=op.f("uq_concepts_vocabulary_value")),
        sa.UniqueConstraint("vocabulary", "name", name=op.f("uq_concepts_vocabulary_name")),
    )
    op.bulk_insert(concepts, [{"id": i, "vocabulary": "ade20k", "value": i, "name": n}
                              for i, n in enumerate(ADE20K_150, start=1)])
    op.create_table(
        "concept_runs",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
        sa.Column("split", sa.Text(), nullable=True),
        sa.Column("params_key", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"],
                                name=op.f("fk_concept_runs_dataset_id_datasets"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"],
                                name=op.f("fk_concept_runs_model_id_models"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concept_runs")),
        sa.UniqueConstraint("model_id", "dataset_id", "split", "params_key",
                            name=op.f("uq_concept_runs_model_id_dataset_id_split_params_key")),
    )
    op.create_table(
        "concept_images",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("target_class", sa.Integer(), nullable=True),
        sa.Column("predicted_class", sa.Integer(), nullable=True),
        sa.Column("pred_lat", sa.Float(precision=53), nullable=True),
        sa.Column("pred_lon", sa.Float(precision=53), nullable=True),
        sa.Column("error_km", sa.Float(precision=53), nullable=True),
        sa.Column("k", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('ok', 'missing_mask', 'size_mismatch', 'unreadable', 'unlabelled')",
                           name=op.f("ck_concept_images_status_known")),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_concept_images_image_id_images"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["concept_runs.id"],
                                name=op.f("fk_concept_images_run_id_concept_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "image_id", name=op.f("pk_concept_images")),
    )
    op.create_table(
        "concept_influence",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("beta", sa.SmallInteger(), nullable=False),
        sa.Column("tki", sa.Float(precision=53), nullable=False),
        sa.Column("size", sa.Float(precision=53), nullable=False),
        sa.Column("ci", sa.Float(precision=53), nullable=False),
        sa.Column("mask_pixels", sa.Integer(), nullable=False),
        sa.Column("hit_pixels", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["concept_id"], ["concepts.id"],
                                name=op.f("fk_concept_influence_concept_id_concepts")),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_concept_influence_image_id_images"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["concept_runs.id"],
                                name=op.f("fk_concept_influence_run_id_concept_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "image_id", "concept_id", "beta",
                                name=op.f("pk_concept_influence")),
    )
    op.create_index("ix_concept_influence_concept_id", "concept_influence", ["concept_id"])
    intervals = op.create_table(
        "error_intervals",
        sa.Column("lower_km", sa.Float(precision=53), nullable=False),
        sa.Column("upper_km", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("lower_km", name=op.f("pk_error_intervals")),
    )
    op.bulk_insert(intervals, [{"lower_km": 0.0, "upper_km": 25.0},
                               {"lower_km": 25.0, "upper_km": 750.0},
                               {"lower_km": 750.0, "upper_km": 2500.0}])


def downgrade() -> None:
    op.drop_table("error_intervals")
    op.drop_index("ix_concept_influence_concept_id", table_name="concept_influence")
    op.drop_table("concept_influence")
    op.drop_table("concept_images")
    op.drop_table("concept_runs")
    op.drop_table("concepts")
    op.create_table(
        "concepts",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("vocabulary", sa.Text(), server_default="ade20k", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concepts")),
        sa.UniqueConstraint("name", name=op.f("uq_concepts_name")),
    )
    op.create_table(
        "concept_influence",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("tki", sa.Float(precision=53), nullable=False),
        sa.Column("size", sa.Float(precision=53), nullable=False),
        sa.Column("ci", sa.Float(precision=53), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(["concept_id"], ["concepts.id"],
                                name=op.f("fk_concept_influence_concept_id_concepts")),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_concept_influence_image_id_images"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"],
                                name=op.f("fk_concept_influence_model_id_models"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_id", "image_id", "concept_id",
                                name=op.f("pk_concept_influence")),
    )
    op.create_index("ix_concept_influence_concept_id", "concept_influence", ["concept_id"])
