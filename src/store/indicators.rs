//! The counts behind the indicators, aggregated by the database: every query groups by office
//! (and a few small keys), so a national report over millions of bookings reads a few thousand
//! rows. The same SQL runs on both backends, with `$n` parameters (`?n` on SQLite) and one
//! expression each writes its own way.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Bool, Date, Integer, Nullable, Text, Timestamp},
};

use super::{
    DbConnection, db_time,
    schema::{bookings, invitations, lead_time_samples, mail_outbox, mail_tallies},
};
use crate::domain::{
    Named,
    ids::{OfficeId, ServiceId},
    indicators::Tally,
    mail::MessageKind,
};

/// Which records a report counts: the local days of visits (and samples, and survey answers),
/// the instants bounding those days (for mail, waitlist and draws), and one office or all.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub starts: NaiveDateTime,
    pub ends: NaiveDateTime,
    pub office: Option<OfficeId>,
}

/// Runs `sql` with `$1`, `$2` bound to the scope's first and last local day (or, with
/// `instants`, to the instants bounding them) and `$3` to its office (NULL: every office).
macro_rules! grouped {
    ($conn:expr, $row:ty, $scope:expr, $sql:expr) => {
        grouped!(@bind $conn, $row, $sql, Date, $scope.from, $scope.to, $scope.office)
    };
    ($conn:expr, $row:ty, $scope:expr, $sql:expr, instants) => {
        grouped!(@bind $conn, $row, $sql, Timestamp, $scope.starts, $scope.ends, $scope.office)
    };
    (@bind $conn:expr, $row:ty, $sql:expr, $type:ty, $first:expr, $last:expr, $office:expr) => {{
        let office = $office.map(OfficeId::get);
        match $conn {
            DbConnection::Postgres(pg) => diesel::sql_query($sql)
                .bind::<$type, _>($first)
                .bind::<$type, _>($last)
                .bind::<Nullable<BigInt>, _>(office)
                .load::<$row>(pg),
            DbConnection::Sqlite(lite) => diesel::sql_query($sql.replace('$', "?"))
                .bind::<$type, _>($first)
                .bind::<$type, _>($last)
                .bind::<Nullable<BigInt>, _>(office)
                .load::<$row>(lite),
        }
    }};
}

/// Visits whose slot lies in the period (test bookings left out); `s` is the slot, `b` the
/// booking.
const VISITS: &str = "FROM bookings b JOIN slots s ON s.id = b.slot_id \
     WHERE s.local_date >= $1 AND s.local_date <= $2 AND ($3 IS NULL OR b.office_id = $3) \
     AND NOT b.is_test";

/// The period's published slots that are not blocked (they offer no seat), as `s`.
const OPEN_SLOTS: &str = "s.local_date >= $1 AND s.local_date <= $2 \
     AND ($3 IS NULL OR s.office_id = $3) AND NOT s.blocked";

/// The seats each slot of the period holds for visits not cancelled, as `bk.n` by
/// `bk.slot_id`.
const HELD: &str = "(SELECT b.slot_id, COUNT(*) AS n FROM bookings b \
     JOIN slots s2 ON s2.id = b.slot_id WHERE s2.local_date >= $1 AND s2.local_date <= $2 \
     AND ($3 IS NULL OR b.office_id = $3) AND NOT b.is_test AND b.status <> 'cancelled' \
     GROUP BY b.slot_id) bk";

/// Visits counted by office, channel, outcome and days from booking to visit, each as a small
/// code (see [`CHANNEL`] and [`OUTCOME`]): grouping by integers rather than by text is what
/// keeps a year of every office's bookings under a second.
#[derive(QueryableByName)]
struct VisitRow {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = Integer)]
    channel: i32,
    #[diesel(sql_type = Integer)]
    outcome: i32,
    /// Whole days from booking to visit; -1 for a cancelled visit.
    #[diesel(sql_type = Integer)]
    days: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A booking's channel as its place in `Tally::by_channel`: web 0, desk 1, intermediary 2.
