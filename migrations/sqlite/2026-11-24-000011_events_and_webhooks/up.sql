-- A booking's history becomes the event log the case system reads: every change, written in
-- the change's transaction, with what it published (`data`, JSON) as it was then. SQLite cannot
-- drop NOT NULL from a column, so the table is made anew under its new name, ids kept.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    -- Invitation events have no booking.
    booking_id BIGINT REFERENCES bookings (id),
    kind TEXT NOT NULL,
    -- JSON: e.g. the reason of a cancellation, the slot moved from.
    detail TEXT,
    actor_id BIGINT REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    -- Who made the change when it was an integration client (staff: actor_id).
    client_id BIGINT REFERENCES integration_clients (id),
    data TEXT,
    -- PostgreSQL's writing transaction. SQLite writers take turns, so ids are already in commit
    -- order: 0 here, and the feed orders by (tx_id, id) on both.
    tx_id BIGINT NOT NULL DEFAULT 0
);
INSERT INTO events (id, office_id, booking_id, kind, detail, actor_id, created_at, data)
    SELECT e.id, e.office_id, e.booking_id, e.kind, e.detail, e.actor_id, e.created_at,
           json_object(
               'reference', b.reference,
               'case_number', b.case_number,
               'service', t.code,
               'starts_at', strftime('%Y-%m-%dT%H:%M:%SZ', s.starts_at),
               'ends_at', strftime('%Y-%m-%dT%H:%M:%SZ', s.ends_at),
               'channel', b.channel)
    FROM booking_events e
    JOIN bookings b ON b.id = e.booking_id
    JOIN slots s ON s.id = b.slot_id
    JOIN office_services os ON os.id = b.office_service_id
    JOIN appointment_types t ON t.id = os.appointment_type_id;
DROP TABLE booking_events;
CREATE INDEX events_booking ON events (booking_id, id);
CREATE INDEX events_feed ON events (tx_id, id);
CREATE INDEX events_office_feed ON events (office_id, tx_id, id);

-- Where an office's events are posted, and which kinds (empty: all). The secret signs each
-- delivery (Standard Webhooks); it is shown once, when the subscription is made.
CREATE TABLE webhook_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    url TEXT NOT NULL,
    -- Space-separated event types; '' for every type.
    event_types TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    removed_at TIMESTAMP
);
CREATE INDEX webhook_subscriptions_office ON webhook_subscriptions (office_id) WHERE removed_at IS NULL;

-- One event for one subscription, written in the event's transaction, delivered by the webhook
-- worker with retries: pending → sending (claimed) → delivered, or failed after its attempts.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    subscription_id BIGINT NOT NULL REFERENCES webhook_subscriptions (id),
    event_id BIGINT NOT NULL REFERENCES events (id),
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, status, id);
