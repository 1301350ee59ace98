-- The office's reason for moving a visit, told to the applicant in the move's mail.
ALTER TABLE bookings ADD COLUMN moved_reason TEXT;