/// Invitations (3) are found by their own, smaller query.
const CHANNEL: &str =
    "CASE WHEN b.intermediary_id IS NOT NULL THEN 2 WHEN b.channel = 'desk' THEN 1 ELSE 0 END";

/// A visit's outcome: 1 attended, 2 no-show, 3 cancelled by the applicant, 4 by the office, 0
/// still to come.
const OUTCOME: &str = "CASE b.status WHEN 'attended' THEN 1 WHEN 'no_show' THEN 2 \
     WHEN 'cancelled' THEN CASE WHEN b.cancelled_by = 'applicant' THEN 3 ELSE 4 END ELSE 0 END";

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct ChannelRow {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = Integer)]
    channel: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct ByStatus {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct SeatRow {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = BigInt)]
    offered: i64,
    #[diesel(sql_type = BigInt)]
    booked: i64,
}

#[derive(QueryableByName)]
struct LeadRow {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = BigInt)]
    service_id: i64,
    #[diesel(sql_type = BigInt)]
    samples: i64,
    #[diesel(sql_type = BigInt)]
    with_seat: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = Nullable<Integer>)]
    longest: Option<i32>,
}

#[derive(QueryableByName, Clone)]
struct MailRow {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    invited: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct SurveyRow {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = BigInt)]
    sent: i64,
    #[diesel(sql_type = BigInt)]
    answered: i64,
}

#[derive(QueryableByName)]
struct AnswerRow {
    #[diesel(sql_type = BigInt)]
    office_id: i64,
    #[diesel(sql_type = Integer)]
    rating: i32,
    #[diesel(sql_type = Bool)]
    had_documents: bool,
    #[diesel(sql_type = Text)]
    desk_wait: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whole days from a booking's creation to its visit (0 for a walk-in booked after its time
/// began).
fn days_to_visit(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Postgres(_) => {
            // The interval's day field counts whole days (its time part stays under 24 hours);
            // EXTRACT(EPOCH …) would do the same in numeric arithmetic, at a third of the speed.
            "CAST(GREATEST(0, date_part('day', s.starts_at - b.created_at)) AS INTEGER)"
        }
        DbConnection::Sqlite(_) => {
            "MAX(0, CAST(julianday(s.starts_at) - julianday(b.created_at) AS INTEGER))"
        }
    }
}

/// The count of the channel coded `code` (see [`CHANNEL`]).
fn channel_count(tally: &mut Tally, code: i32) -> Option<&mut i64> {
    usize::try_from(code)
        .ok()
        .and_then(|at| tally.by_channel.get_mut(at))
}

/// The tally of office `id`, started when it is the first row of it.
fn of(tallies: &mut BTreeMap<OfficeId, Tally>, id: i64) -> &mut Tally {
    tallies.entry(OfficeId::new(id)).or_default()
}

