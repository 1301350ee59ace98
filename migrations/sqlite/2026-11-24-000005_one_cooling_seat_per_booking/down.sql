DROP INDEX seat_releases_booking;
ALTER TABLE seat_releases DROP COLUMN booking_id;
