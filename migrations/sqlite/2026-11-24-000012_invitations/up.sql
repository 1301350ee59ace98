-- Invitations to book (convocazioni): the case system or staff summon a case to book one visit
-- of a service before a deadline. The mail's link carries a token that stands for exactly one
-- booking; like a manage token it is derived from a stored salt and kept only as a SHA-256.
-- The office may propose a slot: its seat is held for the invitation (counted in the slot's
-- desk seats) until the applicant books, or the invitation expires or is cancelled.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    reference TEXT NOT NULL UNIQUE,
    token_salt TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    case_number TEXT NOT NULL,
    -- As the case system knows it, when it does; else the applicant types it when booking.
    full_name TEXT,
    email TEXT NOT NULL,
    language TEXT NOT NULL,
    deadline TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sent', 'booked', 'expired', 'cancelled')),
    -- Bumped by every change, so mail queued before it is recognisably stale.
    sequence INTEGER NOT NULL DEFAULT 1,
    proposed_slot_id BIGINT REFERENCES slots (id),
    -- Whether the proposed slot's seat is still held for this invitation.
    holds_seat BOOLEAN NOT NULL DEFAULT FALSE,
    booking_id BIGINT REFERENCES bookings (id),
    -- When its one reminder is due (none: sent too close to the deadline to need one), and
    -- when it was queued.
    remind_at TIMESTAMP,
    reminded_at TIMESTAMP,
    created_by BIGINT REFERENCES staff (id),
    client_id BIGINT REFERENCES integration_clients (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One open invitation per case and service: inviting again answers with the open one.
CREATE UNIQUE INDEX invitations_one_open ON invitations (office_service_id, case_number) WHERE status = 'sent';
CREATE INDEX invitations_office ON invitations (office_id, status, id);
CREATE INDEX invitations_case ON invitations (office_id, case_number);
CREATE INDEX invitations_due ON invitations (status, deadline);
CREATE INDEX invitations_reminders_due ON invitations (remind_at) WHERE reminded_at IS NULL;
CREATE INDEX invitations_booking ON invitations (booking_id);

-- The outbox carries invitations' mail too: a message is about a booking or an invitation,
-- and its sequence is that one's. SQLite cannot drop NOT NULL or change a CHECK, so the table
-- is made anew, ids kept.
CREATE TABLE mail_outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT REFERENCES bookings (id),
    invitation_id BIGINT REFERENCES invitations (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder')),
    -- The booking's (or invitation's) sequence when the message was queued: a later change
    -- makes it stale.
    sequence INTEGER NOT NULL,
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
    updated_at TIMESTAMP NOT NULL,
    CHECK ((booking_id IS NULL) <> (invitation_id IS NULL))
);
INSERT INTO mail_outbox_new (id, office_id, booking_id, kind, sequence, recipient, message_id,
        status, attempts, next_attempt_at, claimed_until, last_error, sent_at, created_at, updated_at)
    SELECT id, office_id, booking_id, kind, booking_sequence, recipient, message_id, status,
           attempts, next_attempt_at, claimed_until, last_error, sent_at, created_at, updated_at
    FROM mail_outbox;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_new RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_office ON mail_outbox (office_id, status, id);
CREATE INDEX mail_outbox_booking ON mail_outbox (booking_id);
CREATE INDEX mail_outbox_invitation ON mail_outbox (invitation_id);
-- One reminder per visit time, and one per invitation: never twice, whatever the instances.
CREATE UNIQUE INDEX mail_outbox_one_reminder ON mail_outbox (booking_id, sequence) WHERE kind = 'reminder';
CREATE UNIQUE INDEX mail_outbox_one_invitation_reminder ON mail_outbox (invitation_id) WHERE kind = 'invitation_reminder';
