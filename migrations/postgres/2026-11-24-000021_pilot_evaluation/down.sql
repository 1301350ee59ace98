DELETE FROM mail_outbox WHERE kind = 'survey';
UPDATE mail_outbox SET status = 'failed' WHERE status = 'bounced';
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_status_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed'));
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder', 'invitation', 'invitation_reminder', 'lottery_lost', 'waitlist_offer', 'reconfirm_request', 'released_unconfirmed'));
DROP INDEX mail_outbox_office_created;
DROP TABLE mail_tallies;
DROP INDEX bookings_test;
DROP TABLE lead_time_samples;
DROP TABLE survey_answers;
DROP TABLE survey_invitations;
