"""Boundary files for the offline geocoder: one row per loaded boundary and its subdivided
pieces (small polygons make point-in-polygon joins fast).

See the "boundaries" section of geotool/db/tables.py and geotool/geocode/boundaries.py.

Revision ID: 0004
Revises: 0003
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _geometry() -> geoalchemy2.types.Geometry:
    return geoalchemy2.types.Geometry(srid=4326, dimension=2, spatial_index=False,
                                      from_text="ST_GeomFromEWKT", name="geometry")


def upgrade() -> None:
    op.create_table(
        "boundaries",
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("admin_level", sa.SmallInteger(), nullable=False),
        sa.Column("parent_key", sa.Text(), nullable=True),
        sa.Column("area", sa.Float(precision=53), nullable=False),
        sa.Column("geom", _geometry(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                name=op.f("fk_boundaries_location_id_locations")),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_boundaries")),
    )
    op.create_index("ix_boundaries_geom", "boundaries", ["geom"], unique=False,
                    postgresql_using="gist")
    op.create_index("ix_boundaries_source", "boundaries", ["source"], unique=False)
    op.create_table(
        "boundary_parts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("admin_level", sa.SmallInteger(), nullable=False),
        sa.Column("area", sa.Float(precision=53), nullable=False),
        sa.Column("geom", _geometry(), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["boundaries.location_id"], ondelete="CASCADE",
                                name=op.f("fk_boundary_parts_location_id_boundaries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_parts")),
    )
    op.create_index("ix_boundary_parts_geom", "boundary_parts", ["geom"], unique=False,
                    postgresql_using="gist")
    op.create_index("ix_boundary_parts_location_id", "boundary_parts", ["location_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_boundary_parts_location_id", table_name="boundary_parts")
    op.drop_index("ix_boundary_parts_geom", table_name="boundary_parts", postgresql_using="gist")
    op.drop_table("boundary_parts")
    op.drop_index("ix_boundaries_source", table_name="boundaries")
    op.drop_index("ix_boundaries_geom", table_name="boundaries", postgresql_using="gist")
    op.drop_table("boundaries")
