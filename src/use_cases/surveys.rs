//! The applicant's verdict: once a visit is marked attended, one short survey goes out by mail
//! (in the booking's language); its link opens the survey without an account, and it is
//! answered once. The answer is stored apart from the visit, so a comment carries no identity.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{
        catalogue::pick,
        ids::SurveyId,
        mail::MessageKind,
        survey::{Answer, AnswerRequest},
    },
    error::{Answer as Explained, Error, Explain, Failure},
    store::{DbConnection, Store, StoreError, outbox, surveys},
    use_cases::bookings::{
        Details, details,
        token::{TokenKey, fingerprint, matches},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum SurveyFailure {
    #[error("no survey with this link")]
    NoSuchSurvey,
    #[error("the survey has been answered already")]
    AlreadyAnswered,
}

impl Explain for SurveyFailure {
    fn answer(self) -> Explained {
        match self {
            SurveyFailure::NoSuchSurvey => {
                Explained::NotFound("There is no survey with this link.".into())
            }
            SurveyFailure::AlreadyAnswered => Explained::Conflict {
                code: "survey_answered",
                detail: "This survey has been answered already; thank you.".into(),
            },
        }
    }
}

impl Failure for SurveyFailure {}

pub type SurveyError = Error<SurveyFailure>;

/// A survey, as its applicant sees it: which visit it asks about, and whether it is answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyView {
    #[schema(value_type = i64)]
    pub id: SurveyId,
    pub office: String,
    /// The service, in the booking's language.
    pub service: String,
    /// The local day of the visit.
    pub visit_on: NaiveDate,
    /// The booking's language, which the survey speaks.
    pub language: String,
    pub answered: bool,
}

/// After a visit is marked attended, in the same transaction: the survey is stored and its mail
/// queued. Nothing for a test booking, one without an email address, or a visit surveyed
/// already.
pub(crate) fn send_after_visit(
    conn: &mut DbConnection,
    visit: &Details,
    tokens: &TokenKey,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let booking = &visit.booking;
    let Some(email) = booking.email.as_deref().filter(|_| !booking.is_test) else {
        return Ok(());
    };
    let salt = TokenKey::new_salt();
    let survey = surveys::NewSurvey {
        office_id: booking.office_id,
        booking_id: booking.id,
        service_id: booking.office_service_id,
        visit_on: visit.slot.time.local_date,
        token_hash: &fingerprint(&tokens.token(&salt)),
        token_salt: &salt,
    };
    if surveys::insert(conn, survey, now)?.is_some() {
        let about = outbox::About {
            office_id: booking.office_id,
            subject: outbox::Subject::Booking(booking.id),
            reference: booking.reference.as_str(),
            email: Some(email),
            sequence: booking.sequence,
        };
        outbox::enqueue(conn, about, MessageKind::Survey, now)?;
    }
    Ok(())
}

/// The link a survey's mail gives: `/surveys/{id}?token=`.
pub fn token_of(survey: &surveys::Survey, tokens: &TokenKey) -> String {
    tokens.token(&survey.token_salt)
}

/// The survey `id`, if `token` is its token (compared in constant time, alike when either is
/// wrong).
fn with_token(
    conn: &mut DbConnection,
    id: SurveyId,
    token: &str,
) -> Result<(surveys::Survey, SurveyView), SurveyError> {
    let survey = surveys::find(conn, id)?;
    let stored = survey.as_ref().map_or("-", |s| s.token_hash.as_str());
    let matched = matches(token, stored);
    let Some(survey) = survey.filter(|_| matched) else {
        return Err(SurveyFailure::NoSuchSurvey.into());
    };
    let booking = crate::store::bookings::find(conn, survey.office_id, survey.booking_id)?
        .ok_or_else(|| Error::vanished(format!("booking of survey {id}")))?;
    let visit = details(conn, booking).map_err(Error::unexpected)?;
    let language = visit.booking.language.as_str().to_owned();
    let view = SurveyView {
        id: survey.id,
        office: visit.office.details.name.clone(),
        service: pick(&visit.service.appointment_type.texts.names, &language)
            .cloned()
            .unwrap_or_default(),
        visit_on: survey.visit_on,
        language,
        answered: survey.answered_at.is_some(),
    };
    Ok((survey, view))
}

/// The survey behind a link.
pub async fn show(store: &Store, id: SurveyId, token: String) -> Result<SurveyView, SurveyError> {
    store
        .read(move |conn| with_token(conn, id, &token).map(|(_, view)| view))
        .await
}

/// Records the answer, once: a second answer (or a twin sent at the same moment) is refused
/// and changes nothing.
pub async fn answer(
    store: &Store,
    (id, token): (SurveyId, String),
    sent: AnswerRequest,
    now: DateTime<Utc>,
) -> Result<SurveyView, SurveyError> {
    let answer: Answer = sent.parse()?;
    store
        .write(move |conn| {
            let (survey, mut view) = with_token(conn, id, &token)?;
            if !surveys::answer(conn, &survey, &answer, now)? {
                return Err(SurveyFailure::AlreadyAnswered.into());
            }
            view.answered = true;
            Ok(view)
        })
        .await
}
