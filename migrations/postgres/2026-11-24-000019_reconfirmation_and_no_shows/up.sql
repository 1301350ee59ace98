-- Reconfirmation, per office service: the applicant is asked `reconfirm_days_before` days
-- before the visit and the seat released `reconfirm_release_hours` hours before it when they
-- have not answered. Both or neither.
ALTER TABLE office_services ADD COLUMN reconfirm_days_before INTEGER;
ALTER TABLE office_services ADD COLUMN reconfirm_release_hours INTEGER;
-- The no-show rule: after `no_show_limit` no-shows within `no_show_within_days`, a case books
-- this service only at the desk for `no_show_desk_only_days` after the last. All or none.
ALTER TABLE office_services ADD COLUMN no_show_limit INTEGER;
ALTER TABLE office_services ADD COLUMN no_show_within_days INTEGER;
ALTER TABLE office_services ADD COLUMN no_show_desk_only_days INTEGER;
ALTER TABLE bookings ADD COLUMN reconfirm_asked_at TIMESTAMP;
ALTER TABLE bookings ADD COLUMN reconfirmed_at TIMESTAMP;
-- The outbox learns the two messages of reconfirmation.
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost', 'waitlist_offer', 'reconfirm_request', 'released_unconfirmed'));
