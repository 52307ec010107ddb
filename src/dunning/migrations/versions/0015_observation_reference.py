"""An observation's reference (a provider's payment id, an end-to-end id) is indexed: a run asks for the movements
the references it brings name, a partition of orders at a time.

Revision ID: 0015
Revises: 0014
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_observations_reference", "observations", ["reference"])


def downgrade() -> None:
    op.drop_index("ix_observations_reference", table_name="observations")
