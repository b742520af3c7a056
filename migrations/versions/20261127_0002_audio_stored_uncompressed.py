"""Store audio uncompressed: PostgreSQL's TOAST compression never shrinks WAV audio but costs CPU.

Measured by bench/load.py: PostgreSQL CPU per stored message 5.0 → 2.4 ms (docs/benchmarks.md).
SQLAlchemy has no notion of a column's storage mode, so the models do not change (db check agrees).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("ALTER TABLE audio_blobs ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE audio_blobs ALTER COLUMN data SET STORAGE EXTENDED")
