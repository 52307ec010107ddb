"""The shape of the overdue frame every command hands on (exports, campaigns, links), and of the notices."""
from __future__ import annotations

OVERDUE_COLUMNS = [
    "order_id", "email", "first_name", "last_name", "language", "product_name", "created_at", "kind",
    "payment_method", "currency", "status", "open_amount", "paid_amount", "fee", "fees_open", "interest",
    "interest_open", "costs", "costs_open", "costs_warning", "oldest_due_date",
    "days_overdue", "open_installments", "stage", "reason", "reminders_sent", "last_stage", "last_reminded_on",
]
# what a message asks beyond the open amount: this stage's fee, the law's interest and costs, those charged before
CHARGE_COLUMNS = ("fee", "fees_open", "interest", "interest_open", "costs", "costs_open", "costs_warning")
NOTICE_COLUMNS = OVERDUE_COLUMNS + ["about"]  # about: due:<date>, the installment a notice before the due date announces
