CREATE TABLE mail_outbox_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT REFERENCES bookings (id),
    invitation_id BIGINT REFERENCES invitations (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder')),
    sequence INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((booking_id IS NULL) <> (invitation_id IS NULL))
);
INSERT INTO mail_outbox_old (id, office_id, booking_id, invitation_id, kind, sequence, recipient,
        message_id, status, attempts, next_attempt_at, claimed_until, last_error, sent_at,
        created_at, updated_at)
    SELECT id, office_id, booking_id, invitation_id, kind, sequence, recipient, message_id,
           status, attempts, next_attempt_at, claimed_until, last_error, sent_at, created_at,
           updated_at
    FROM mail_outbox WHERE lottery_entry_id IS NULL;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_old RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_office ON mail_outbox (office_id, status, id);
CREATE INDEX mail_outbox_booking ON mail_outbox (booking_id);
CREATE INDEX mail_outbox_invitation ON mail_outbox (invitation_id);
CREATE UNIQUE INDEX mail_outbox_one_reminder ON mail_outbox (booking_id, sequence) WHERE kind = 'reminder';
CREATE UNIQUE INDEX mail_outbox_one_invitation_reminder ON mail_outbox (invitation_id) WHERE kind = 'invitation_reminder';
DROP TABLE lottery_entries;
DROP TABLE lottery_draws;
ALTER TABLE office_services DROP COLUMN release_weeks_ahead;
ALTER TABLE office_services DROP COLUMN release_minute;
ALTER TABLE office_services DROP COLUMN release_weekday;
ALTER TABLE office_services DROP COLUMN lottery_window_minutes;
ALTER TABLE office_services DROP COLUMN release_mode;
DROP INDEX slots_opening;
ALTER TABLE slots DROP COLUMN opens_at;
