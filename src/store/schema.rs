//! The tables, as diesel sees them. Written by hand to match both migration folders; times are
//! `Timestamp` holding UTC on both backends.

diesel::table! {
    offices (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
        address -> Text,
        city -> Text,
        province -> Text,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        timezone -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        /// JSON array of language codes.
        languages -> Text,
        /// MM-DD
        patron_day -> Nullable<Text>,
        stage -> Text,
        updated_at -> Timestamp,
        proof_of_work -> Bool,
        proof_of_work_cost -> Integer,
    }
}

diesel::table! {
    accreditations (id) {
        id -> BigInt,
        office_id -> BigInt,
        intermediary_id -> BigInt,
        organisation -> Text,
        max_active -> Integer,
        max_per_week -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    waitlist_requests (id) {
        id -> BigInt,
        office_id -> BigInt,
        booking_id -> Nullable<BigInt>,
        lottery_entry_id -> Nullable<BigInt>,
        earliest_day -> Date,
        latest_day -> Date,
        status -> Text,
        offers_made -> Integer,
        last_offer_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    waitlist_offers (id) {
        id -> BigInt,
        office_id -> BigInt,
        request_id -> BigInt,
        slot_id -> BigInt,
        channel -> Text,
        token_hash -> Text,
        token_salt -> Text,
        status -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    spent_challenges (nonce) {
        nonce -> Text,
        office_id -> BigInt,
        idempotency_key -> Nullable<Text>,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    staff (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        office_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> BigInt,
        email -> Text,
        attempted_at -> Timestamp,
        client -> Text,
        failed -> Bool,
    }
}

diesel::table! {
    appointment_types (id) {
        id -> BigInt,
        code -> Text,
        /// JSON object by language.
        names -> Text,
        /// JSON object by language.
        descriptions -> Text,
        /// JSON object by language of arrays.
        documents -> Text,
        default_duration_minutes -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    office_services (id) {
        id -> BigInt,
        office_id -> BigInt,
        appointment_type_id -> BigInt,
        duration_minutes -> Nullable<Integer>,
        eligibility -> Text,
        min_notice_hours -> Integer,
        horizon_days -> Integer,
        desk_share_percent -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        change_cutoff_hours -> Integer,
        release_mode -> Text,
        lottery_window_minutes -> Integer,
        release_weekday -> Nullable<Integer>,
        release_minute -> Nullable<Integer>,
        release_weeks_ahead -> Nullable<Integer>,
        reconfirm_days_before -> Nullable<Integer>,
        reconfirm_release_hours -> Nullable<Integer>,
        no_show_limit -> Nullable<Integer>,
        no_show_within_days -> Nullable<Integer>,
        no_show_desk_only_days -> Nullable<Integer>,
    }
}

diesel::table! {
    case_verification_attempts (id) {
        id -> BigInt,
        office_id -> BigInt,
        case_number -> Text,
        client -> Text,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    calendars (id) {
        id -> BigInt,
        office_id -> BigInt,
        name -> Text,
        desks -> Integer,
        valid_from -> Nullable<Date>,
        valid_until -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    calendar_services (calendar_id, office_service_id) {
        calendar_id -> BigInt,
        office_id -> BigInt,
        office_service_id -> BigInt,
    }
}

diesel::table! {
    opening_hours (id) {
        id -> BigInt,
        office_id -> BigInt,
        calendar_id -> BigInt,
        weekday -> Integer,
        opens_minute -> Integer,
        closes_minute -> Integer,
    }
}

diesel::table! {
    closures (id) {
        id -> BigInt,
        office_id -> BigInt,
        starts_on -> Date,
        ends_on -> Date,
        start_minute -> Nullable<Integer>,
        end_minute -> Nullable<Integer>,
        reason -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    closure_jobs (id) {
        id -> BigInt,
        office_id -> BigInt,
        requested_by -> BigInt,
        starts_on -> Date,
        ends_on -> Date,
        start_minute -> Nullable<Integer>,
        end_minute -> Nullable<Integer>,
        reason -> Text,
        affected -> Text,
        status -> Text,
        total -> Nullable<Integer>,
        processed -> Integer,
        moved -> Integer,
        cancelled -> Integer,
        closure_id -> Nullable<BigInt>,
        outcome -> Nullable<Text>,
        error -> Nullable<Text>,
        attempts -> Integer,
        claimed_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    slots (id) {
        id -> BigInt,
        office_id -> BigInt,
        calendar_id -> BigInt,
        local_date -> Date,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        held_for_desk -> Integer,
        booked_web -> Integer,
        booked_desk -> Integer,
        blocked -> Bool,
        block_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// Seats freed recently, not yet back on sale.
        cooling -> Integer,
        /// When the seats go on public sale (NULL: on sale now).
        opens_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        office_id -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
        at -> Timestamp,
        client_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    registered_cases (id) {
        id -> BigInt,
        office_id -> BigInt,
        case_number -> Text,
        email -> Nullable<Text>,
        language -> Text,
        secret_salt -> Text,
        secret_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    case_readiness (case_id, appointment_type_id) {
        case_id -> BigInt,
        office_id -> BigInt,
        appointment_type_id -> BigInt,
        ready_from -> Nullable<Date>,
    }
}

diesel::table! {
    integration_clients (id) {
        id -> BigInt,
        client_id -> Text,
        secret_hash -> Text,
        name -> Text,
        office_id -> Nullable<BigInt>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    bookings (id) {
        id -> BigInt,
        office_id -> BigInt,
        slot_id -> BigInt,
        office_service_id -> BigInt,
        reference -> Text,
        token_hash -> Text,
        token_salt -> Text,
        case_number -> Text,
        full_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        language -> Text,
        channel -> Text,
        status -> Text,
        is_test -> Bool,
        sequence -> Integer,
        created_by -> Nullable<BigInt>,
        cancelled_at -> Nullable<Timestamp>,
        cancelled_by -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        checked_in_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        mailbox -> Nullable<Text>,
        intermediary_id -> Nullable<BigInt>,
        moved_reason -> Nullable<Text>,
        reconfirm_asked_at -> Nullable<Timestamp>,
        reconfirmed_at -> Nullable<Timestamp>,
        anonymised_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    seat_releases (id) {
        id -> BigInt,
        office_id -> BigInt,
        slot_id -> BigInt,
        available_at -> Timestamp,
        booking_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    idempotency_keys (office_id, key) {
        office_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        booking_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        office_id -> BigInt,
        booking_id -> Nullable<BigInt>,
        kind -> Text,
        detail -> Nullable<Text>,
        actor_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        client_id -> Nullable<BigInt>,
        data -> Nullable<Text>,
        tx_id -> BigInt,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> BigInt,
        office_id -> BigInt,
        url -> Text,
        event_types -> Text,
        secret -> Text,
        created_at -> Timestamp,
        removed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        office_id -> BigInt,
        subscription_id -> BigInt,
        event_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        office_id -> BigInt,
        office_service_id -> BigInt,
        reference -> Text,
        token_salt -> Text,
        token_hash -> Text,
        case_number -> Text,
        full_name -> Nullable<Text>,
        email -> Text,
        language -> Text,
        deadline -> Timestamp,
        status -> Text,
        sequence -> Integer,
        proposed_slot_id -> Nullable<BigInt>,
        holds_seat -> Bool,
        booking_id -> Nullable<BigInt>,
        remind_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        created_by -> Nullable<BigInt>,
        client_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        office_id -> BigInt,
        booking_id -> Nullable<BigInt>,
        invitation_id -> Nullable<BigInt>,
        lottery_entry_id -> Nullable<BigInt>,
        kind -> Text,
        sequence -> Integer,
        recipient -> Text,
        message_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    lottery_draws (id) {
        id -> BigInt,
        office_id -> BigInt,
        office_service_id -> BigInt,
        opens_at -> Timestamp,
        closes_at -> Timestamp,
        seed -> Text,
        seed_hash -> Text,
        status -> Text,
        /// JSON: the free seats per slot the draw shared out.
        seats -> Nullable<Text>,
        drawn_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lottery_entries (id) {
        id -> BigInt,
        office_id -> BigInt,
        draw_id -> BigInt,
        reference -> Text,
        case_number -> Text,
        full_name -> Text,
        email -> Text,
        mailbox -> Text,
        phone -> Nullable<Text>,
        language -> Text,
        /// JSON array of slot ids, most wanted first.
        preferences -> Text,
        any_from -> Nullable<Date>,
        any_to -> Nullable<Date>,
        status -> Text,
        won_slot_id -> Nullable<BigInt>,
        booking_id -> Nullable<BigInt>,
        sequence -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        join_waitlist -> Bool,
    }
}

// The pilot evaluation's tables, read by the indicators' grouped SQL.
mod evaluation;
pub use evaluation::*;

diesel::joinable!(staff -> offices (office_id));
diesel::joinable!(closure_jobs -> offices (office_id));
diesel::joinable!(spent_challenges -> offices (office_id));
diesel::joinable!(accreditations -> offices (office_id));
diesel::joinable!(waitlist_requests -> bookings (booking_id));
diesel::joinable!(waitlist_offers -> waitlist_requests (request_id));
diesel::joinable!(waitlist_offers -> slots (slot_id));
diesel::joinable!(lottery_draws -> office_services (office_service_id));
diesel::joinable!(lottery_entries -> lottery_draws (draw_id));
diesel::joinable!(mail_outbox -> lottery_entries (lottery_entry_id));
diesel::joinable!(mail_outbox -> bookings (booking_id));
diesel::joinable!(mail_outbox -> invitations (invitation_id));
diesel::joinable!(invitations -> offices (office_id));
diesel::joinable!(invitations -> office_services (office_service_id));
diesel::joinable!(bookings -> slots (slot_id));
diesel::joinable!(bookings -> office_services (office_service_id));
diesel::joinable!(bookings -> offices (office_id));
diesel::joinable!(seat_releases -> slots (slot_id));
diesel::joinable!(events -> bookings (booking_id));
diesel::joinable!(events -> offices (office_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_deliveries -> events (event_id));
diesel::joinable!(webhook_subscriptions -> offices (office_id));
diesel::joinable!(office_services -> offices (office_id));
diesel::joinable!(office_services -> appointment_types (appointment_type_id));
diesel::joinable!(calendars -> offices (office_id));
diesel::joinable!(calendar_services -> calendars (calendar_id));
diesel::joinable!(calendar_services -> office_services (office_service_id));
diesel::joinable!(opening_hours -> calendars (calendar_id));
diesel::joinable!(closures -> offices (office_id));
diesel::joinable!(slots -> calendars (calendar_id));
diesel::joinable!(slots -> offices (office_id));
diesel::joinable!(audit_log -> offices (office_id));
diesel::joinable!(integration_clients -> offices (office_id));
diesel::joinable!(registered_cases -> offices (office_id));
diesel::joinable!(case_readiness -> registered_cases (case_id));
diesel::joinable!(case_readiness -> appointment_types (appointment_type_id));

diesel::allow_tables_to_appear_in_same_query!(
    offices,
    staff,
    login_attempts,
    appointment_types,
    office_services,
    calendars,
    calendar_services,
    opening_hours,
    closures,
    closure_jobs,
    slots,
    audit_log,
    integration_clients,
    registered_cases,
    case_readiness,
    case_verification_attempts,
    bookings,
    seat_releases,
    idempotency_keys,
    events,
    webhook_subscriptions,
    webhook_deliveries,
    lottery_draws,
    lottery_entries,
    mail_outbox,
    invitations,
    spent_challenges,
    accreditations,
    waitlist_requests,
    waitlist_offers,
);
