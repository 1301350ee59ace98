DROP TABLE booking_events;
DROP TABLE idempotency_keys;
DROP TABLE seat_releases;
DROP TABLE bookings;
ALTER TABLE office_services DROP COLUMN change_cutoff_hours;
ALTER TABLE slots DROP COLUMN cooling;
