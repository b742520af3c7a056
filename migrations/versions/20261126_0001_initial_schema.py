"""initial schema

Generated from reconnect_pbx/models.py, then reviewed: constraint names follow the metadata's naming
convention (pk_/uq_/fk_/ck_/ix_), enumerations are VARCHAR(16) + CHECK (no PostgreSQL ENUM types),
the partial unique indexes keep one open assignment per number and per person. A database built
by this migration and one built by ``Base.metadata.create_all`` give the same ``pg_dump -s``.

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 22:59:11.407521+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('audio_blobs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audio_blobs'))
    )
    op.create_table('centres',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('city', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_centres')),
    sa.UniqueConstraint('name', name=op.f('uq_centres_name'))
    )
    op.create_table('beneficiaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('language', sa.Enum('fr', 'en', name='language', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('status', sa.Enum('active', 'suspended', 'closed', name='beneficiary_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_beneficiaries_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiaries'))
    )
    op.create_index(op.f('ix_beneficiaries_centre_id'), 'beneficiaries', ['centre_id'], unique=False)
    op.create_table('phone_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('e164', sa.String(length=16), nullable=False),
    sa.Column('trunk', sa.String(length=64), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('free', 'assigned', 'quarantined', name='number_state', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('quarantine_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(state = 'quarantined') = (quarantine_until IS NOT NULL)", name=op.f('ck_phone_numbers_quarantine_end')),
    sa.CheckConstraint("e164 ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_phone_numbers_e164_format')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_phone_numbers_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_numbers')),
    sa.UniqueConstraint('e164', name=op.f('uq_phone_numbers_e164'))
    )
    op.create_index(op.f('ix_phone_numbers_centre_id'), 'phone_numbers', ['centre_id'], unique=False)
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_audit_events_beneficiary_id_beneficiaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)
    op.create_index(op.f('ix_audit_events_beneficiary_id'), 'audit_events', ['beneficiary_id'], unique=False)
    op.create_table('call_records',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('direction', sa.Enum('inbound', 'outbound', name='call_direction', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('flow', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=128), nullable=True),
    sa.Column('caller_number', sa.String(length=32), nullable=True),
    sa.Column('called_number', sa.String(length=32), nullable=True),
    sa.Column('beneficiary_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('billable_seconds', sa.Integer(), server_default='0', nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('policy_decision', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_call_records_beneficiary_id_beneficiaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_records'))
    )
    op.create_index(op.f('ix_call_records_beneficiary_id'), 'call_records', ['beneficiary_id'], unique=False)
    op.create_index(op.f('ix_call_records_channel_id'), 'call_records', ['channel_id'], unique=False)
    op.create_table('credentials',
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('pin_hash', sa.String(length=200), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('login_suspended', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('pin_changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_credentials_beneficiary_id_beneficiaries')),
    sa.PrimaryKeyConstraint('beneficiary_id', name=op.f('pk_credentials'))
    )
    op.create_table('mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('onboarded', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_mailboxes_beneficiary_id_beneficiaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailboxes')),
    sa.UniqueConstraint('beneficiary_id', name=op.f('uq_mailboxes_beneficiary_id'))
    )
    op.create_table('number_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_number_id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ended_at IS NULL OR ended_at >= started_at', name=op.f('ck_number_assignments_ordered')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_number_assignments_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['phone_number_id'], ['phone_numbers.id'], name=op.f('fk_number_assignments_phone_number_id_phone_numbers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_number_assignments'))
    )
    op.create_index(op.f('ix_number_assignments_beneficiary_id'), 'number_assignments', ['beneficiary_id'], unique=False)
    op.create_index(op.f('ix_number_assignments_phone_number_id'), 'number_assignments', ['phone_number_id'], unique=False)
    op.create_index('uq_number_assignments_open_beneficiary', 'number_assignments', ['beneficiary_id'], unique=True, postgresql_where=sa.text('ended_at IS NULL'))
    op.create_index('uq_number_assignments_open_number', 'number_assignments', ['phone_number_id'], unique=True, postgresql_where=sa.text('ended_at IS NULL'))
    op.create_table('greetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('personal', 'name', name='greeting_kind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('audio_id', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['audio_id'], ['audio_blobs.id'], name=op.f('fk_greetings_audio_id_audio_blobs')),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_greetings_mailbox_id_mailboxes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_greetings'))
    )
    op.create_index('uq_greetings_mailbox_kind', 'greetings', ['mailbox_id', 'kind'], unique=True)
    op.create_table('messages',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('caller_number', sa.String(length=32), nullable=True),
    sa.Column('called_number', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('new', 'saved', 'deleted', name='message_state', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('audio_id', sa.BigInteger(), nullable=True),
    sa.Column('heard_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source_channel_id', sa.String(length=128), nullable=True),
    sa.CheckConstraint('duration_ms >= 0', name=op.f('ck_messages_duration_positive')),
    sa.ForeignKeyConstraint(['audio_id'], ['audio_blobs.id'], name=op.f('fk_messages_audio_id_audio_blobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_messages_mailbox_id_mailboxes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('source_channel_id', name=op.f('uq_messages_source_channel_id'))
    )
    op.create_index('ix_messages_mailbox_state', 'messages', ['mailbox_id', 'state'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_messages_mailbox_state', table_name='messages')
    op.drop_table('messages')
    op.drop_index('uq_greetings_mailbox_kind', table_name='greetings')
    op.drop_table('greetings')
    op.drop_index('uq_number_assignments_open_number', table_name='number_assignments', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_index('uq_number_assignments_open_beneficiary', table_name='number_assignments', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_index(op.f('ix_number_assignments_phone_number_id'), table_name='number_assignments')
    op.drop_index(op.f('ix_number_assignments_beneficiary_id'), table_name='number_assignments')
    op.drop_table('number_assignments')
    op.drop_table('mailboxes')
    op.drop_table('credentials')
    op.drop_index(op.f('ix_call_records_channel_id'), table_name='call_records')
    op.drop_index(op.f('ix_call_records_beneficiary_id'), table_name='call_records')
    op.drop_table('call_records')
    op.drop_index(op.f('ix_audit_events_beneficiary_id'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_action'), table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_index(op.f('ix_phone_numbers_centre_id'), table_name='phone_numbers')
    op.drop_table('phone_numbers')
    op.drop_index(op.f('ix_beneficiaries_centre_id'), table_name='beneficiaries')
    op.drop_table('beneficiaries')
    op.drop_table('centres')
    op.drop_table('audio_blobs')
