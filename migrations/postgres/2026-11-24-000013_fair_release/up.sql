-- Scheduled release: a slot may go on public sale only from `opens_at` (NULL: on sale now).
ALTER TABLE slots ADD COLUMN opens_at TIMESTAMP;
CREATE INDEX slots_opening ON slots (office_id, opens_at) WHERE opens_at IS NOT NULL;

-- How an office releases a service's seats: first come, or by a lottery whose entries are
-- taken for `lottery_window_minutes` after the seats open. A release rule (all three or none)
-- sets when published slots open: on `release_weekday` at `release_minute` (local), the given
-- number of weeks before the week of the visit.
ALTER TABLE office_services ADD COLUMN release_mode TEXT NOT NULL DEFAULT 'first_come'
    CHECK (release_mode IN ('first_come', 'lottery'));
ALTER TABLE office_services ADD COLUMN lottery_window_minutes INTEGER NOT NULL DEFAULT 30;
ALTER TABLE office_services ADD COLUMN release_weekday INTEGER;
ALTER TABLE office_services ADD COLUMN release_minute INTEGER;
ALTER TABLE office_services ADD COLUMN release_weeks_ahead INTEGER;

-- One draw per lottery service and release instant. The seed is chosen when the draw is
-- created and only its SHA-256 is shown until the draw: nobody (staff included) can pick
-- entries' fates after seeing them. `seats` is the free seats per slot the draw shared out,
-- so the draw can be re-run from what is stored.
CREATE TABLE lottery_draws (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    opens_at TIMESTAMP NOT NULL,
    closes_at TIMESTAMP NOT NULL,
    seed TEXT NOT NULL,
    seed_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'drawn')),
    seats TEXT,
    drawn_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (office_service_id, opens_at)
);
CREATE INDEX lottery_draws_office ON lottery_draws (office_id, opens_at);
CREATE INDEX lottery_draws_due ON lottery_draws (closes_at) WHERE status = 'open';

-- An applicant's entry: up to N preferred slots in order, or any slot on the days
-- `any_from..=any_to`. One per case and draw.
CREATE TABLE lottery_entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    draw_id BIGINT NOT NULL REFERENCES lottery_draws (id),
    reference TEXT NOT NULL UNIQUE,
    case_number TEXT NOT NULL,
    full_name TEXT NOT NULL,
    email TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    phone TEXT,
    language TEXT NOT NULL,
    preferences TEXT NOT NULL,
    any_from DATE,
    any_to DATE,
    status TEXT NOT NULL CHECK (status IN ('entered', 'won', 'lost', 'void')),
    won_slot_id BIGINT REFERENCES slots (id),
    booking_id BIGINT REFERENCES bookings (id),
    sequence INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (draw_id, case_number)
);
CREATE INDEX lottery_entries_draw ON lottery_entries (draw_id, id);
CREATE INDEX lottery_entries_mailbox ON lottery_entries (office_id, mailbox) WHERE status = 'entered';

-- The outbox carries lottery notices too.
ALTER TABLE mail_outbox ADD COLUMN lottery_entry_id BIGINT REFERENCES lottery_entries (id);
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_about_one;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_about_one
    CHECK (num_nonnulls(booking_id, invitation_id, lottery_entry_id) = 1);
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost'));
CREATE INDEX mail_outbox_lottery_entry ON mail_outbox (lottery_entry_id);
