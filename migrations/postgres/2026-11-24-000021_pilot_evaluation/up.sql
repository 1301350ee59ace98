-- The survey an applicant is sent once their visit is marked attended: one row per visit,
-- answered at most once. The answer itself is kept apart, in survey_answers, with no link to
-- the booking, so a comment carries no identity.
CREATE TABLE survey_invitations (
    id BIGSERIAL PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT NOT NULL UNIQUE REFERENCES bookings (id),
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    visit_on DATE NOT NULL,
    -- The link's token is derived from the salt (as a booking's is); only its hash is kept.
    token_hash TEXT NOT NULL,
    token_salt TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP
);
CREATE INDEX survey_invitations_office ON survey_invitations (office_id, visit_on);
-- What applicants said about a visit: the day and service it was for, nothing about who.
CREATE TABLE survey_answers (
    id BIGSERIAL PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    visit_on DATE NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    had_documents BOOLEAN NOT NULL,
    desk_wait TEXT NOT NULL CHECK (desk_wait IN ('under_15', '15_to_30', '30_to_60', 'over_60')),
    comment TEXT
);
CREATE INDEX survey_answers_office ON survey_answers (office_id, visit_on);
-- How far ahead the first free web seat of each service was, sampled once a day by housekeeping
-- so that the history exists (NULL minutes: nothing free within the horizon).
CREATE TABLE lead_time_samples (
    id BIGSERIAL PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    sampled_on DATE NOT NULL,
    first_free_at TIMESTAMP,
    lead_minutes INTEGER,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (office_service_id, sampled_on)
);
CREATE INDEX lead_time_samples_office ON lead_time_samples (office_id, sampled_on);
-- What retention keeps of the outbox messages it deletes: their counts, one row per office, hour
-- queued (UTC), kind, status and whether the booking came through an invitation, so that the
-- indicators of a past period do not change when its messages are gone.
CREATE TABLE mail_tallies (
    id BIGSERIAL PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    queued_hour TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    invited BOOLEAN NOT NULL,
    messages BIGINT NOT NULL
);
CREATE INDEX mail_tallies_office ON mail_tallies (office_id, queued_hour);
-- Test bookings are few: the indicators take their seats off the slots' counters through this.
CREATE INDEX bookings_test ON bookings (slot_id) WHERE is_test;
CREATE INDEX mail_outbox_office_created ON mail_outbox (office_id, created_at);
-- The outbox learns the survey, and tells a refused recipient (bounced) from a delivery that
-- kept failing.
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost', 'waitlist_offer', 'reconfirm_request', 'released_unconfirmed', 'survey'));
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_status_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'bounced', 'suppressed'));
