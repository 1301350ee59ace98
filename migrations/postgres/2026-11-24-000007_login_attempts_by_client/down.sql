DROP INDEX login_attempts_failed_by_client;
DROP INDEX login_attempts_email_client_at;
CREATE INDEX login_attempts_email_at ON login_attempts (email, attempted_at);
ALTER TABLE login_attempts DROP COLUMN failed;
ALTER TABLE login_attempts DROP COLUMN client;
