-- Intermediaries (patronati, associations, employers' consultants) sign in like staff, with no
-- office of their own: an admin accredits them office by office.
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check
    CHECK (role IN ('admin', 'manager', 'operator', 'intermediary'));
ALTER TABLE staff DROP CONSTRAINT staff_check;
ALTER TABLE staff ADD CONSTRAINT staff_office_fits_role
    CHECK ((role IN ('admin', 'intermediary')) = (office_id IS NULL));

-- An intermediary's accreditation at one office, with its quotas: bookings active at once, and
-- bookings made per week (Monday to Sunday, office time). Revoked, it stays for the record.
CREATE TABLE accreditations (
    id BIGSERIAL PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    intermediary_id BIGINT NOT NULL REFERENCES staff (id),
    organisation TEXT NOT NULL,
    max_active INTEGER NOT NULL CHECK (max_active >= 0),
    max_per_week INTEGER NOT NULL CHECK (max_per_week >= 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    UNIQUE (office_id, intermediary_id)
);

-- Every booking an intermediary made for a client says so.
ALTER TABLE bookings ADD COLUMN intermediary_id BIGINT REFERENCES staff (id);
CREATE INDEX bookings_by_intermediary ON bookings (office_id, intermediary_id, created_at)
    WHERE intermediary_id IS NOT NULL;
