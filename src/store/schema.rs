//! The tables, as diesel sees them. Written by hand to match both migration folders; times are
//! `Timestamp` holding UTC on both backends.

diesel::table! {
    offices (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
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
    }
}

diesel::joinable!(staff -> offices (office_id));
diesel::allow_tables_to_appear_in_same_query!(offices, staff, login_attempts);
