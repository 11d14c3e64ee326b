"""QGIS's own tables for viewing: ``layer_styles`` (default layer styles) and
``qgis_projects`` (projects stored in the database).

Both are created exactly as QGIS 3.22 creates them when a user saves a style to the
database or a project to PostgreSQL (checked against QGIS 3.22.16's DDL), so QGIS reads
and writes them as its own: ``geotool export qgis --in-database`` fills them, a layer
added by hand in QGIS finds its default style in ``layer_styles``, and the project opens
from Project → Open From → PostgreSQL. ``IF NOT EXISTS``: a database where QGIS already
created them keeps its rows. Downgrading drops them (with any style saved there).

Revision ID: 0015
Revises: 0018 (issue 18's slot; chained after the alignment family's 0018, which reached
main first; the lead re-chains at merge)
"""

from alembic import op

revision = "0015"
down_revision = "0018"
branch_labels = None
depends_on = None

LAYER_STYLES = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id serial PRIMARY KEY,
    f_table_catalog varchar,
    f_table_schema varchar,
    f_table_name varchar,
    f_geometry_column varchar,
    stylename text,
    styleqml xml,
    stylesld xml,
    useasdefault boolean,
    description text,
    owner varchar(63) DEFAULT CURRENT_USER,
    ui xml,
    update_time timestamp DEFAULT CURRENT_TIMESTAMP,
    type varchar
)
"""

QGIS_PROJECTS = """
CREATE TABLE IF NOT EXISTS qgis_projects (
    name text PRIMARY KEY,
    metadata jsonb,
    content bytea
)
"""


def upgrade() -> None:
    op.execute(LAYER_STYLES)
    op.execute(QGIS_PROJECTS)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS qgis_projects")
    op.execute("DROP TABLE IF EXISTS layer_styles")
