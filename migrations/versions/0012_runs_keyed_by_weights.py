"""Prediction runs are keyed by the checkpoint's content and record their AMP mode; a
concept image can be recorded as a non-finite failure (issue 17).

Until now a prediction run was keyed by (model, crops, combine, top_k, resize) only, so
``geotool train --resume`` replacing ``best.pt`` kept the old run: the new weights'
answers were appended to the old ones and evaluated together. ``checkpoint_sha256`` (the
SHA-256 of the checkpoint file the answers came from) and ``amp`` (``off``, ``fp16`` or
``bf16``: the autocast the forward passes ran under) join the key. Runs made before this
migration get ``checkpoint_sha256 = ''`` and ``amp = ''`` (unknown): a new prediction
never resumes them.

``concept_images.status`` gains ``nonfinite``: a photo whose explanation map (or
prediction) held NaN or infinity is recorded with that status and a reason, and gets no
``concept_influence`` rows (a NaN ranks first in a top-k and made every ci of the photo 0).

Revision ID: 0012
Revises: 0015 (main chains 0011 → 0018 → 0015 already; the lead re-chains the slots at merge)
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None

OLD_KEY = "uq_prediction_runs_model_id_crops_combine_top_k_resize"
NEW_KEY = "uq_prediction_runs_weights_params"  # the convention's name exceeds 63 characters
OLD_STATUS = "status IN ('ok', 'missing_mask', 'size_mismatch', 'unreadable', 'unlabelled')"
NEW_STATUS = ("status IN ('ok', 'missing_mask', 'size_mismatch', 'unreadable', 'unlabelled', "
              "'nonfinite')")


def upgrade() -> None:
    op.add_column("prediction_runs", sa.Column("checkpoint_sha256", sa.Text(),
                                               server_default="", nullable=False))
    op.add_column("prediction_runs", sa.Column("amp", sa.Text(), server_default="",
                                               nullable=False))
    op.drop_constraint(op.f(OLD_KEY), "prediction_runs", type_="unique")
    op.create_unique_constraint(op.f(NEW_KEY), "prediction_runs",
                                ["model_id", "checkpoint_sha256", "amp", "crops", "combine",
                                 "top_k", "resize"])
    op.drop_constraint(op.f("ck_concept_images_status_known"), "concept_images", type_="check")
    op.create_check_constraint(op.f("ck_concept_images_status_known"), "concept_images", NEW_STATUS)


def downgrade() -> None:
    op.execute("DELETE FROM concept_images WHERE status = 'nonfinite'")
    op.drop_constraint(op.f("ck_concept_images_status_known"), "concept_images", type_="check")
    op.create_check_constraint(op.f("ck_concept_images_status_known"), "concept_images", OLD_STATUS)
    # runs that differ only in their weights or AMP mode cannot share the old key: keep the
    # newest of each group
    op.execute(
        "DELETE FROM prediction_runs r USING prediction_runs s "
        "WHERE r.model_id = s.model_id AND r.crops = s.crops AND r.combine = s.combine "
        "AND r.top_k = s.top_k AND r.resize = s.resize AND r.id < s.id")
    op.drop_constraint(op.f(NEW_KEY), "prediction_runs", type_="unique")
    op.create_unique_constraint(op.f(OLD_KEY), "prediction_runs",
                                ["model_id", "crops", "combine", "top_k", "resize"])
    op.drop_column("prediction_runs", "amp")
    op.drop_column("prediction_runs", "checkpoint_sha256")
