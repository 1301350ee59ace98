-- Retention and erasure replace a booking's case number with the same mark ('-'), and a visit
-- nobody closed (no check-in, no no-show) stays 'confirmed': two such visits of one service
-- then claimed the same case and the round failed on this index, erasing nothing. An erased
-- booking names no case, so it holds none.
DROP INDEX bookings_one_active_per_case;
CREATE UNIQUE INDEX bookings_one_active_per_case ON bookings (office_id, case_number, office_service_id)
    WHERE status IN ('confirmed', 'checked_in') AND anonymised_at IS NULL;
