DROP INDEX bookings_by_intermediary;
ALTER TABLE bookings DROP COLUMN intermediary_id;
DROP TABLE accreditations;
DELETE FROM staff WHERE role = 'intermediary';
ALTER TABLE staff DROP CONSTRAINT staff_office_fits_role;
ALTER TABLE staff ADD CONSTRAINT staff_check CHECK ((role = 'admin') = (office_id IS NULL));
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check CHECK (role IN ('admin', 'manager', 'operator'));
