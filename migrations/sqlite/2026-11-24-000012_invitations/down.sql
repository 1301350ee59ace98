CREATE TABLE mail_outbox_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT NOT NULL REFERENCES bookings (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder')),
    booking_sequence INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO mail_outbox_old (id, office_id, booking_id, kind, booking_sequence, recipient,
        message_id, status, attempts, next_attempt_at, claimed_until, last_error, sent_at,
        created_at, updated_at)
    SELECT id, office_id, booking_id, kind, sequence, recipient, message_id, status, attempts,
           next_attempt_at, claimed_until, last_error, sent_at, created_at, updated_at
    FROM mail_outbox WHERE booking_id IS NOT NULL;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_old RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_office ON mail_outbox (office_id, status, id);
CREATE INDEX mail_outbox_booking ON mail_outbox (booking_id);
CREATE UNIQUE INDEX mail_outbox_one_reminder ON mail_outbox (booking_id, booking_sequence) WHERE kind = 'reminder';
DROP TABLE invitations;
