DELETE FROM mail_outbox WHERE lottery_entry_id IS NOT NULL;
DROP INDEX mail_outbox_lottery_entry;
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder'));
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_about_one;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_about_one
    CHECK ((booking_id IS NULL) <> (invitation_id IS NULL));
ALTER TABLE mail_outbox DROP COLUMN lottery_entry_id;
DROP TABLE lottery_entries;
DROP TABLE lottery_draws;
ALTER TABLE office_services DROP COLUMN release_weeks_ahead;
ALTER TABLE office_services DROP COLUMN release_minute;
ALTER TABLE office_services DROP COLUMN release_weekday;
ALTER TABLE office_services DROP COLUMN lottery_window_minutes;
ALTER TABLE office_services DROP COLUMN release_mode;
DROP INDEX slots_opening;
ALTER TABLE slots DROP COLUMN opens_at;
