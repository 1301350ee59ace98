-- A prepared statement's generic plan binds the statuses it filters on, so it cannot use an
-- index whose WHERE names them (`status IN ('confirmed', 'checked_in')`): PostgreSQL fell back
-- to every booking of the office, 1,330 pages a booking, once it chose the generic plan of the
-- booking's read (SQLite, with bound statuses, never used the partial index). With the status
-- as the index's last column, the mailbox is found whatever the plan.
DROP INDEX bookings_active_mailbox;
CREATE INDEX bookings_office_mailbox ON bookings (office_id, mailbox, status);
DROP INDEX lottery_entries_mailbox;
CREATE INDEX lottery_entries_office_mailbox ON lottery_entries (office_id, mailbox, status);

-- A booking's confirmation has no invitation and no lottery entry: only the messages that do
-- need an entry in those indexes (a lookup by either id implies it is not null).
DROP INDEX mail_outbox_invitation;
CREATE INDEX mail_outbox_invitation ON mail_outbox (invitation_id) WHERE invitation_id IS NOT NULL;
DROP INDEX mail_outbox_lottery_entry;
CREATE INDEX mail_outbox_lottery_entry ON mail_outbox (lottery_entry_id) WHERE lottery_entry_id IS NOT NULL;
