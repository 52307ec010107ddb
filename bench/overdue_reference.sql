-- `dunning overdue` as a competent DuckDB user would write it, doing the same checks: every row whose order id,
-- e-mail, currency, status, date, count, interval or amount does not parse goes to a rejects file with its column;
-- an order id that repeats with different data is rejected (an identical repeat counts once); payments whose id
-- repeats with different data, of zero or negative amount, dated after the as-of date or in another currency than
-- their order's are rejected, identical repeats count once; the output has dunning's columns. It also builds the
-- rows dunning's ledger stores (ledger_orders, ledger_charges, ledger_observations, ledger_movements), which
-- overdue_reference.py writes into the same SQLite ledger; run alone, the script computes them and writes nothing.
-- Placeholders: {plans} {payments} {as_of} {out} {rejects} {currencies} {statuses} {email} {origin}.
SET enable_progress_bar = false;

CREATE TEMP TABLE plans AS
WITH parsed AS (
    SELECT *,
           CASE WHEN coalesce(order_id, '') = '' THEN 'order_id'
                WHEN NOT regexp_full_match(coalesce(email, ''), '{email}') THEN 'email'
                WHEN currency NOT IN ({currencies}) THEN 'currency'
                WHEN status <> '' AND status NOT IN ({statuses}) THEN 'status'
                WHEN start_day IS NULL THEN 'start_date'
                WHEN months IS NULL OR months < 1 THEN 'interval'
                WHEN count IS NULL OR count < 1 THEN 'installments'
                WHEN amount IS NULL OR amount < 0 THEN 'installment_amount'
           END AS bad
    FROM (
        SELECT order_id, email, coalesce(first_name, '') AS first_name, coalesce(last_name, '') AS last_name,
               coalesce(language, '') AS language, coalesce(product_name, '') AS product_name, kind, payment_method,
               lower(replace(trim(coalesce(status, '')), ' ', '_')) AS status,
               upper(trim(currency)) AS currency,
               TRY_CAST(start_date AS DATE) AS start_day,
               TRY_CAST(split_part(interval, ' ', 1) AS INTEGER) AS months,
               TRY_CAST(installments AS INTEGER) AS count,
               CAST(TRY_CAST(installment_amount AS DECIMAL(18, 2)) * 100 AS BIGINT) AS amount,
               row_number() OVER () + 1 AS line
        FROM read_csv('{plans}', all_varchar = true, header = true)
    )
),
judged AS (
    SELECT *, hash(email, first_name, last_name, language, product_name, kind, payment_method, status, currency,
                   start_day, months, count, amount) AS digest
    FROM parsed
)
SELECT * EXCLUDE (bad, repeat),
       CASE WHEN bad IS NULL AND repeat AND min(digest) OVER same <> max(digest) OVER same THEN 'order_id' ELSE bad END AS bad,
       bad IS NULL AND row_number() OVER (PARTITION BY order_id, bad IS NULL ORDER BY line) > 1 AS later
FROM (SELECT *, count(*) FILTER (WHERE bad IS NULL) OVER (PARTITION BY order_id) > 1 AS repeat FROM judged)
WINDOW same AS (PARTITION BY order_id, bad IS NULL);

CREATE TEMP TABLE good AS
SELECT row_number() OVER (ORDER BY line) AS order_key, * FROM plans WHERE bad IS NULL AND NOT later;

CREATE TEMP TABLE payments AS
WITH parsed AS (
    SELECT p.*, g.order_key, g.currency AS order_currency,
           CASE WHEN coalesce(p.order_id, '') = '' THEN 'order_id'
                WHEN p.paid_on IS NULL THEN 'paid_at'
                WHEN p.currency NOT IN ({currencies}) THEN 'currency'
                WHEN p.amount IS NULL OR p.amount <= 0 THEN 'amount'
                WHEN p.paid_on > DATE '{as_of}' THEN 'paid_at'
                WHEN g.currency IS NOT NULL AND g.currency <> p.currency THEN 'currency'
           END AS bad
    FROM (
        SELECT payment_id, order_id, upper(trim(currency)) AS currency,
               TRY_CAST(paid_at AS DATE) AS paid_on,
               CAST(TRY_CAST(amount AS DECIMAL(18, 2)) * 100 AS BIGINT) AS amount,
               row_number() OVER () + 1 AS line
        FROM read_csv('{payments}', all_varchar = true, header = true)
    ) p LEFT JOIN good g USING (order_id)
)
SELECT * EXCLUDE (bad),
       CASE WHEN bad IS NULL AND coalesce(payment_id, '') <> ''
                 AND min(hash(order_id, paid_on, amount, currency)) OVER same
                     <> max(hash(order_id, paid_on, amount, currency)) OVER same THEN 'payment_id'
            ELSE bad END AS bad,
       bad IS NULL AND coalesce(payment_id, '') <> '' AND row_number() OVER (PARTITION BY payment_id, bad IS NULL ORDER BY line) > 1
           AS later
