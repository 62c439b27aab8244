"""vouchers and family cards

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 06:44:51.974646
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('families', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quiet_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('family_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=12), nullable=False),
    sa.Column('categories', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('city', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['family_id'], ['families.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('family_id'),
    sa.UniqueConstraint('number')
    )
    op.create_table('vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('programme', sa.String(length=24), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('issued_by', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('redeemed_by', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expiry_told_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['family_id'], ['families.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['issued_by'], ['staff_users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['redeemed_by'], ['staff_users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['replaces_id'], ['vouchers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_family_id'), ['family_id'], unique=False)
        batch_op.create_index('ix_vouchers_offer_month', ['offer_id', 'month'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index('ix_vouchers_status_expires', ['status', 'expires_at'], unique=False)

    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('telegram_user_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('telegram_link_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('telegram_link_expires', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            'ix_staff_users_telegram_user_id', ['telegram_user_id'], unique=True
        )



def downgrade() -> None:
    with op.batch_alter_table('families', schema=None) as batch_op:
        batch_op.drop_column('quiet_at')

    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_users_telegram_user_id')
        batch_op.drop_column('telegram_link_expires')
        batch_op.drop_column('telegram_link_hash')
        batch_op.drop_column('telegram_user_id')

    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index('ix_vouchers_status_expires')
        batch_op.drop_index(batch_op.f('ix_vouchers_partner_id'))
        batch_op.drop_index('ix_vouchers_offer_month')
        batch_op.drop_index(batch_op.f('ix_vouchers_family_id'))

    op.drop_table('vouchers')
    op.drop_table('family_cards')
