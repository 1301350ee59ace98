DELETE FROM mail_outbox WHERE kind = 'waitlist_offer';
DROP TABLE waitlist_offers;
DROP TABLE waitlist_requests;
ALTER TABLE lottery_entries DROP COLUMN join_waitlist;
