"""``models`` learn two families: the classifier and the image–GPS alignment model.

- ``models.family`` (``classifier`` | ``align``; existing rows are classifiers).
- ``models.dataset_id``: the dataset an alignment model learned (a classifier's is its
  set's); NULL when the dataset is dropped.
- ``models.concepts``: an alignment model's concept names, in bank order (JSON list).

Revision ID: 0018
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("models", sa.Column("family", sa.Text(), server_default="classifier",
                                      nullable=False))
    op.create_check_constraint(op.f("ck_models_family_known"), "models",
                               "family IN ('classifier', 'align')")
    op.add_column("models", sa.Column("dataset_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_models_dataset_id_datasets"), "models", "datasets",
                          ["dataset_id"], ["id"], ondelete="SET NULL")
    op.add_column("models", sa.Column("concepts", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("models", "concepts")
    op.drop_constraint(op.f("fk_models_dataset_id_datasets"), "models", type_="foreignkey")
    op.drop_column("models", "dataset_id")
    op.drop_constraint(op.f("ck_models_family_known"), "models", type_="check")
    op.drop_column("models", "family")
