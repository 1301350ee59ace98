ALTER TABLE seat_releases DROP COLUMN office_id;
ALTER TABLE case_readiness DROP COLUMN office_id;
ALTER TABLE opening_hours DROP COLUMN office_id;
ALTER TABLE calendar_services DROP COLUMN office_id;
