-- Every change to what applicants are offered names its office, so instances that keep the
-- offer in memory know what to read again:
-- * `pg_notify('office_changed', office)` reaches the other instances when the transaction
--   commits;
-- * the transaction-local setting `sportello.changed_offices` (",3,17,") tells the writing
--   instance itself, which reads it just before committing (src/store/changes.rs).
-- Each office is marked once per transaction, however many of its rows change.
CREATE FUNCTION sportello_mark_office(office BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    seen TEXT := coalesce(nullif(current_setting('sportello.changed_offices', true), ''), ',');
BEGIN
    IF position(',' || office || ',' IN seen) = 0 THEN
        PERFORM set_config('sportello.changed_offices', seen || office || ',', true);
        PERFORM pg_notify('office_changed', office::text);
    END IF;
END;
$$;

-- For the tables whose rows name their office in `office_id`.
CREATE FUNCTION sportello_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM sportello_mark_office(OLD.office_id);
    ELSE
        PERFORM sportello_mark_office(NEW.office_id);
    END IF;
    RETURN NULL;
END;
$$;

-- For the offices themselves (their stage, time zone, code).
CREATE FUNCTION sportello_office_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM sportello_mark_office(OLD.id);
    ELSE
        PERFORM sportello_mark_office(NEW.id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER slots_offer_changed AFTER INSERT OR UPDATE OR DELETE ON slots
    FOR EACH ROW EXECUTE FUNCTION sportello_row_changed();
CREATE TRIGGER office_services_offer_changed AFTER INSERT OR UPDATE OR DELETE ON office_services
    FOR EACH ROW EXECUTE FUNCTION sportello_row_changed();
CREATE TRIGGER calendar_services_offer_changed AFTER INSERT OR UPDATE OR DELETE ON calendar_services
    FOR EACH ROW EXECUTE FUNCTION sportello_row_changed();
CREATE TRIGGER offices_offer_changed AFTER INSERT OR UPDATE OR DELETE ON offices
    FOR EACH ROW EXECUTE FUNCTION sportello_office_row_changed();
