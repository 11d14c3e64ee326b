"""Geocoder answers keyed by the data they came from: ``locations.data_key``.

A local Nominatim database can be re-imported from a different file under the same
name (the synthetic worlds of two seeds even reuse OSM ids). The cache namespace of the
Nominatim geocoders now names the imported data (``bulk:<db>:<data key>``, see
``geotool.geocode.nominatim.local.data_key_of``), and every location remembers the
data key of the answer that last wrote it: an answer from other data replaces the row's
attributes and clears its details, so the details step fetches the new polygon.

Cache rows written under the old namespaces (``bulk:<db>``, ``nominatim:<db>``: no data
key) may be stale and are deleted.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("locations", sa.Column("data_key", sa.Text(), nullable=True))
    op.execute("DELETE FROM geocode_cache WHERE namespace ~ '^(bulk|nominatim):[^:]*$'")


def downgrade() -> None:
    op.drop_column("locations", "data_key")
