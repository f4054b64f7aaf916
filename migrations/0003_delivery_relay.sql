-- Which relay sent each email (issue 12): `primary`, `fallback` (SMTP_FALLBACK_HOST, taken by critical tasks while
-- the primary's breaker is open) or `outbox` (development). NULL for rows from before this migration, and for
-- rows not sent.
ALTER TABLE email_deliveries
  ADD COLUMN relay text;
