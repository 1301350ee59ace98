-- The booking whose cancellation or move left a seat cooling: a booking keeps at most one seat
-- out of sale, so a second move puts the seat it left before straight back on sale.
ALTER TABLE seat_releases ADD COLUMN booking_id BIGINT REFERENCES bookings (id);
CREATE INDEX seat_releases_booking ON seat_releases (booking_id) WHERE booking_id IS NOT NULL;
