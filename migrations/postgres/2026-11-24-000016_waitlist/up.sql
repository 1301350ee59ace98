-- The waitlist: a booked applicant asks for an earlier seat between two local days, or a
-- lottery entry that won no seat waits for one on its days. Requests wait in order of
-- arrival; at most one offer a day, a few in all.
CREATE TABLE waitlist_requests (
    id BIGSERIAL PRIMARY KEY,
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
ALTER TABLE lottery_entries ADD COLUMN join_waitlist BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX waitlist_queue ON waitlist_requests (status, created_at);

-- An offer holds one seat (taken off public sale, in the booking's channel, the web's for an
-- entry) until it is
-- accepted, declined, or expires; the token to answer it is in its mail, only its hash here.
CREATE TABLE waitlist_offers (
    id BIGSERIAL PRIMARY KEY,
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

-- The offer's mail is about the booking.
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost', 'waitlist_offer'));
