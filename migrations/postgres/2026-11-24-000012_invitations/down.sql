DELETE FROM mail_outbox WHERE invitation_id IS NOT NULL;
DROP INDEX mail_outbox_one_invitation_reminder;
DROP INDEX mail_outbox_invitation;
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmed', 'rescheduled', 'cancelled_by_applicant', 'cancelled_by_office', 'reminder'));
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_about_one;
ALTER TABLE mail_outbox RENAME COLUMN sequence TO booking_sequence;
ALTER TABLE mail_outbox DROP COLUMN invitation_id;
ALTER TABLE mail_outbox ALTER COLUMN booking_id SET NOT NULL;
DROP TABLE invitations;
