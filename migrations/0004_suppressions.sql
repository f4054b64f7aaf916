-- The suppression list (issue 12): addresses not to mail, because they bounced, complained or unsubscribed, or an
-- operator said so. Kept in clear (operators list and edit it; logs show it masked), lower-cased, one row each.
-- `expires_at` NULL means for good (a complaint, an unsubscribe, a manual entry without a term).
CREATE TABLE email_suppressions (
  address     text        PRIMARY KEY,
  reason      text        NOT NULL CHECK (reason IN ('bounce', 'complaint', 'unsubscribe', 'manual')),
  source      text        NOT NULL,
  detail      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz
);

-- Soft bounces reported by a relay's webhook: three for one address within 7 days suppress it.
CREATE TABLE email_soft_bounces (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  address     text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_soft_bounces_address ON email_soft_bounces (address, received_at DESC);

-- Webhook notifications already taken (provider + its id): a replay is refused.
CREATE TABLE email_webhook_receipts (
  provider    text        NOT NULL,
  receipt_id  text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, receipt_id)
);

-- Bounce and complaint notifications name the email by its Message-ID.
CREATE INDEX email_deliveries_message_id ON email_deliveries (message_id);
