-- Login attempts by client address too: failures are counted per account and address (so an
-- attacker elsewhere cannot lock a staff member out) and per address across accounts (against
-- password spraying). Attempts start unjudged; a wrong password marks its attempt failed.
ALTER TABLE login_attempts ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE login_attempts ADD COLUMN failed BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX login_attempts_email_at;
CREATE INDEX login_attempts_email_client_at ON login_attempts (email, client, attempted_at);
CREATE INDEX login_attempts_failed_by_client ON login_attempts (client, attempted_at) WHERE failed = TRUE;
