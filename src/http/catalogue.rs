//! The national catalogue of appointment types: kept by the administration, read by everyone.

use actix_web::{HttpResponse, get, http::StatusCode, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
    scope::audit,
};
use crate::{
    domain::{
        FieldErrors,
        catalogue::{DocumentLists, Texts, TypeCode, check_documents, check_duration, check_texts},
    },
    store::{
        catalogue::{self, AppointmentType, TypeTexts},
        is_unique_violation,
    },
};

#[derive(Serialize, ToSchema)]
pub struct AppointmentTypeView {
    #[schema(example = "document_delivery")]
    pub code: String,
    /// Names by language; Italian always present.
    pub names: Texts,
    pub descriptions: Texts,
    /// What to bring, by language.
    pub documents: DocumentLists,
    pub default_duration_minutes: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&AppointmentType> for AppointmentTypeView {
    fn from(t: &AppointmentType) -> AppointmentTypeView {
        AppointmentTypeView {
            code: t.code.to_string(),
            names: t.texts.names.clone(),
            descriptions: t.texts.descriptions.clone(),
            documents: t.texts.documents.clone(),
            default_duration_minutes: t.default_duration_minutes,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTypeRequest {
    #[schema(example = "citizenship_information")]
    pub code: String,
    pub names: Texts,
    #[serde(default)]
    pub descriptions: Texts,
    pub default_duration_minutes: i32,
    #[serde(default)]
    pub documents: DocumentLists,
}

/// Fields to replace; absent ones stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTypeRequest {
    pub names: Option<Texts>,
    pub descriptions: Option<Texts>,
    pub default_duration_minutes: Option<i32>,
    pub documents: Option<DocumentLists>,
}

fn check(
    errors: &mut FieldErrors,
    names: &Texts,
    descriptions: &Texts,
    documents: &DocumentLists,
    duration: i32,
) -> (TypeTexts, i32) {
    let texts = TypeTexts {
        names: check_texts(errors, "names", names, true, 200),
        descriptions: check_texts(errors, "descriptions", descriptions, false, 2000),
        documents: check_documents(errors, "documents", documents),
    };
    let duration = errors
        .check("default_duration_minutes", check_duration(duration))
        .unwrap_or(duration);
    (texts, duration)
}

const ADMINS_ONLY: &str = "Only the national administration edits the catalogue.";

/// The national catalogue. Public.
#[utoipa::path(
    tag = "catalogue",
    responses((status = 200, description = "Appointment types by code", body = Vec<AppointmentTypeView>))
)]
#[get("/api/v1/appointment-types")]
pub async fn list(
    state: web::Data<AppState>,
) -> Result<web::Json<Vec<AppointmentTypeView>>, ApiError> {
    let types = state
        .store
        .read(|conn| -> Result<_, ApiError> { Ok(catalogue::list(conn)?) })
        .await?;
    Ok(web::Json(
        types.iter().map(AppointmentTypeView::from).collect(),
    ))
}

/// Adds a type to the national catalogue. Admins only.
#[utoipa::path(
    tag = "catalogue",
    security(("bearer" = [])),
    request_body = CreateTypeRequest,
    responses(
        (status = 201, description = "Added", body = AppointmentTypeView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`type_code_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/appointment-types")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<CreateTypeRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.actor.must_be_admin(ADMINS_ONLY)?;
    let mut errors = FieldErrors::new();
    let code = errors.check("code", TypeCode::parse(&body.code));
    let (texts, duration) = check(
        &mut errors,
        &body.names,
        &body.descriptions,
        &body.documents,
        body.default_duration_minutes,
    );
    let Some(code) = code.filter(|_| errors.is_empty()) else {
        return Err(errors.into());
    };
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            catalogue::insert(conn, &code, &texts, duration, Utc::now()).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict(
                        "type_code_taken",
                        format!("The catalogue already has a type {code}."),
                    )
                } else {
                    e.into()
                }
            })?;
            let created = catalogue::find_by_code(conn, &code)?.ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("type {code} vanished after insert"))
            })?;
            let view = AppointmentTypeView::from(&created);
            audit(
                conn,
                &actor,
                None,
                "appointment_type.create",
                &code,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(view))
}

/// Changes a catalogue type's texts or default duration. Admins only. Offices that set their
/// own duration keep it.
#[utoipa::path(
    tag = "catalogue",
    security(("bearer" = [])),
    params(("type_code" = String, Path, description = "Appointment type", example = "document_delivery")),
    request_body = UpdateTypeRequest,
    responses(
        (status = 200, description = "Updated", body = AppointmentTypeView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/appointment-types/{type_code}")]
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    type_code: web::Path<String>,
    JsonBody(body): JsonBody<UpdateTypeRequest>,
) -> Result<web::Json<AppointmentTypeView>, ApiError> {
    staff.actor.must_be_admin(ADMINS_ONLY)?;
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let not_found = || ApiError::not_found("There is no appointment type with this code.");
            let code = TypeCode::parse(&type_code).map_err(|_| not_found())?;
            let current = catalogue::find_by_code(conn, &code)?.ok_or_else(not_found)?;
            let mut errors = FieldErrors::new();
            let (texts, duration) = check(
                &mut errors,
                body.names.as_ref().unwrap_or(&current.texts.names),
                body.descriptions
                    .as_ref()
                    .unwrap_or(&current.texts.descriptions),
                body.documents.as_ref().unwrap_or(&current.texts.documents),
                body.default_duration_minutes
                    .unwrap_or(current.default_duration_minutes),
            );
            if !errors.is_empty() {
                return Err(errors.into());
            }
            catalogue::update(conn, current.id, &texts, duration, Utc::now())?;
            let updated = catalogue::find_by_code(conn, &code)?.ok_or_else(not_found)?;
            let (before, after) = (
                AppointmentTypeView::from(&current),
                AppointmentTypeView::from(&updated),
            );
            audit(
                conn,
                &actor,
                None,
                "appointment_type.update",
                &code,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}
