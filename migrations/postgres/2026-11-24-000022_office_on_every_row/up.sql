-- Every row of office data names its office, so the data can be split by office (Citus
-- distributes by office_id and keeps an office's rows together). These four tables reached
-- their office only through a parent row.
ALTER TABLE calendar_services ADD COLUMN office_id BIGINT REFERENCES offices (id);
UPDATE calendar_services cs SET office_id = c.office_id FROM calendars c WHERE c.id = cs.calendar_id;
ALTER TABLE calendar_services ALTER COLUMN office_id SET NOT NULL;

ALTER TABLE opening_hours ADD COLUMN office_id BIGINT REFERENCES offices (id);
UPDATE opening_hours h SET office_id = c.office_id FROM calendars c WHERE c.id = h.calendar_id;
ALTER TABLE opening_hours ALTER COLUMN office_id SET NOT NULL;

ALTER TABLE case_readiness ADD COLUMN office_id BIGINT REFERENCES offices (id);
UPDATE case_readiness r SET office_id = c.office_id FROM registered_cases c WHERE c.id = r.case_id;
ALTER TABLE case_readiness ALTER COLUMN office_id SET NOT NULL;

ALTER TABLE seat_releases ADD COLUMN office_id BIGINT REFERENCES offices (id);
UPDATE seat_releases r SET office_id = s.office_id FROM slots s WHERE s.id = r.slot_id;
ALTER TABLE seat_releases ALTER COLUMN office_id SET NOT NULL;
