"""Foundation schema: datasets, images, locations, address vectors, partitionings,
cells, labels, models, predictions, concepts and concept influence.

See geotool/db/tables.py for what each table holds.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 14:09:27.160219
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import geoalchemy2

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('concepts',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('vocabulary', sa.Text(), server_default='ade20k', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_concepts')),
    sa.UniqueConstraint('name', name=op.f('uq_concepts_name'))
    )
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('name', name=op.f('uq_datasets_name'))
    )
    op.create_table('locations',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('osm_key', sa.Text(), nullable=False),
    sa.Column('osm_type', sa.String(length=1), nullable=False),
    sa.Column('osm_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('type', sa.Text(), nullable=True),
    sa.Column('admin_level', sa.SmallInteger(), nullable=True),
    sa.Column('rank_address', sa.SmallInteger(), nullable=True),
    sa.Column('is_area', sa.Boolean(), nullable=True),
    sa.Column('country_code', sa.Text(), nullable=True),
    sa.Column('wikidata', sa.Text(), nullable=True),
    sa.Column('wikipedia', sa.Text(), nullable=True),
    sa.Column('population', sa.BigInteger(), nullable=True),
    sa.Column('place', sa.Text(), nullable=True),
    sa.Column('importance', sa.Float(precision=53), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('centroid', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('details_source', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations')),
    sa.UniqueConstraint('osm_key', name=op.f('uq_locations_osm_key'))
    )
    op.create_index('ix_locations_centroid', 'locations', ['centroid'], unique=False, postgresql_using='gist')
    op.create_index('ix_locations_geom', 'locations', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('images',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('split', sa.Text(), nullable=False),
    sa.Column('lat', sa.Float(precision=53), nullable=False),
    sa.Column('lon', sa.Float(precision=53), nullable=False),
    sa.Column('path', sa.Text(), nullable=True),
    sa.Column('mask_path', sa.Text(), nullable=True),
    sa.Column('author', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), sa.Computed('ST_SetSRID(ST_MakePoint(lon, lat), 4326)', persisted=True), nullable=False),
    sa.CheckConstraint("split IN ('train', 'val', 'test')", name=op.f('ck_images_split_known')),
    sa.CheckConstraint('lat BETWEEN -90 AND 90', name=op.f('ck_images_lat_range')),
    sa.CheckConstraint('lon BETWEEN -180 AND 180', name=op.f('ck_images_lon_range')),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_images_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images')),
    sa.UniqueConstraint('dataset_id', 'external_id', name=op.f('uq_images_dataset_id_external_id'))
    )
    op.create_index('ix_images_dataset_id_split', 'images', ['dataset_id', 'split'], unique=False)
    op.create_index('ix_images_geom', 'images', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('partitioning_sets',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('scheme', sa.Text(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_partitioning_sets_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partitioning_sets')),
    sa.UniqueConstraint('name', name=op.f('uq_partitioning_sets_name'))
    )
    op.create_table('rejected_rows',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('line_no', sa.BigInteger(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_rejected_rows_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_rows')),
    sa.UniqueConstraint('dataset_id', 'source', 'line_no', name=op.f('uq_rejected_rows_dataset_id_source_line_no'))
    )
    op.create_table('runs',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('stage', sa.Text(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('status', sa.Text(), server_default='running', nullable=False),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_runs_dataset_id_datasets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('image_addresses',
    sa.Column('image_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('location_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_addresses_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_image_addresses_location_id_locations')),
    sa.PrimaryKeyConstraint('image_id', 'position', name=op.f('pk_image_addresses'))
    )
    op.create_index('ix_image_addresses_location_id', 'image_addresses', ['location_id'], unique=False)
    op.create_table('image_geocodes',
    sa.Column('image_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('geocoded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('ok', 'unplaceable', 'failed')", name=op.f('ck_image_geocodes_status_known')),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_geocodes_image_id_images'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', name=op.f('pk_image_geocodes'))
    )
    op.create_table('models',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=True),
    sa.Column('arch', sa.Text(), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('checkpoint_path', sa.Text(), nullable=True),
    sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['set_id'], ['partitioning_sets.id'], name=op.f('fk_models_set_id_partitioning_sets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('name', name=op.f('uq_models_name'))
    )
    op.create_table('partitionings',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('tau', sa.Integer(), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('n_classes', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['set_id'], ['partitioning_sets.id'], name=op.f('fk_partitionings_set_id_partitioning_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partitionings')),
    sa.UniqueConstraint('set_id', 'level', name=op.f('uq_partitionings_set_id_level'))
    )
    op.create_table('cells',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('partitioning_id', sa.Integer(), nullable=False),
    sa.Column('class_index', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.BigInteger(), nullable=True),
    sa.Column('s2_token', sa.Text(), nullable=True),
    sa.Column('n_images', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Float(precision=53), nullable=False),
    sa.Column('lon', sa.Float(precision=53), nullable=False),
    sa.Column('lat_plain', sa.Float(precision=53), nullable=True),
    sa.Column('lon_plain', sa.Float(precision=53), nullable=True),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('geom_source', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_cells_location_id_locations')),
    sa.ForeignKeyConstraint(['partitioning_id'], ['partitionings.id'], name=op.f('fk_cells_partitioning_id_partitionings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cells')),
    sa.UniqueConstraint('partitioning_id', 'class_index', name=op.f('uq_cells_partitioning_id_class_index'))
    )
    op.create_index('ix_cells_geom', 'cells', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('concept_influence',
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.BigInteger(), nullable=False),
    sa.Column('concept_id', sa.Integer(), nullable=False),
    sa.Column('tki', sa.Float(precision=53), nullable=False),
    sa.Column('size', sa.Float(precision=53), nullable=False),
    sa.Column('ci', sa.Float(precision=53), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.ForeignKeyConstraint(['concept_id'], ['concepts.id'], name=op.f('fk_concept_influence_concept_id_concepts')),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_concept_influence_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_concept_influence_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_id', 'image_id', 'concept_id', name=op.f('pk_concept_influence'))
    )
    op.create_index('ix_concept_influence_concept_id', 'concept_influence', ['concept_id'], unique=False)
    op.create_table('cell_ancestors',
    sa.Column('cell_id', sa.BigInteger(), nullable=False),
    sa.Column('ancestor_partitioning_id', sa.Integer(), nullable=False),
    sa.Column('ancestor_cell_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['ancestor_cell_id'], ['cells.id'], name=op.f('fk_cell_ancestors_ancestor_cell_id_cells'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ancestor_partitioning_id'], ['partitionings.id'], name=op.f('fk_cell_ancestors_ancestor_partitioning_id_partitionings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cell_id'], ['cells.id'], name=op.f('fk_cell_ancestors_cell_id_cells'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cell_id', 'ancestor_partitioning_id', name=op.f('pk_cell_ancestors'))
    )
    op.create_table('image_labels',
    sa.Column('partitioning_id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.BigInteger(), nullable=False),
    sa.Column('cell_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['cell_id'], ['cells.id'], name=op.f('fk_image_labels_cell_id_cells'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_labels_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partitioning_id'], ['partitionings.id'], name=op.f('fk_image_labels_partitioning_id_partitionings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partitioning_id', 'image_id', name=op.f('pk_image_labels'))
    )
    op.create_index('ix_image_labels_cell_id', 'image_labels', ['cell_id'], unique=False)
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


def downgrade() -> None:
    op.drop_index('ix_predictions_geom', table_name='predictions', postgresql_using='gist')
    op.drop_table('predictions')
    op.drop_index('ix_image_labels_cell_id', table_name='image_labels')
    op.drop_table('image_labels')
    op.drop_table('cell_ancestors')
    op.drop_index('ix_concept_influence_concept_id', table_name='concept_influence')
    op.drop_table('concept_influence')
    op.drop_index('ix_cells_geom', table_name='cells', postgresql_using='gist')
    op.drop_table('cells')
    op.drop_table('partitionings')
    op.drop_table('models')
    op.drop_table('image_geocodes')
    op.drop_index('ix_image_addresses_location_id', table_name='image_addresses')
    op.drop_table('image_addresses')
    op.drop_table('runs')
    op.drop_table('rejected_rows')
    op.drop_table('partitioning_sets')
    op.drop_index('ix_images_geom', table_name='images', postgresql_using='gist')
    op.drop_index('ix_images_dataset_id_split', table_name='images')
    op.drop_table('images')
    op.drop_index('ix_locations_geom', table_name='locations', postgresql_using='gist')
    op.drop_index('ix_locations_centroid', table_name='locations', postgresql_using='gist')
    op.drop_table('locations')
    op.drop_table('datasets')
    op.drop_table('concepts')