/// The counts of every office in scope (offices with nothing to count are absent).
pub fn tallies(conn: &mut DbConnection, scope: &Scope) -> QueryResult<BTreeMap<OfficeId, Tally>> {
    let mut tallies: BTreeMap<OfficeId, Tally> = BTreeMap::new();

    // One pass over the period's visits gives channels, outcomes and the days from booking to
    // visit (a cancelled visit has none): each pass joins every booking to its slot.
    let visits = format!(
        "SELECT b.office_id, {CHANNEL} AS channel, {OUTCOME} AS outcome, \
         CASE WHEN b.status = 'cancelled' THEN -1 ELSE {} END AS days, COUNT(*) AS n \
         {VISITS} GROUP BY 1, 2, 3, 4",
        days_to_visit(conn)
    );
    for row in grouped!(conn, VisitRow, scope, visits)? {
        let tally = of(&mut tallies, row.office_id);
        if let Some(count) = channel_count(tally, row.channel) {
            *count += row.n;
        }
        match row.outcome {
            1 => tally.attended += row.n,
            2 => tally.no_shows += row.n,
            3 => tally.cancelled_by_applicant += row.n,
            4 => tally.cancelled_by_office += row.n,
            _ => {}
        }
        if row.days >= 0 {
            *tally.days_to_visit.entry(i64::from(row.days)).or_default() += row.n;
        }
    }
    // Bookings that answered an invitation count as invitations, whatever their channel: a
    // correction of the few, rather than a lookup for every booking in the pass above.
    let invited_visits = format!(
        "SELECT b.office_id, {CHANNEL} AS channel, COUNT(*) AS n {VISITS} \
         AND b.id IN (SELECT booking_id FROM invitations) GROUP BY 1, 2"
    );
    for row in grouped!(conn, ChannelRow, scope, invited_visits)? {
        let tally = of(&mut tallies, row.office_id);
        if let Some(count) = channel_count(tally, row.channel) {
            *count -= row.n;
        }
        tally.by_channel[3] += row.n;
    }

    let moves = "SELECT b.office_id, COUNT(*) AS n FROM events e \
         JOIN bookings b ON b.id = e.booking_id JOIN slots s ON s.id = b.slot_id \
         WHERE e.kind = 'rescheduled' AND s.local_date >= $1 AND s.local_date <= $2 \
         AND ($3 IS NULL OR b.office_id = $3) AND NOT b.is_test GROUP BY 1";
    for row in grouped!(conn, Counted, scope, moves)? {
        of(&mut tallies, row.office_id).moves += row.n;
    }

    // Seats taken come from the slots' own counters (kept equal to the bookings holding seats
    // in the same transaction as every change), less the seats of test bookings: one pass over
    // the slots instead of joining every booking to its slot, which over a year of every
    // office was the report's slowest query.
    let seats = format!(
        "SELECT s.office_id, CAST(SUM(s.capacity) AS BIGINT) AS offered, \
         CAST(SUM(s.booked_web + s.booked_desk) AS BIGINT) AS booked \
         FROM slots s WHERE {OPEN_SLOTS} GROUP BY 1"
    );
    for row in grouped!(conn, SeatRow, scope, seats)? {
        let tally = of(&mut tallies, row.office_id);
        tally.seats_offered += row.offered;
        tally.seats_booked += row.booked;
    }
    let tests = format!(
        "SELECT s.office_id, COUNT(*) AS n FROM bookings b \
         JOIN slots s ON s.id = b.slot_id WHERE b.is_test AND b.status <> 'cancelled' \
         AND {OPEN_SLOTS} GROUP BY 1"
    );
    for row in grouped!(conn, Counted, scope, tests)? {
        of(&mut tallies, row.office_id).seats_booked -= row.n;
    }

    for row in lead_rows(conn, scope)? {
        let tally = of(&mut tallies, row.office_id);
        tally.lead_samples += row.samples;
        tally.lead_samples_with_seat += row.with_seat;
        tally.lead_minutes_total += row.total;
        tally.lead_minutes_longest = tally.lead_minutes_longest.max(row.longest.map(i64::from));
    }

    let waitlist = "SELECT office_id, status, COUNT(*) AS n FROM waitlist_requests \
         WHERE created_at >= $1 AND created_at < $2 AND ($3 IS NULL OR office_id = $3) \
         GROUP BY 1, 2";
    for row in grouped!(conn, ByStatus, scope, waitlist, instants)? {
        *of(&mut tallies, row.office_id)
            .waitlist
            .entry(row.status)
            .or_default() += row.n;
    }

    let lottery = "SELECT d.office_id, e.status, COUNT(*) AS n FROM lottery_entries e \
         JOIN lottery_draws d ON d.id = e.draw_id \
         WHERE d.closes_at >= $1 AND d.closes_at < $2 AND ($3 IS NULL OR d.office_id = $3) \
         GROUP BY 1, 2";
    for row in grouped!(conn, ByStatus, scope, lottery, instants)? {
        *of(&mut tallies, row.office_id)
            .lottery
            .entry(row.status)
            .or_default() += row.n;
    }

    // The period's messages by kind and status; then, by corrections proportional to the few
    // they concern, confirmations of invited bookings (which replace a letter) and messages
    // about test bookings (which count nowhere).
    let range = "created_at >= $1 AND created_at < $2 AND ($3 IS NULL OR office_id = $3)";
    let mail = format!(
        "SELECT office_id, kind, status, 0 AS invited, COUNT(*) AS n FROM mail_outbox \
         WHERE {range} GROUP BY 1, 2, 3"
    );
    let invited_mail = format!(
        "SELECT office_id, kind, status, 1 AS invited, COUNT(*) AS n FROM mail_outbox \
         WHERE kind = 'confirmed' AND booking_id IN (SELECT booking_id FROM invitations) \
         AND {range} GROUP BY 1, 2, 3"
    );
    let test_mail = format!(
        "SELECT office_id, kind, status, CASE WHEN kind = 'confirmed' AND booking_id IN \
         (SELECT booking_id FROM invitations) THEN 1 ELSE 0 END AS invited, COUNT(*) AS n \
         FROM mail_outbox WHERE booking_id IN (SELECT id FROM bookings WHERE is_test) \
         AND {range} GROUP BY 1, 2, 3, 4"
    );
    // Messages retention has purged count through their tallies: the hours bounding local
    // days are whole hours in the offices' zones, so an hour's tally falls wholly inside.
    let purged = "SELECT office_id, kind, status, CASE WHEN invited THEN 1 ELSE 0 END AS invited, \
         CAST(SUM(messages) AS BIGINT) AS n FROM mail_tallies \
         WHERE queued_hour >= $1 AND queued_hour < $2 AND ($3 IS NULL OR office_id = $3) \
         GROUP BY 1, 2, 3, 4";
    let mut rows = grouped!(conn, MailRow, scope, mail, instants)?;
    for row in grouped!(conn, MailRow, scope, invited_mail, instants)? {
        rows.push(MailRow {
            invited: 0,
            n: -row.n,
            ..row.clone()
        });
        rows.push(row);
    }
    for row in grouped!(conn, MailRow, scope, test_mail, instants)? {
        rows.push(MailRow { n: -row.n, ..row });
    }
    rows.extend(grouped!(conn, MailRow, scope, purged, instants)?);
    for row in rows {
        let tally = of(&mut tallies, row.office_id);
        tally.mail_queued += row.n;
        match row.status.as_str() {
            "sent" => tally.mail_sent += row.n,
            "failed" => tally.mail_failed += row.n,
            "bounced" => tally.mail_bounced += row.n,
            _ => {}
        }
        let replaces_letter =
            MessageKind::parse(&row.kind).is_ok_and(|kind| kind.replaces_letter(row.invited != 0));
        if row.status == "sent" && replaces_letter {
            tally.letters_replaced += row.n;
        }
    }

    let surveys = "SELECT office_id, COUNT(*) AS sent, COUNT(answered_at) AS answered \
         FROM survey_invitations WHERE visit_on >= $1 AND visit_on <= $2 \
         AND ($3 IS NULL OR office_id = $3) GROUP BY 1";
    for row in grouped!(conn, SurveyRow, scope, surveys)? {
        let tally = of(&mut tallies, row.office_id);
        tally.surveys_sent += row.sent;
        tally.surveys_answered += row.answered;
    }

    let answers = "SELECT office_id, rating, had_documents, desk_wait, COUNT(*) AS n \
         FROM survey_answers WHERE visit_on >= $1 AND visit_on <= $2 \
         AND ($3 IS NULL OR office_id = $3) GROUP BY 1, 2, 3, 4";
    for row in grouped!(conn, AnswerRow, scope, answers)? {
        let tally = of(&mut tallies, row.office_id);
        if let Some(count) = usize::try_from(row.rating - 1)
            .ok()
            .and_then(|i| tally.ratings.get_mut(i))
        {
            *count += row.n;
        }
        if row.had_documents {
            tally.had_documents += row.n;
        }
        let wait = match row.desk_wait.as_str() {
            "under_15" => 0,
            "15_to_30" => 1,
            "30_to_60" => 2,
            _ => 3,
        };
        tally.desk_waits[wait] += row.n;
    }
    Ok(tallies)
}

