-- The indexes the ledger's queries use, and no others (issue 13). Every index is written on every claim, and the
-- random-keyed ones cost the most once a large table outgrows shared buffers:
-- * `job_id` was never searched by any query (a job's delivery is found by its idempotency key): dropped.
-- * The recipient filter (`deliveries --recipient`, the monitor) compares lower(recipient), which the plain
--   column index could not serve: every such search read the whole table. The index is now on the expression.
-- CREATE INDEX holds writes back while it builds: about a second per million rows.
DROP INDEX IF EXISTS email_deliveries_job_id;
DROP INDEX IF EXISTS email_deliveries_recipient;
CREATE INDEX email_deliveries_recipient ON email_deliveries (lower(recipient), created_at DESC);
