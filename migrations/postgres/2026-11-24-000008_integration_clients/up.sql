-- Machine accounts of the case system: a public client id and a secret (only its SHA-256 is
-- kept; the secret is 256 random bits, so a fast hash is as safe as a slow one). National when
-- office_id is NULL. Revoked clients stay, so the audit log can still name them.
CREATE TABLE integration_clients (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    office_id BIGINT REFERENCES offices (id),
    created_by BIGINT REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- An audit entry is written by a staff member or by an integration client.
ALTER TABLE audit_log ADD COLUMN client_id BIGINT REFERENCES integration_clients (id);
