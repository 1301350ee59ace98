DELETE FROM mail_outbox WHERE kind = 'survey';
UPDATE mail_outbox SET status = 'failed' WHERE status = 'bounced';
CREATE TABLE mail_outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT REFERENCES bookings (id),
    invitation_id BIGINT REFERENCES invitations (id),
    lottery_entry_id BIGINT REFERENCES lottery_entries (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost', 'waitlist_offer', 'reconfirm_request', 'released_unconfirmed')),
    -- The subject's sequence when the message was queued: a later change makes it stale.
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
    CHECK ((booking_id IS NOT NULL) + (invitation_id IS NOT NULL) + (lottery_entry_id IS NOT NULL) = 1)
);
INSERT INTO mail_outbox_new (id, office_id, booking_id, invitation_id, lottery_entry_id, kind, sequence, recipient,
        message_id, status, attempts, next_attempt_at, claimed_until, last_error, sent_at,
        created_at, updated_at)
    SELECT id, office_id, booking_id, invitation_id, lottery_entry_id, kind, sequence, recipient, message_id,
           status, attempts, next_attempt_at, claimed_until, last_error, sent_at, created_at,
           updated_at
    FROM mail_outbox;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_new RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_office ON mail_outbox (office_id, status, id);
CREATE INDEX mail_outbox_booking ON mail_outbox (booking_id);
CREATE INDEX mail_outbox_invitation ON mail_outbox (invitation_id);
CREATE INDEX mail_outbox_lottery_entry ON mail_outbox (lottery_entry_id);
CREATE UNIQUE INDEX mail_outbox_one_reminder ON mail_outbox (booking_id, sequence) WHERE kind = 'reminder';
CREATE UNIQUE INDEX mail_outbox_one_invitation_reminder ON mail_outbox (invitation_id) WHERE kind = 'invitation_reminder';
DROP TABLE mail_tallies;
DROP INDEX bookings_test;
DROP TABLE lead_time_samples;
DROP TABLE survey_answers;
DROP TABLE survey_invitations;