FROM parsed
WINDOW same AS (PARTITION BY payment_id, bad IS NULL);

COPY (
    SELECT '{plans}' AS file, line AS row, bad AS column, 'does not parse' AS reason, order_id AS value FROM plans WHERE bad IS NOT NULL
    UNION ALL
    SELECT '{payments}', line, bad, 'does not parse', order_id FROM payments WHERE bad IS NOT NULL
) TO '{rejects}' (HEADER, DELIMITER ',');

CREATE TEMP TABLE receivables AS
SELECT g.order_key, g.order_id, k, CAST(g.start_day + to_months(k * g.months) AS DATE) AS due_date, g.amount
FROM good g, generate_series(0, g.count - 1) AS s(k);

CREATE TEMP TABLE accepted AS
SELECT row_number() OVER (ORDER BY line) AS id, *,
       CASE WHEN order_key IS NULL THEN NULL ELSE sum(CASE WHEN order_key IS NULL THEN 0 ELSE 1 END) OVER (ORDER BY line) END
           AS movement_id
FROM payments WHERE bad IS NULL AND NOT later;

-- the ledger's rows, as dunning stores them (dates as ISO text, times in UTC)
CREATE TEMP TABLE ledger_orders AS
SELECT g.order_key, g.order_id, g.email, g.first_name, g.last_name, g.language, g.product_name, g.currency, g.status,
       '{as_of}' AS seen_on, 0 AS open_only, CAST(g.digest >> 1 AS BIGINT) AS details_digest,
       CAST(v.digest >> 1 AS BIGINT) AS view_digest, strftime(now() AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') AS updated_at
FROM good g JOIN (SELECT order_key, bit_xor(hash(order_id, k, due_date, amount)) AS digest FROM receivables GROUP BY order_key) v
     USING (order_key)
ORDER BY g.order_key;

CREATE TEMP TABLE ledger_charges AS
SELECT order_key, 'installment' AS kind, k + 1 AS seq, CAST(due_date AS VARCHAR) AS due_on, amount, amount AS shop_open
FROM receivables ORDER BY order_key, k;

CREATE TEMP TABLE ledger_observations AS
SELECT id, 'file' AS source, CASE WHEN coalesce(payment_id, '') <> '' THEN payment_id ELSE CAST(hash(order_id, paid_on, amount, currency, line) AS VARCHAR) END
       AS source_key, '{origin}' AS origin, order_id, order_key, 'payment' AS kind, amount, currency,
       CAST(paid_on AS VARCHAR) AS occurred_on, coalesce(payment_id, '') AS reference,
       CASE WHEN order_key IS NULL THEN 'unmatched' ELSE 'counted' END AS status, movement_id, '' AS note,
       strftime(now() AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') AS recorded_at
FROM accepted ORDER BY id;

CREATE TEMP TABLE ledger_movements AS
SELECT movement_id AS id, order_key, 'payment' AS kind, amount, currency, CAST(paid_on AS VARCHAR) AS occurred_on, 'file' AS source,
       '{origin}' AS origin, NULL AS covers_from, NULL AS reverses, NULL AS made_by, '' AS note,
       strftime(now() AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') AS recorded_at
FROM accepted WHERE movement_id IS NOT NULL ORDER BY movement_id;

COPY (
WITH paid AS (
    SELECT order_key, SUM(amount) AS paid FROM accepted WHERE order_key IS NOT NULL GROUP BY order_key
),
allocated AS (
    SELECT r.order_key, r.due_date, r.amount, coalesce(paid.paid, 0) AS paid,
           SUM(r.amount) OVER (PARTITION BY r.order_key ORDER BY r.due_date, r.k) - r.amount AS before
    FROM receivables r LEFT JOIN paid USING (order_key)
),
per_order AS (
    SELECT order_key, SUM(open_amount) AS open_amount, MIN(due_date) AS oldest_due_date, COUNT(*) AS open_installments,
           any_value(paid) AS paid
    FROM (SELECT order_key, due_date, paid, amount - least(greatest(paid - before, 0), amount) AS open_amount FROM allocated)
    WHERE open_amount > 0 AND due_date < DATE '{as_of}'
    GROUP BY order_key
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
FROM per_order o JOIN good g USING (order_key)
WHERE g.status NOT IN ('cancelled', 'refunded', 'draft') AND o.open_amount >= 100
ORDER BY days_overdue DESC, g.order_id
) TO '{out}' (HEADER, DELIMITER ',');
