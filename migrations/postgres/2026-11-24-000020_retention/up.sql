-- When a booking's personal fields were replaced (retention, or an erasure request): the row
-- stays, for the counts.
ALTER TABLE bookings ADD COLUMN anonymised_at TIMESTAMP;
CREATE INDEX audit_log_at ON audit_log (at);
