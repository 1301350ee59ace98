-- Invitations to book (convocazioni): the case system or staff summon a case to book one visit
-- of a service before a deadline. The mail's link carries a token that stands for exactly one
-- booking; like a manage token it is derived from a stored salt and kept only as a SHA-256.
-- The office may propose a slot: its seat is held for the invitation (counted in the slot's
-- desk seats) until the applicant books, or the invitation expires or is cancelled.
CREATE TABLE invitations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
-- and its sequence is that one's.
ALTER TABLE mail_outbox ALTER COLUMN booking_id DROP NOT NULL;
ALTER TABLE mail_outbox ADD COLUMN invitation_id BIGINT REFERENCES invitations (id);
ALTER TABLE mail_outbox RENAME COLUMN booking_sequence TO sequence;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_about_one
    CHECK ((booking_id IS NULL) <> (invitation_id IS NULL));
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder'));
CREATE INDEX mail_outbox_invitation ON mail_outbox (invitation_id);
-- One reminder per invitation, whatever the instances.
CREATE UNIQUE INDEX mail_outbox_one_invitation_reminder ON mail_outbox (invitation_id) WHERE kind = 'invitation_reminder';