fn lead_rows(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<LeadRow>> {
    let sql = "SELECT office_id, office_service_id AS service_id, COUNT(*) AS samples, \
         COUNT(lead_minutes) AS with_seat, CAST(COALESCE(SUM(lead_minutes), 0) AS BIGINT) AS total, \
         MAX(lead_minutes) AS longest FROM lead_time_samples \
         WHERE sampled_on >= $1 AND sampled_on <= $2 AND ($3 IS NULL OR office_id = $3) \
         GROUP BY 1, 2";
    grouped!(conn, LeadRow, scope, sql)
}

/// One service's seats and samples, for an office's report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceTally {
    pub offered: i64,
    pub booked: i64,
    pub lead_samples: i64,
    pub lead_samples_with_seat: i64,
    pub lead_minutes_total: i64,
}

#[derive(QueryableByName)]
struct ServiceSeatRow {
    #[diesel(sql_type = BigInt)]
    service_id: i64,
    #[diesel(sql_type = BigInt)]
    offered: i64,
    #[diesel(sql_type = BigInt)]
    booked: i64,
}

/// Seats by service for one office (`scope.office`): a slot offers its seats to every service
/// its calendar serves; booked seats count for the service booked.
pub fn by_service(
    conn: &mut DbConnection,
    scope: &Scope,
) -> QueryResult<BTreeMap<ServiceId, ServiceTally>> {
    let offered = format!(
        "SELECT cs.office_service_id AS service_id, CAST(SUM(s.capacity) AS BIGINT) AS offered, \
         CAST(0 AS BIGINT) AS booked FROM slots s \
         JOIN calendar_services cs ON cs.calendar_id = s.calendar_id WHERE {OPEN_SLOTS} GROUP BY 1"
    );
    let booked = "SELECT b.office_service_id AS service_id, CAST(0 AS BIGINT) AS offered, COUNT(*) AS booked \
         FROM bookings b JOIN slots s ON s.id = b.slot_id \
         WHERE s.local_date >= $1 AND s.local_date <= $2 AND ($3 IS NULL OR b.office_id = $3) \
         AND NOT b.is_test AND b.status <> 'cancelled' AND NOT s.blocked GROUP BY 1";
    let mut services: BTreeMap<ServiceId, ServiceTally> = BTreeMap::new();
    for sql in [offered.as_str(), booked] {
        for row in grouped!(conn, ServiceSeatRow, scope, sql)? {
            let service = services.entry(ServiceId::new(row.service_id)).or_default();
            service.offered += row.offered;
            service.booked += row.booked;
        }
    }
    for row in lead_rows(conn, scope)? {
        let service = services.entry(ServiceId::new(row.service_id)).or_default();
        service.lead_samples += row.samples;
        service.lead_samples_with_seat += row.with_seat;
        service.lead_minutes_total += row.total;
    }
    Ok(services)
}

