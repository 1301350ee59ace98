-- An unexpected closure whose bookings are moved or cancelled: staff ask, a background job
-- does it all in one transaction (the closure, every booking, every mail) and says how far it
-- got. The closure's days, window and reason are kept here until the job creates it.
CREATE TABLE closure_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    requested_by BIGINT NOT NULL REFERENCES staff (id),
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    start_minute INTEGER,
    end_minute INTEGER,
    reason TEXT NOT NULL,
    -- 'move' or 'cancel'.
    affected TEXT NOT NULL,
    -- 'pending', 'running', 'done' or 'failed'.
    status TEXT NOT NULL,
    -- Bookings the closure displaces, known once the job has read them.
    total INTEGER,
    processed INTEGER NOT NULL DEFAULT 0,
    moved INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    closure_id BIGINT REFERENCES closures (id) ON DELETE SET NULL,
    -- What became of each booking (JSON), once done.
    outcome TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- A running job whose lease has passed (its instance died) is taken up again.
    claimed_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX closure_jobs_waiting ON closure_jobs (status, id) WHERE status IN ('pending', 'running');
CREATE INDEX closure_jobs_office ON closure_jobs (office_id, id);
