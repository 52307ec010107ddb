"""Minor units as ISO 4217 sets them, whatever babel is installed: amounts in the currencies where the tested babel's
CLDR digits were fewer (HUF, IDR, COP and others kept in whole units) are scaled up to ISO's minor units, in every
table that holds money. 3892 HUF stored as 3892 becomes 389200 (3892.00 HUF): the same money.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# currency -> 10 ** (ISO 4217 minor units - the digits babel 2.19's CLDR data gave it); frozen here, as this step ran
SCALE = {**dict.fromkeys(("AFN", "ALL", "COP", "HUF", "IDR", "IRR", "KPW", "LAK", "LBP", "MGA", "MMK", "SOS", "SYP",
                          "YER", "MRO", "SLL", "STD", "TMM", "ZMK", "ZWD"), 100), "IQD": 1000}
# table -> its money columns; each row names its currency
MONEY = {"reminders": ("open_amount", "fee", "fees_open"), "observations": ("amount",), "movements": ("amount",),
         "decisions": ("amount_open",), "statement_entries": ("amount", "charges")}


def upgrade() -> None:
    _scale(lambda column, factor: f"{column} * {factor}")


def downgrade() -> None:
    _scale(lambda column, factor: f"{column} / {factor}")


def _scale(expression) -> None:
    for currency, factor in SCALE.items():
        for table, columns in MONEY.items():
            sets = ", ".join(f"{c} = {expression(c, factor)}" for c in columns)
            op.execute(sa.text(f"UPDATE {table} SET {sets} WHERE currency = :currency").bindparams(currency=currency))
        sets = ", ".join(f"{c} = {expression(c, factor)}" for c in ("amount", "shop_open"))
        op.execute(sa.text(f"UPDATE charges SET {sets} WHERE order_key IN (SELECT order_key FROM orders WHERE currency = "
                           ":currency)").bindparams(currency=currency))
