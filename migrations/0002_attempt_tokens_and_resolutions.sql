-- Each claim records the attempt that holds it (BullMQ's lock token of that run): the ledger's writes after a
-- claim apply only for that attempt, so a stale attempt can never overwrite a newer one, and an attempt whose
-- job lock is gone is known to have died. A person who resolves an `unknown` delivery is recorded too.
ALTER TABLE email_deliveries
  ADD COLUMN attempt_token text,
  ADD COLUMN resolved_by   text,
  ADD COLUMN resolved_at   timestamptz;
