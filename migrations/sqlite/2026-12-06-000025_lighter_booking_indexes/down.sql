DROP INDEX mail_outbox_lottery_entry;
CREATE INDEX mail_outbox_lottery_entry ON mail_outbox (lottery_entry_id);
DROP INDEX mail_outbox_invitation;
CREATE INDEX mail_outbox_invitation ON mail_outbox (invitation_id);
DROP INDEX lottery_entries_office_mailbox;
CREATE INDEX lottery_entries_mailbox ON lottery_entries (office_id, mailbox) WHERE status = 'entered';
DROP INDEX bookings_office_mailbox;
CREATE INDEX bookings_active_mailbox ON bookings (office_id, mailbox) WHERE status IN ('confirmed', 'checked_in');
