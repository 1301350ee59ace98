-- A booking's history becomes the event log the case system reads: every change, written in
-- the change's transaction, with what it published (`data`, JSON) as it was then.
ALTER TABLE booking_events RENAME TO events;
ALTER INDEX booking_events_booking RENAME TO events_booking;
-- Invitation events have no booking.
ALTER TABLE events ALTER COLUMN booking_id DROP NOT NULL;
-- Who made the change when it was an integration client (staff: actor_id).
ALTER TABLE events ADD COLUMN client_id BIGINT REFERENCES integration_clients (id);
ALTER TABLE events ADD COLUMN data TEXT;
-- The writing transaction's id. Transactions commit out of id order; the feed returns an event
-- only once every transaction with a lower id has ended, and orders by (tx_id, id), so a reader
-- never skips one that commits late. Events written before this column existed: 0.
ALTER TABLE events ADD COLUMN tx_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX events_feed ON events (tx_id, id);
CREATE INDEX events_office_feed ON events (office_id, tx_id, id);
UPDATE events e SET data = json_build_object(
        'reference', b.reference,
        'case_number', b.case_number,
        'service', t.code,
        'starts_at', to_char(s.starts_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'ends_at', to_char(s.ends_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'channel', b.channel)::text
    FROM bookings b, slots s, office_services os, appointment_types t
    WHERE b.id = e.booking_id AND s.id = b.slot_id AND os.id = b.office_service_id
      AND t.id = os.appointment_type_id;

-- Where an office's events are posted, and which kinds (empty: all). The secret signs each
-- delivery (Standard Webhooks); it is shown once, when the subscription is made.
CREATE TABLE webhook_subscriptions (
    id BIGSERIAL PRIMARY KEY,
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
    id BIGSERIAL PRIMARY KEY,
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
