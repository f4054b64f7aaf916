-- The delivery ledger: one row per email (per idempotency key), the record that keeps an email from being sent
-- twice. Runs with search_path set to the ledger schema (LEDGER_SCHEMA).
CREATE TABLE email_deliveries (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  idempotency_key text        NOT NULL UNIQUE,
  job_id          text        NOT NULL,
  queue           text        NOT NULL,
  task            text        NOT NULL,
  recipient       text,
  subject         text,
  status          text        NOT NULL CHECK (status IN
                    ('sending', 'sent', 'failed', 'bounced', 'expired', 'suppressed', 'rate_limited', 'unknown')),
  attempts        integer     NOT NULL DEFAULT 0,
  message_id      text,
  smtp_response   text,
  last_error      text,
  correlation_id  text,
  -- While status is 'sending': until when the claiming attempt may still be working. Past it, the attempt died
  -- somewhere between the claim and the record of its outcome.
  lease_until     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz
);

CREATE INDEX email_deliveries_job_id ON email_deliveries (job_id);
CREATE INDEX email_deliveries_recipient ON email_deliveries (recipient, created_at DESC);
CREATE INDEX email_deliveries_status ON email_deliveries (status, updated_at DESC);
CREATE INDEX email_deliveries_created_at ON email_deliveries (created_at);
