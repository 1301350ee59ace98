-- The waitlist: a booked applicant asks for an earlier seat between two local days, or a
-- lottery entry that won no seat waits for one on its days. Requests wait in order of
-- arrival; at most one offer a day, a few in all.
CREATE TABLE waitlist_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT REFERENCES bookings (id),
    lottery_entry_id BIGINT REFERENCES lottery_entries (id),
    earliest_day DATE NOT NULL,
    latest_day DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'moved', 'booked', 'withdrawn', 'exhausted')),
    offers_made INTEGER NOT NULL DEFAULT 0,
    last_offer_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((booking_id IS NULL) <> (lottery_entry_id IS NULL))
);
CREATE UNIQUE INDEX waitlist_one_per_booking ON waitlist_requests (booking_id)
    WHERE status IN ('waiting', 'offered');
CREATE UNIQUE INDEX waitlist_one_per_entry ON waitlist_requests (lottery_entry_id)
    WHERE status IN ('waiting', 'offered');

-- An entry may ask, if it wins no seat, to wait for one freed later.
ALTER TABLE lottery_entries ADD COLUMN join_waitlist BOOLEAN NOT NULL DEFAULT 0;
CREATE INDEX waitlist_queue ON waitlist_requests (status, created_at);

-- An offer holds one seat (taken off public sale, in the booking's channel, the web's for an
-- entry) until it is
-- accepted, declined, or expires; the token to answer it is in its mail, only its hash here.
CREATE TABLE waitlist_offers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    request_id BIGINT NOT NULL REFERENCES waitlist_requests (id),
    slot_id BIGINT NOT NULL REFERENCES slots (id),
    channel TEXT NOT NULL CHECK (channel IN ('web', 'desk')),
    token_hash TEXT NOT NULL,
    token_salt TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'declined', 'expired')),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP
);
CREATE UNIQUE INDEX waitlist_one_open_offer ON waitlist_offers (request_id) WHERE status = 'open';
CREATE INDEX waitlist_offers_due ON waitlist_offers (status, expires_at);

-- The offer's mail is about the booking: the outbox learns the kind (SQLite rebuilds the table).
CREATE TABLE mail_outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT REFERENCES bookings (id),
    invitation_id BIGINT REFERENCES invitations (id),
    lottery_entry_id BIGINT REFERENCES lottery_entries (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost', 'waitlist_offer')),
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
