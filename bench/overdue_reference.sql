-- `dunning overdue` as a competent DuckDB user would write it, doing the same checks: every row whose order id,
-- e-mail, currency, date, count, interval or amount does not parse goes to a rejects file with its column; payments
-- are de-duplicated by payment id and count only in their order's currency; the output has dunning's columns.
-- Placeholders: {plans} {payments} {as_of} {out} {rejects} {currencies} {email}.
SET enable_progress_bar = false;

CREATE TEMP TABLE plans AS
SELECT *,
       CASE WHEN coalesce(order_id, '') = '' THEN 'order_id'
            WHEN NOT regexp_full_match(coalesce(email, ''), '{email}') THEN 'email'
            WHEN currency NOT IN ({currencies}) THEN 'currency'
            WHEN start_day IS NULL THEN 'start_date'
            WHEN months IS NULL OR months < 1 THEN 'interval'
            WHEN count IS NULL OR count < 1 THEN 'installments'
            WHEN amount IS NULL OR amount < 0 THEN 'installment_amount'
       END AS bad
FROM (
    SELECT order_id, email, first_name, last_name, language, product_name, kind, payment_method, status,
           upper(trim(currency)) AS currency,
           TRY_CAST(start_date AS DATE) AS start_day,
           TRY_CAST(split_part(interval, ' ', 1) AS INTEGER) AS months,
           TRY_CAST(installments AS INTEGER) AS count,
           CAST(TRY_CAST(installment_amount AS DECIMAL(18, 2)) * 100 AS BIGINT) AS amount,
           row_number() OVER () + 1 AS line
    FROM read_csv('{plans}', all_varchar = true, header = true)
);

CREATE TEMP TABLE payments AS
SELECT *,
       CASE WHEN coalesce(order_id, '') = '' THEN 'order_id'
            WHEN paid_on IS NULL THEN 'paid_at'
            WHEN currency NOT IN ({currencies}) THEN 'currency'
            WHEN amount IS NULL THEN 'amount'
       END AS bad
FROM (
    SELECT payment_id, order_id, upper(trim(currency)) AS currency,
           TRY_CAST(paid_at AS DATE) AS paid_on,
           CAST(TRY_CAST(amount AS DECIMAL(18, 2)) * 100 AS BIGINT) AS amount,
           row_number() OVER () + 1 AS line
    FROM read_csv('{payments}', all_varchar = true, header = true)
);

COPY (
    SELECT '{plans}' AS file, line AS row, bad AS column, 'does not parse' AS reason, order_id AS value FROM plans WHERE bad IS NOT NULL
    UNION ALL
    SELECT '{payments}', line, bad, 'does not parse', order_id FROM payments WHERE bad IS NOT NULL
) TO '{rejects}' (HEADER, DELIMITER ',');

COPY (
WITH good AS (SELECT * FROM plans WHERE bad IS NULL),
receivables AS (
    SELECT g.order_id, k, CAST(g.start_day + to_months(k * g.months) AS DATE) AS due_date, g.amount
    FROM good g, generate_series(0, g.count - 1) AS s(k)
),
paid AS (
    SELECT p.order_id, SUM(p.amount) AS paid
    FROM (SELECT * FROM payments WHERE bad IS NULL QUALIFY row_number() OVER (PARTITION BY payment_id ORDER BY line) = 1) p
    JOIN good g ON g.order_id = p.order_id AND g.currency = p.currency
    WHERE p.paid_on <= DATE '{as_of}'
    GROUP BY p.order_id
),
allocated AS (
    SELECT r.order_id, r.due_date, r.amount, coalesce(paid.paid, 0) AS paid,
           SUM(r.amount) OVER (PARTITION BY r.order_id ORDER BY r.due_date, r.k) - r.amount AS before
    FROM receivables r LEFT JOIN paid USING (order_id)
),
per_order AS (
    SELECT order_id, SUM(open_amount) AS open_amount, MIN(due_date) AS oldest_due_date, COUNT(*) AS open_installments,
           any_value(paid) AS paid
    FROM (SELECT order_id, due_date, paid, amount - least(greatest(paid - before, 0), amount) AS open_amount FROM allocated)
    WHERE open_amount > 0 AND due_date < DATE '{as_of}'
    GROUP BY order_id
)
SELECT g.order_id, g.email, g.first_name, g.last_name, g.product_name, g.kind, g.payment_method, g.currency,
       format('{{}}.{{:02d}}', o.open_amount // 100, o.open_amount % 100) AS open_amount,
       format('{{}}.{{:02d}}', o.paid // 100, o.paid % 100) AS paid_amount,
       '0.00' AS ledger_paid, '0.00' AS fee, o.oldest_due_date,
       DATE '{as_of}' - o.oldest_due_date AS days_overdue, o.open_installments,
       CASE WHEN DATE '{as_of}' - o.oldest_due_date >= 21 THEN 'final'
            WHEN DATE '{as_of}' - o.oldest_due_date >= 10 THEN 'second'
            WHEN DATE '{as_of}' - o.oldest_due_date >= 3 THEN 'friendly' ELSE '' END AS stage,
       '' AS last_stage, '' AS last_reminded_on, 0 AS reminders_sent,
       CASE WHEN g.payment_method IN ('bank_transfer', 'invoice', 'sofort') THEN 'manual_payment' ELSE 'no_response' END AS reason,
       g.language, '' AS token, '' AS manage_url
FROM per_order o JOIN good g USING (order_id)
WHERE g.status <> 'cancelled' AND o.open_amount >= 100
ORDER BY days_overdue DESC, g.order_id
) TO '{out}' (HEADER, DELIMITER ',');
