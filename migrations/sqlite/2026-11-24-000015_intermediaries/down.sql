DROP INDEX bookings_by_intermediary;
ALTER TABLE bookings DROP COLUMN intermediary_id;
DROP TABLE accreditations;
DELETE FROM staff WHERE role = 'intermediary';
CREATE TABLE staff_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'operator')),
    office_id INTEGER REFERENCES offices (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((role = 'admin') = (office_id IS NULL))
);
INSERT INTO staff_old SELECT id, email, password_hash, role, office_id, active, created_at, updated_at FROM staff;
DROP TABLE staff;
ALTER TABLE staff_old RENAME TO staff;
CREATE INDEX staff_office_id ON staff (office_id);
