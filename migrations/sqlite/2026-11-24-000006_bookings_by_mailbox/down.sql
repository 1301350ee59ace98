DROP INDEX bookings_active_mailbox;
CREATE INDEX bookings_active_email ON bookings (office_id, email) WHERE status IN ('confirmed', 'checked_in');
ALTER TABLE bookings DROP COLUMN mailbox;