/// Seats offered and booked at one starting instant of the period, summed over calendars.
#[derive(QueryableByName, Debug, Clone)]
pub struct SeatsAt {
    #[diesel(sql_type = Date)]
    pub local_date: NaiveDate,
    #[diesel(sql_type = Timestamp)]
    pub starts_at: NaiveDateTime,
    #[diesel(sql_type = BigInt)]
    pub offered: i64,
    #[diesel(sql_type = BigInt)]
    pub booked: i64,
}

/// Seats by starting instant for one office: a few hundred rows a month, which the use case
/// folds into weekdays and local hours.
pub fn by_start(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<SeatsAt>> {
    let sql = format!(
        "SELECT s.local_date, s.starts_at, CAST(SUM(s.capacity) AS BIGINT) AS offered, \
         CAST(SUM(COALESCE(bk.n, 0)) AS BIGINT) AS booked \
         FROM slots s LEFT JOIN {HELD} ON bk.slot_id = s.id WHERE {OPEN_SLOTS} \
         GROUP BY s.local_date, s.starts_at ORDER BY 1, 2"
    );
    grouped!(conn, SeatsAt, scope, sql)
}

/// Whether `service` has its sample of local day `on`.
pub fn sampled(
    conn: &mut DbConnection,
    (office, service): (OfficeId, ServiceId),
    on: NaiveDate,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        lead_time_samples::table
            .filter(lead_time_samples::office_id.eq(office))
            .filter(lead_time_samples::office_service_id.eq(service))
            .filter(lead_time_samples::sampled_on.eq(on)),
    ))
    .get_result(conn)
}

