-- The tables as they were: SQLite drops a column with a foreign key only by rebuilding.
CREATE TABLE calendar_services_new (
    calendar_id BIGINT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    PRIMARY KEY (calendar_id, office_service_id)
);
INSERT INTO calendar_services_new (calendar_id, office_service_id)
    SELECT cs.calendar_id, cs.office_service_id
    FROM calendar_services cs;
DROP TABLE calendar_services;
ALTER TABLE calendar_services_new RENAME TO calendar_services;
CREATE INDEX calendar_services_service ON calendar_services (office_service_id);

CREATE TABLE opening_hours_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    calendar_id BIGINT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    -- Minutes after local midnight.
    opens_minute INTEGER NOT NULL CHECK (opens_minute BETWEEN 0 AND 1439),
    closes_minute INTEGER NOT NULL CHECK (closes_minute BETWEEN 1 AND 1439),
    CHECK (opens_minute < closes_minute)
);
INSERT INTO opening_hours_new (id, calendar_id, weekday, opens_minute, closes_minute)
    SELECT h.id, h.calendar_id, h.weekday, h.opens_minute, h.closes_minute
    FROM opening_hours h;
DROP TABLE opening_hours;
ALTER TABLE opening_hours_new RENAME TO opening_hours;
CREATE INDEX opening_hours_calendar ON opening_hours (calendar_id);

CREATE TABLE case_readiness_new (
    case_id BIGINT NOT NULL REFERENCES registered_cases (id) ON DELETE CASCADE,
    appointment_type_id BIGINT NOT NULL REFERENCES appointment_types (id),
    -- NULL: ready at once.
    ready_from DATE,
    PRIMARY KEY (case_id, appointment_type_id)
);
INSERT INTO case_readiness_new (case_id, appointment_type_id, ready_from)
    SELECT r.case_id, r.appointment_type_id, r.ready_from
    FROM case_readiness r;
DROP TABLE case_readiness;
ALTER TABLE case_readiness_new RENAME TO case_readiness;

CREATE TABLE seat_releases_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slot_id BIGINT NOT NULL REFERENCES slots (id),
    available_at TIMESTAMP NOT NULL,
    booking_id BIGINT REFERENCES bookings (id)
);
INSERT INTO seat_releases_new (id, slot_id, available_at, booking_id)
    SELECT r.id, r.slot_id, r.available_at, r.booking_id
    FROM seat_releases r;
DROP TABLE seat_releases;
ALTER TABLE seat_releases_new RENAME TO seat_releases;
CREATE INDEX seat_releases_slot ON seat_releases (slot_id, available_at);
CREATE INDEX seat_releases_due ON seat_releases (available_at);
CREATE INDEX seat_releases_booking ON seat_releases (booking_id) WHERE booking_id IS NOT NULL;
