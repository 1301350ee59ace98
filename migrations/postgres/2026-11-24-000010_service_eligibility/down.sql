DROP TABLE case_verification_attempts;
ALTER TABLE office_services ADD COLUMN invite_only BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE office_services SET invite_only = TRUE WHERE eligibility = 'invitation';
ALTER TABLE office_services DROP COLUMN eligibility;
