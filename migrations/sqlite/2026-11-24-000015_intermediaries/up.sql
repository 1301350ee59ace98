-- Intermediaries (patronati, associations, employers' consultants) sign in like staff, with no
-- office of their own: an admin accredits them office by office. SQLite cannot change a CHECK,
-- so the table is rebuilt (the migrations run with foreign keys off, as SQLite's procedure for
-- schema changes asks; other tables' references to `staff` then find the new table).
CREATE TABLE staff_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'operator', 'intermediary')),
    office_id INTEGER REFERENCES offices (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Admins and intermediaries are national; managers and operators belong to one office.
    CHECK ((role IN ('admin', 'intermediary')) = (office_id IS NULL))
);
INSERT INTO staff_new SELECT id, email, password_hash, role, office_id, active, created_at, updated_at FROM staff;
DROP TABLE staff;
ALTER TABLE staff_new RENAME TO staff;
CREATE INDEX staff_office_id ON staff (office_id);

-- An intermediary's accreditation at one office, with its quotas: bookings active at once, and
-- bookings made per week (Monday to Sunday, office time). Revoked, it stays for the record.
CREATE TABLE accreditations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
