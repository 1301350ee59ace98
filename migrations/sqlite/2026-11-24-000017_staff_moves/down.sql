ALTER TABLE bookings DROP COLUMN moved_reason;
