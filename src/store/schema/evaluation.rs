//! The pilot evaluation's tables: surveys, their answers, daily lead-time samples, and the
//! counts of mail that retention has purged.

diesel::table! {
    survey_invitations (id) {
        id -> BigInt,
        office_id -> BigInt,
        booking_id -> BigInt,
        office_service_id -> BigInt,
        visit_on -> Date,
        token_hash -> Text,
        token_salt -> Text,
        created_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
    }
}
diesel::table! {
    survey_answers (id) {
        id -> BigInt,
        office_id -> BigInt,
        office_service_id -> BigInt,
        visit_on -> Date,
        rating -> Integer,
        had_documents -> Bool,
        desk_wait -> Text,
        comment -> Nullable<Text>,
    }
}
diesel::table! {
    lead_time_samples (id) {
        id -> BigInt,
        office_id -> BigInt,
        office_service_id -> BigInt,
        sampled_on -> Date,
        first_free_at -> Nullable<Timestamp>,
        lead_minutes -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}
diesel::table! {
    mail_tallies (id) {
        id -> BigInt,
        office_id -> BigInt,
        queued_hour -> Timestamp,
        kind -> Text,
        status -> Text,
        invited -> Bool,
        messages -> BigInt,
    }
}
