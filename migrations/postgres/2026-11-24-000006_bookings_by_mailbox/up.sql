-- The mailbox an applicant's address reaches (no +tag, Gmail without dots): the limit of active
-- bookings per address counts by it, so name+1@, name+2@ … are one address.
ALTER TABLE bookings ADD COLUMN mailbox TEXT;
UPDATE bookings SET mailbox = email;
DROP INDEX bookings_active_email;
CREATE INDEX bookings_active_mailbox ON bookings (office_id, mailbox) WHERE status IN ('confirmed', 'checked_in');
