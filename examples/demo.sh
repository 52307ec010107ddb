#!/usr/bin/env bash
# The main job on the shipped example data, with the embedded default settings.
set -euo pipefail
cd "$(dirname "$0")/.."
AS_OF=2026-11-20

if [ -z "${DUNNING_SECRET_KEYS:-}" ]; then
  DUNNING_SECRET_KEYS=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
  export DUNNING_SECRET_KEYS
  echo "demo: DUNNING_SECRET_KEYS is not set, so this demo signs its links with a throwaway key;"
  echo "      the links below stop working when this run ends. Set your own key for real use."
fi

echo
echo "== 1. A German platform export (semicolons, decimal commas, Windows-1252), as of $AS_OF"
dunning overdue examples/orders_elopage.csv --profile elopage --as-of "$AS_OF" --rejects exports/demo-elopage.rejects.csv

echo
echo "== 2. Installment and subscription plans with a payments file, as CSV and JSON"
dunning overdue examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --csv exports/demo-overdue.csv
dunning overdue examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --stage final --json

echo
echo "== 3. One export per newsletter tool, each with its reminder templates and a manifest"
for tool in mailchimp klicktipp activecampaign getresponse brevo cleverreach generic; do
  dunning export examples/plans.csv --payments examples/payments.csv --as-of "$AS_OF" --to "$tool" \
    -o "exports/demo-$tool.csv" --force
done
echo
echo "Open exports/demo-mailchimp.template.final.de.html for the final notice in German, in Mailchimp's merge tags."

echo
echo "== 4. A reminder campaign: prepare, preview, a dry run, then send to the outbox (.eml files)"
dunning campaign prepare final-notice --as-of "$AS_OF"
dunning campaign preview final-notice --count 1
dunning campaign send final-notice
dunning campaign send final-notice --send
echo "The messages are in outbox/final-notice/; run 'make demo' again and nothing is reminded twice."

echo
echo "== 5. Did it work? Record what was reminded, bring in what was paid since, and report"
dunning overdue examples/orders_elopage.csv --profile elopage --as-of "$AS_OF" --record --record-as elopage-november --show 0 >/dev/null
dunning track import examples/orders_elopage_later.csv --profile elopage --as-of 2026-12-01
dunning track payments examples/payments_later.csv --as-of 2026-12-01
dunning report --as-of 2026-12-01 --html exports/recovery-report.html
dunning track open --as-of 2026-12-01
echo "Open exports/recovery-report.html for the charts."

echo
echo "== 6. The customer's manage page"
TOKEN=$(dunning token sign P-2003 --json | python -c 'import json, sys; print(json.load(sys.stdin)["token"])')
echo "Start the server with the demo's key:"
echo "    DUNNING_SECRET_KEYS='$DUNNING_SECRET_KEYS' .venv/bin/dunning serve"
echo "then open Claire Martin's order (French, two installments open):"
echo "    http://127.0.0.1:8000/m/$TOKEN"
