DROP INDEX bookings_one_active_per_case;
CREATE UNIQUE INDEX bookings_one_active_per_case ON bookings (office_id, case_number, office_service_id)
    WHERE status IN ('confirmed', 'checked_in');
