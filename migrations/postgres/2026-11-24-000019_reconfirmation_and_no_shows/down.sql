DELETE FROM mail_outbox WHERE kind IN ('reconfirm_request', 'released_unconfirmed');
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost', 'waitlist_offer'));
ALTER TABLE bookings DROP COLUMN reconfirmed_at;
ALTER TABLE bookings DROP COLUMN reconfirm_asked_at;
ALTER TABLE office_services DROP COLUMN no_show_desk_only_days;
ALTER TABLE office_services DROP COLUMN no_show_within_days;
ALTER TABLE office_services DROP COLUMN no_show_limit;
ALTER TABLE office_services DROP COLUMN reconfirm_release_hours;
ALTER TABLE office_services DROP COLUMN reconfirm_days_before;
