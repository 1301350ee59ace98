//! Where a survey's mail leads: four short questions about the visit, answered once. The page
//! speaks the booking's language unless the visitor switched.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::Utc;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::page::{Problems, Visitor, view};
use crate::{
    domain::{
        FieldErrors, Named,
        ids::SurveyId,
        survey::{AnswerRequest, DeskWait},
    },
    error::{Error, Explain},
    use_cases::surveys::{self, SurveyFailure, SurveyView},
};

/// The form as sent: every field text, so that what was chosen is shown again.
#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
pub struct SurveyForm {
    token: String,
    rating: String,
    had_documents: String,
    desk_wait: String,
    comment: String,
}

impl SurveyForm {
    /// The answer the API would take; a choice left out is an error next to its question.
    fn request(&self) -> Result<AnswerRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        let rating = self.rating.parse::<i64>().ok();
        if rating.is_none() {
            errors.add("rating", "choose one");
        }
        let had_documents = match self.had_documents.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                errors.add("had_documents", "choose one");
                None
            }
        };
        let desk_wait = DeskWait::parse(&self.desk_wait).ok();
        if desk_wait.is_none() {
            errors.add("desk_wait", "choose one");
        }
        match (rating, had_documents, desk_wait) {
            (Some(rating), Some(had_documents), Some(desk_wait)) if errors.is_empty() => {
                Ok(AnswerRequest {
                    rating,
                    had_documents,
                    desk_wait,
                    comment: Some(self.comment.clone()),
                })
            }
            _ => Err(errors),
        }
    }
}

fn render(
    visitor: &mut Visitor,
    survey: &SurveyView,
    form: &SurveyForm,
    problems: Problems,
) -> HttpResponse {
    visitor.prefer(&survey.language);
    let status = problems.status();
    visitor.render_as(
        status,
        "survey.html",
        context! {
            survey => view(survey),
            token => &form.token,
            form => view(form),
            problems => view(&problems),
            done => visitor.query("done"),
        },
    )
}

/// The survey, with its questions while unanswered. A `GET` never answers it (mail scanners
/// follow links).
pub async fn show(mut visitor: Visitor, id: web::Path<i64>) -> HttpResponse {
    let token = visitor.query("token").unwrap_or_default().to_owned();
    let store = &visitor.state().store;
    match surveys::show(store, SurveyId::new(id.into_inner()), token.clone()).await {
        Ok(survey) => {
            let form = SurveyForm {
                token,
                ..SurveyForm::default()
            };
            render(&mut visitor, &survey, &form, Problems::default())
        }
        Err(failure) => visitor.failure(failure),
    }
}

/// Answers the survey, as `POST /api/v1/surveys/{id}` does; the page then says thank you.
pub async fn answer(mut visitor: Visitor, id: web::Path<i64>, body: web::Bytes) -> HttpResponse {
    let sent: SurveyForm = match visitor.genuine_form(&body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let id = SurveyId::new(id.into_inner());
    let store = &visitor.state().store;
    let answered = match sent.request() {
        Ok(request) => surveys::answer(store, (id, sent.token.clone()), request, Utc::now()).await,
        Err(errors) => Err(errors.into()),
    };
    let failure = match answered {
        Ok(_) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", &sent.token)
                .append_pair("done", "answered")
                .finish();
            return visitor.see_other(format!("{}/surveys/{id}?{query}", visitor.pages().prefix()));
        }
        Err(failure) => failure,
    };
    // The form again, with the survey as it stands now (a wrong link is a page of its own).
    let survey = match surveys::show(store, id, sent.token.clone()).await {
        Ok(survey) => survey,
        Err(failure) => return visitor.failure(failure),
    };
    if matches!(failure, Error::Feature(SurveyFailure::AlreadyAnswered)) {
        // Answered meanwhile (twice, or from another tab): the page says so, and 409.
        visitor.prefer(&survey.language);
        let page = context! { survey => view(&survey), form => view(&sent) };
        return visitor.render_as(StatusCode::CONFLICT, "survey.html", page);
    }
    match visitor.form_problems(Explain::answer(failure)) {
        Ok(problems) => render(&mut visitor, &survey, &sent, problems),
        Err(other) => visitor.answer(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_left_out_is_named_and_a_full_form_reads_as_the_api_would() {
        let empty = SurveyForm::default().request().unwrap_err();
        let fields: Vec<&str> = empty.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["rating", "had_documents", "desk_wait"]);
        let form = SurveyForm {
            rating: "4".into(),
            had_documents: "no".into(),
            desk_wait: "15_to_30".into(),
            comment: "Fast.".into(),
            ..SurveyForm::default()
        };
        let request = form.request().unwrap();
        assert_eq!(
            (request.rating, request.had_documents, request.desk_wait),
            (4, false, DeskWait::From15To30)
        );
    }
}
