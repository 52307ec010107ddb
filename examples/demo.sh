#!/usr/bin/env bash
# The main job on the shipped example data, with the embedded default settings: ten days of a shop.
set -euo pipefail
cd "$(dirname "$0")/.."
AS_OF=2026-11-20

if [ -z "${DUNNING_SECRET_KEYS:-}" ]; then
  DUNNING_SECRET_KEYS=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
  export DUNNING_SECRET_KEYS
  echo "demo: DUNNING_SECRET_KEYS is not set, so this demo signs its links with a throwaway key;"
  echo "      the links below stop working when this run ends. Set your own key for real use."
fi
# The demo keeps its ledger apart from yours and starts it empty on every run.
mkdir -p exports
rm -f exports/demo-ledger.sqlite3 exports/demo-ledger.sqlite3-wal exports/demo-ledger.sqlite3-shm
export DUNNING_DATABASE_URL="sqlite:///$PWD/exports/demo-ledger.sqlite3"

echo
echo "== 1. A look at a German platform export (semicolons, decimal commas, Windows-1252), as of $AS_OF"
dunning overdue examples/orders_elopage.csv --profile elopage --as-of "$AS_OF" --dry-run --rejects exports/demo-elopage.rejects.csv

echo
echo "== 2. Installment and subscription plans with a payments file: the ledger learns the payments and the links"
dunning overdue examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --csv exports/demo-overdue.csv --force

echo
echo "== 3. The files for every newsletter tool (test imports, not recorded), then the real hand-over to Mailchimp"
for tool in activecampaign getresponse brevo cleverreach generic; do
  dunning export examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --to "$tool" \
    -o "exports/demo-$tool.csv" --force --no-record
done
# KlickTipp addresses the fields you create by id: examples/klicktipp.toml names them.
dunning export examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --to klicktipp \
  --config examples/klicktipp.toml -o exports/demo-klicktipp.csv --force --no-record
dunning export examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --to mailchimp \
  -o exports/demo-mailchimp.csv --force
echo "Open exports/demo-mailchimp.template.friendly.de.html for the friendly reminder in German, in Mailchimp's merge tags."
echo "The hand-over counts as the friendly reminder: the next stage comes after the cooldown, and never twice."
dunning export examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --to mailchimp --dry-run

echo
echo "== 4. Eight days later: the second reminder as a campaign, sent to the outbox (.eml files)"
dunning campaign prepare second-reminder --as-of 2026-11-28
dunning campaign preview second-reminder --count 1
dunning campaign send second-reminder --as-of 2026-11-28
dunning campaign send second-reminder --as-of 2026-11-28 --send
echo "The messages are in outbox/second-reminder/."

echo
echo "== 5. The German shop hands its friendly reminders to KlickTipp; then what was paid comes in"
dunning export examples/orders_elopage.csv --profile elopage --as-of "$AS_OF" --to klicktipp \
  --config examples/klicktipp.toml -o exports/demo-elopage-klicktipp.csv --force
dunning track import examples/orders_elopage_later.csv --profile elopage --as-of 2026-12-01
dunning track payments examples/payments_later.csv --as-of 2026-12-01

echo
echo "== 6. The bank's statements: a German camt.053 and a Swiss one with QR references, matched to the orders"
dunning track statement examples/statement_germany.camt053.xml --as-of 2026-12-01
dunning track statement examples/statement_switzerland.camt053.xml --as-of 2026-12-01
echo "Sophie Dubois paid 89.00 without a reference: a probable match. Checked, it counts:"
dunning track confirm 2026112600003 --as-of 2026-12-01
dunning track statement examples/statement_germany.camt053.xml --as-of 2026-12-01 --json \
  | python -c 'import json, sys; print("the same statement again:", json.load(sys.stdin)["new_payments"], "new payments")'
echo "Each payment on a reminded order gets a thank-you once, with what is still open:"
dunning campaign prepare thank-you --as-of 2026-12-01
dunning campaign send thank-you --as-of 2026-12-01 --send
dunning campaign prepare thank-you --as-of 2026-12-02

echo
echo "== 7. Before the due date: plans paid on time get a notice a week ahead of their next installment"
dunning overdue examples/plans_on_time.csv --payments examples/payments_on_time.csv --as-of 2026-11-25 --dry-run
dunning campaign prepare upcoming-notice --as-of 2026-11-25
dunning campaign send upcoming-notice --as-of 2026-11-25 --send
echo "The notices are in outbox/upcoming-notice/ (Lena Wolf: 49,90 € due on 1 December)."

echo
echo "== 8. After the final notice: what needs your decision"
dunning campaign prepare final-notice --as-of 2026-12-08
dunning campaign send final-notice --as-of 2026-12-08 --send
dunning actions --as-of 2026-12-23
dunning actions decide P-2004 --as collection --note "no answer to three reminders" --as-of 2026-12-23
echo "P-2004 is with collection now: no further reminders, and the report counts it apart."

echo
echo "== 9. What the reminders brought in"
dunning report --as-of 2026-12-23 --html exports/recovery-report.html
dunning track open --as-of 2026-12-23
echo "Open exports/recovery-report.html for the charts."

echo
echo "== 10. The customer's manage page and the merchant's dashboard"
TOKEN=$(dunning token sign P-2003 --json | python -c 'import json, sys; print(json.load(sys.stdin)["token"])')
echo "Start the server with the demo's key and ledger:"
echo "    DUNNING_SECRET_KEYS='$DUNNING_SECRET_KEYS' DUNNING_DATABASE_URL='$DUNNING_DATABASE_URL' .venv/bin/dunning serve"
echo "then open Claire Martin's order (French, two installments open):"
echo "    http://127.0.0.1:8000/m/$TOKEN"
echo "For the merchant's dashboard (http://127.0.0.1:8000/merchant/), make a password hash first:"
echo "    DUNNING_MERCHANT_PASSWORD_HASH=\$(.venv/bin/dunning merchant-password)   # then start the server as above"
