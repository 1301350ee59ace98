-- The mail outbox: every message a booking change owes its applicant, written in the same
-- transaction as the change, and delivered by the worker (several instances may run it).

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT NOT NULL REFERENCES bookings (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder')),
    -- The booking's sequence when the message was queued: a later change makes it stale.
    booking_sequence INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    -- Fixed when queued, so a message sent twice (a crash between sending and recording) is
    -- recognisably the same message.
    message_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- While sending: until when the claim holds; a crashed worker's claim then lapses.
    claimed_until TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_office ON mail_outbox (office_id, status, id);
CREATE INDEX mail_outbox_booking ON mail_outbox (booking_id);
-- One reminder per visit time: never twice, whatever the instances.
CREATE UNIQUE INDEX mail_outbox_one_reminder ON mail_outbox (booking_id, booking_sequence) WHERE kind = 'reminder';
