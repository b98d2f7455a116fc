-- Throttle reservations: an attempt is counted as pending before its
-- credential is verified, so parallel guesses cannot all slip through
-- between a check and the count. A reservation lapses at lease_until, so
-- a replica that dies mid-attempt does not hold the key.
ALTER TABLE throttle ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;
ALTER TABLE throttle ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX throttle_update ON throttle (update_time);

-- One-time codes verify phone numbers (by SMS) as well as e-mail
-- addresses.
ALTER TABLE email_codes ADD COLUMN type TEXT NOT NULL DEFAULT 'email';