/// Stores the day's sample of a service: the first free web seat, or none within its horizon.
pub fn sample(
    conn: &mut DbConnection,
    (office, service): (OfficeId, ServiceId),
    on: NaiveDate,
    first_free_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let minutes =
        first_free_at.map(|at| i32::try_from((at - now).num_minutes().max(0)).unwrap_or(i32::MAX));
    diesel::insert_into(lead_time_samples::table)
        .values((
            lead_time_samples::office_id.eq(office),
            lead_time_samples::office_service_id.eq(service),
            lead_time_samples::sampled_on.eq(on),
            lead_time_samples::first_free_at.eq(first_free_at.map(db_time)),
            lead_time_samples::lead_minutes.eq(minutes),
            lead_time_samples::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Keeps the counts of the outbox messages `ids` (which retention is about to delete) in
/// `mail_tallies`, grouped by office, hour queued, kind, status and whether the booking came
/// through an invitation, so the indicators of their period do not change. Messages about
/// test bookings are left out, as the indicators leave them out.
pub fn keep_mail_counts(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    let messages: Vec<(i64, String, String, Option<i64>, NaiveDateTime)> = mail_outbox::table
        .filter(mail_outbox::id.eq_any(ids))
        .select((
            mail_outbox::office_id,
            mail_outbox::kind,
            mail_outbox::status,
            mail_outbox::booking_id,
            mail_outbox::created_at,
        ))
        .load(conn)?;
    let booking_ids: Vec<i64> = messages.iter().filter_map(|m| m.3).collect();
    let tests: BTreeSet<i64> = bookings::table
        .filter(bookings::id.eq_any(&booking_ids))
        .filter(bookings::is_test)
        .select(bookings::id)
        .load(conn)?
        .into_iter()
        .collect();
    let invited: BTreeSet<i64> = invitations::table
        .filter(invitations::booking_id.eq_any(&booking_ids))
        .select(invitations::booking_id.assume_not_null())
        .load(conn)?
        .into_iter()
        .collect();
    let mut counts: BTreeMap<(i64, NaiveDateTime, String, String, bool), i64> = BTreeMap::new();
    for (office_id, kind, status, booking, created_at) in messages {
        if booking.is_some_and(|id| tests.contains(&id)) {
            continue;
        }
        let hour = created_at
            .date()
            .and_hms_opt(created_at.hour(), 0, 0)
            .unwrap_or(created_at);
        let invited = kind == MessageKind::Confirmed.as_str()
            && booking.is_some_and(|id| invited.contains(&id));
        *counts
            .entry((office_id, hour, kind, status, invited))
            .or_default() += 1;
    }
    for ((office_id, hour, kind, status, invited), messages) in &counts {
        diesel::insert_into(mail_tallies::table)
            .values((
                mail_tallies::office_id.eq(office_id),
                mail_tallies::queued_hour.eq(hour),
                mail_tallies::kind.eq(kind),
                mail_tallies::status.eq(status),
                mail_tallies::invited.eq(invited),
                mail_tallies::messages.eq(messages),
            ))
            .execute(conn)?;
    }
    Ok(counts.len())
}
