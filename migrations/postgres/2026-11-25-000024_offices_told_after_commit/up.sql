-- The triggers of 000023 only mark the office now; the writing instance tells the others after
-- the commit, a batch of offices in one NOTIFY (src/store/changes.rs).
-- `pg_notify` inside the booking transaction took PostgreSQL's notify lock at every commit,
-- one committing transaction at a time: 1,214 bookings/s fell to 802.
CREATE OR REPLACE FUNCTION sportello_mark_office(office BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    seen TEXT := coalesce(nullif(current_setting('sportello.changed_offices', true), ''), ',');
BEGIN
    IF position(',' || office || ',' IN seen) = 0 THEN
        PERFORM set_config('sportello.changed_offices', seen || office || ',', true);
    END IF;
END;
$$;
