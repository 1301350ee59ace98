DELETE FROM mail_outbox WHERE kind = 'waitlist_offer';
DROP TABLE waitlist_offers;
DROP TABLE waitlist_requests;
