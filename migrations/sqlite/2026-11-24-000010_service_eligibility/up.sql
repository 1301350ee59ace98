-- Who may book a service online: any well-formed case number ('open'), only cases the case
-- system registered and the applicant can verify ('registered'), or only invited cases
-- ('invitation', which invite_only meant).
ALTER TABLE office_services ADD COLUMN eligibility TEXT NOT NULL DEFAULT 'open'
    CHECK (eligibility IN ('open', 'registered', 'invitation'));
UPDATE office_services SET eligibility = 'invitation' WHERE invite_only = 1;
ALTER TABLE office_services DROP COLUMN invite_only;

-- Attempts to prove a registered case with its verification secret, counted per case and per
-- client address to throttle guessing. An attempt whose secret was right is deleted, so the
-- rows are the guesses that failed or are being checked. Old rows go as new ones arrive.
CREATE TABLE case_verification_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    case_number TEXT NOT NULL,
    client TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX case_verification_attempts_case ON case_verification_attempts (office_id, case_number, attempted_at);
CREATE INDEX case_verification_attempts_client ON case_verification_attempts (client, attempted_at);
CREATE INDEX case_verification_attempts_at ON case_verification_attempts (attempted_at);
