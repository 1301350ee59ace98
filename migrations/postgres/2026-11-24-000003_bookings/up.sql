-- Bookings: applicants (web) and the desk take seats in slots; a freed seat cools down before
-- it returns to public sale; retried requests are answered from idempotency records; every
-- change to a booking is an event, written with the change, for the mailer.

-- Seats freed by a cancellation or a move, not yet back on sale (see seat_releases).
ALTER TABLE slots ADD COLUMN cooling INTEGER NOT NULL DEFAULT 0 CHECK (cooling >= 0);

-- How long before a visit an applicant may still cancel or move it.
ALTER TABLE office_services ADD COLUMN change_cutoff_hours INTEGER NOT NULL DEFAULT 24 CHECK (change_cutoff_hours BETWEEN 0 AND 720);

CREATE TABLE bookings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    slot_id BIGINT NOT NULL REFERENCES slots (id),
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    -- Short, random, read aloud at the desk: XXXX-XXXX without 0, O, 1 or I.
    reference TEXT NOT NULL UNIQUE,
    -- The manage token is never stored: only its SHA-256, and the salt it is derived from.
    token_hash TEXT NOT NULL,
    token_salt TEXT NOT NULL,
    case_number TEXT NOT NULL,
    full_name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    language TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'desk')),
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'checked_in', 'attended', 'no_show', 'cancelled')),
    -- Made by staff of an office in preview: a rehearsal, not a real appointment.
    is_test BOOLEAN NOT NULL DEFAULT FALSE,
    -- Raised on every change the applicant is told about (the calendar event's SEQUENCE).
    sequence INTEGER NOT NULL DEFAULT 0,
    created_by BIGINT REFERENCES staff (id),
    cancelled_at TIMESTAMP,
    cancelled_by TEXT CHECK (cancelled_by IN ('applicant', 'office')),
    cancel_reason TEXT,
    checked_in_at TIMESTAMP,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX bookings_slot ON bookings (slot_id);
CREATE INDEX bookings_office_case ON bookings (office_id, case_number);
-- One active booking per case and appointment type: the database enforces it, whatever races.
CREATE UNIQUE INDEX bookings_one_active_per_case ON bookings (office_id, case_number, office_service_id)
    WHERE status IN ('confirmed', 'checked_in');
CREATE INDEX bookings_active_email ON bookings (office_id, email) WHERE status IN ('confirmed', 'checked_in');

-- A freed seat and when it may be sold again.
CREATE TABLE seat_releases (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slot_id BIGINT NOT NULL REFERENCES slots (id),
    available_at TIMESTAMP NOT NULL
);
CREATE INDEX seat_releases_slot ON seat_releases (slot_id, available_at);
CREATE INDEX seat_releases_due ON seat_releases (available_at);

-- The first answer to a request sent with an Idempotency-Key, per office.
CREATE TABLE idempotency_keys (
    office_id BIGINT NOT NULL REFERENCES offices (id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    booking_id BIGINT REFERENCES bookings (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (office_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- What happened to each booking, in order; the mailer turns these into messages.
CREATE TABLE booking_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT NOT NULL REFERENCES bookings (id),
    kind TEXT NOT NULL,
    -- JSON: e.g. the reason of a cancellation, the slot moved from.
    detail TEXT,
    actor_id BIGINT REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX booking_events_booking ON booking_events (booking_id, id);
