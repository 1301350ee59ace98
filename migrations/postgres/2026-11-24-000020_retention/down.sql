DROP INDEX audit_log_at;
ALTER TABLE bookings DROP COLUMN anonymised_at;
