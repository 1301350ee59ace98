-- Cases the case system registered with an office: who to write to, and the secret the
-- applicant knows (e.g. the access code on their receipt), kept only as a keyed hash with a
-- per-case salt. One row per case number and office.
CREATE TABLE registered_cases (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    case_number TEXT NOT NULL,
    email TEXT,
    language TEXT NOT NULL,
    secret_salt TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (office_id, case_number)
);

-- The appointment types a case is ready for, and from which day its visit may be.
CREATE TABLE case_readiness (
    case_id BIGINT NOT NULL REFERENCES registered_cases (id) ON DELETE CASCADE,
    appointment_type_id BIGINT NOT NULL REFERENCES appointment_types (id),
    -- NULL: ready at once.
    ready_from DATE,
    PRIMARY KEY (case_id, appointment_type_id)
);
