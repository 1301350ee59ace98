-- Offices (one per prefecture). Only what staff accounts need; the office issue adds the rest.
CREATE TABLE offices (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Staff accounts. Emails are stored lowercased (by the application, identically on both
-- backends), so plain UNIQUE makes them unique case-insensitively.
CREATE TABLE staff (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'operator')),
    office_id BIGINT REFERENCES offices (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Admins are national; managers and operators belong to exactly one office.
    CHECK ((role = 'admin') = (office_id IS NULL))
);
CREATE INDEX staff_office_id ON staff (office_id);

-- One row per login attempt inside the throttling window; old rows are purged as logins happen.
CREATE TABLE login_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_email_at ON login_attempts (email, attempted_at);
CREATE INDEX login_attempts_at ON login_attempts (attempted_at);
