//! Surveys as stored: one invitation per attended visit (its token's hash, and when it was
//! answered), and the answers, kept apart with no link to the booking.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, db_time,
    schema::{survey_answers, survey_invitations},
};
use crate::domain::{
    Named,
    ids::{BookingId, OfficeId, ServiceId, SurveyId},
    survey::Answer,
};

/// A survey sent after a visit.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = survey_invitations)]
pub struct Survey {
    pub id: SurveyId,
    pub office_id: OfficeId,
    pub booking_id: BookingId,
    pub office_service_id: ServiceId,
    pub visit_on: NaiveDate,
    pub token_hash: String,
    pub token_salt: String,
    pub answered_at: Option<NaiveDateTime>,
}

pub struct NewSurvey<'a> {
    pub office_id: OfficeId,
    pub booking_id: BookingId,
    pub service_id: ServiceId,
    pub visit_on: NaiveDate,
    pub token_hash: &'a str,
    pub token_salt: &'a str,
}

/// Stores the survey of a visit; `None` when the visit has one already.
pub fn insert(
    conn: &mut DbConnection,
    survey: NewSurvey<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Option<SurveyId>> {
    if of_booking(conn, survey.office_id, survey.booking_id)?.is_some() {
        return Ok(None);
    }
    diesel::insert_into(survey_invitations::table)
        .values((
            survey_invitations::office_id.eq(survey.office_id),
            survey_invitations::booking_id.eq(survey.booking_id),
            survey_invitations::office_service_id.eq(survey.service_id),
            survey_invitations::visit_on.eq(survey.visit_on),
            survey_invitations::token_hash.eq(survey.token_hash),
            survey_invitations::token_salt.eq(survey.token_salt),
            survey_invitations::created_at.eq(db_time(now)),
        ))
        .returning(survey_invitations::id)
        .get_result(conn)
        .map(Some)
}

pub fn find(conn: &mut DbConnection, id: SurveyId) -> QueryResult<Option<Survey>> {
    survey_invitations::table
        .find(id)
        .select(Survey::as_select())
        .first(conn)
        .optional()
}

pub fn of_booking(
    conn: &mut DbConnection,
    office_id: OfficeId,
    booking: BookingId,
) -> QueryResult<Option<Survey>> {
    survey_invitations::table
        .filter(survey_invitations::office_id.eq(office_id))
        .filter(survey_invitations::booking_id.eq(booking))
        .select(Survey::as_select())
        .first(conn)
        .optional()
}

/// Records the answer, apart from the survey, and marks the survey answered; false (and
/// nothing stored) when it was answered already, by this request's twin or earlier.
pub fn answer(
    conn: &mut DbConnection,
    survey: &Survey,
    answer: &Answer,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let marked = diesel::update(
        survey_invitations::table
            .filter(survey_invitations::office_id.eq(survey.office_id))
            .filter(survey_invitations::id.eq(survey.id))
            .filter(survey_invitations::answered_at.is_null()),
    )
    .set(survey_invitations::answered_at.eq(db_time(now)))
    .execute(conn)?;
    if marked != 1 {
        return Ok(false);
    }
    diesel::insert_into(survey_answers::table)
        .values((
            survey_answers::office_id.eq(survey.office_id),
            survey_answers::office_service_id.eq(survey.office_service_id),
            survey_answers::visit_on.eq(survey.visit_on),
            survey_answers::rating.eq(answer.rating.get()),
            survey_answers::had_documents.eq(answer.had_documents),
            survey_answers::desk_wait.eq(answer.desk_wait.as_str()),
            survey_answers::comment.eq(answer.comment.as_deref()),
        ))
        .execute(conn)?;
    Ok(true)
}
