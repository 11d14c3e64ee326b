"""Occlusion check of concept influence: verify runs and one row per photo and concept.

``geotool concepts verify`` (geotool/explain/verify.py) occludes every concept of a
concept run's photos and stores the explained class's probability before, with the
concept occluded, and with a control region of the same size occluded:

* ``concept_verify_runs``: one row per (concept run, parameters) — fill (mean or blur),
  blur radius, seed — under their SHA-256 ``params_key``, so a rerun resumes;
* ``concept_occlusion``: one row per (verify run, image, concept) with the occluded pixel
  count, the class, ``p_base``, ``p_occluded``, ``p_control`` and the control's circular
  shift (``control_dy``, ``control_dx``).

The views over them live in sql/explain/concepts_verify_views.sql (a schema file: ``db
upgrade`` drops and re-applies them around every migration).

Revision ID: 0016
Revises: 0012 (issue 17's second revision: concept verification)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "concept_verify_runs",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("concept_run_id", sa.Integer(), nullable=False),
        sa.Column("params_key", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["concept_run_id"], ["concept_runs.id"],
                                name=op.f("fk_concept_verify_runs_concept_run_id_concept_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concept_verify_runs")),
        sa.UniqueConstraint("concept_run_id", "params_key",
                            name=op.f("uq_concept_verify_runs_concept_run_id_params_key")),
    )
    op.create_table(
        "concept_occlusion",
        sa.Column("verify_run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("pixels", sa.Integer(), nullable=False),
        sa.Column("target_class", sa.Integer(), nullable=False),
        sa.Column("p_base", sa.Float(precision=53), nullable=False),
        sa.Column("p_occluded", sa.Float(precision=53), nullable=False),
        sa.Column("p_control", sa.Float(precision=53), nullable=False),
        sa.Column("control_dy", sa.Integer(), nullable=False),
        sa.Column("control_dx", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["verify_run_id"], ["concept_verify_runs.id"],
                                name=op.f("fk_concept_occlusion_verify_run_id_concept_verify_runs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_concept_occlusion_image_id_images"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["concept_id"], ["concepts.id"],
                                name=op.f("fk_concept_occlusion_concept_id_concepts")),
        sa.PrimaryKeyConstraint("verify_run_id", "image_id", "concept_id",
                                name=op.f("pk_concept_occlusion")),
    )


def downgrade() -> None:
    op.drop_table("concept_occlusion")
    op.drop_table("concept_verify_runs")
