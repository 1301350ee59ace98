//! The survey after a visit, over HTTP: read it and answer it once, with the token from its
//! mail (the applicant pages offer the same as a form).

use actix_web::{FromRequest, HttpRequest, dev::Payload, get, post, web};
use chrono::Utc;
use futures_util::future::{Ready, ready};

use super::{
    AppState,
    extract::{JsonBody, header_token},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{ids::SurveyId, survey::AnswerRequest},
    use_cases::surveys::{self, SurveyView},
};

/// The token of a survey, from the `X-Survey-Token` header (its mail's link carries it).
pub struct SurveyToken(String);

impl FromRequest for SurveyToken {
    type Error = ApiError;
    type Future = Ready<Result<SurveyToken, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            header_token(
                req,
                "x-survey-token",
                "survey_token_required",
                "Send the token from the survey's mail as the X-Survey-Token header.",
            )
            .map(SurveyToken),
        )
    }
}

/// The survey about an attended visit, to the applicant holding its token.
#[utoipa::path(
    tag = "surveys",
    params(
        ("id" = i64, Path, description = "Survey id"),
        ("X-Survey-Token" = String, Header, description = "The token from the survey's mail"),
    ),
    responses(
        (status = 200, description = "The survey", body = SurveyView),
        (status = 401, description = "`survey_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No survey with this id and token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/surveys/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
    token: SurveyToken,
) -> Result<web::Json<SurveyView>, ApiError> {
    let view = surveys::show(&state.store, id.into_inner(), token.0).await?;
    Ok(web::Json(view))
}

/// Answers the survey, once. The answer is kept apart from the visit, without the applicant's
/// identity.
#[utoipa::path(
    tag = "surveys",
    params(
        ("id" = i64, Path, description = "Survey id"),
        ("X-Survey-Token" = String, Header, description = "The token from the survey's mail"),
    ),
    request_body = AnswerRequest,
    responses(
        (status = 200, description = "Answered", body = SurveyView),
        (status = 401, description = "`survey_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No survey with this id and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`survey_answered`: answered already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/surveys/{id}")]
pub async fn answer(
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
    token: SurveyToken,
    body: JsonBody<AnswerRequest>,
) -> Result<web::Json<SurveyView>, ApiError> {
    let survey = (id.into_inner(), token.0);
    let view = surveys::answer(&state.store, survey, body.0, Utc::now()).await?;
    Ok(web::Json(view))
}
