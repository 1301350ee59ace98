CREATE OR REPLACE FUNCTION sportello_mark_office(office BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    seen TEXT := coalesce(nullif(current_setting('sportello.changed_offices', true), ''), ',');
BEGIN
    IF position(',' || office || ',' IN seen) = 0 THEN
        PERFORM set_config('sportello.changed_offices', seen || office || ',', true);
        PERFORM pg_notify('office_changed', office::text);
    END IF;
END;
$$;
