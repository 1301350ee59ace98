DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
CREATE TABLE booking_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    booking_id BIGINT NOT NULL REFERENCES bookings (id),
    kind TEXT NOT NULL,
    detail TEXT,
    actor_id BIGINT REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL
);
INSERT INTO booking_events (id, office_id, booking_id, kind, detail, actor_id, created_at)
    SELECT id, office_id, booking_id, kind, detail, actor_id, created_at
    FROM events WHERE booking_id IS NOT NULL;
DROP TABLE events;
CREATE INDEX booking_events_booking ON booking_events (booking_id, id);
