-- Proof of work: an office may ask applicants' browsers to solve an ALTCHA challenge before
-- they book or enter a lottery; `proof_of_work_cost` is the PBKDF2 iterations per try.
ALTER TABLE offices ADD COLUMN proof_of_work BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE offices ADD COLUMN proof_of_work_cost INTEGER NOT NULL DEFAULT 5000
    CHECK (proof_of_work_cost BETWEEN 1 AND 100000);

-- A solved challenge is good once: its nonce is kept until the challenge expires. A retry of
-- the same request (same Idempotency-Key) may show it again.
CREATE TABLE spent_challenges (
    nonce TEXT PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    idempotency_key TEXT,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX spent_challenges_expiry ON spent_challenges (expires_at);
