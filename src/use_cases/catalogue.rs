//! The national catalogue of appointment types: kept by the administration, read by everyone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::Audit;
use crate::{
    domain::{
        FieldErrors,
        audit::Action,
        catalogue::{DocumentLists, Texts, TypeCode, check_documents, check_duration, check_texts},
        staff::Actor,
        text::{parse_line, parse_paragraphs},
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        Store,
        catalogue::{self, AppointmentType, TypeTexts},
        is_unique_violation,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum CatalogueFailure {
    #[error("there is no appointment type with this code")]
    NoSuchType,
    #[error("the catalogue already has a type {0}")]
    CodeTaken(TypeCode),
}

impl Explain for CatalogueFailure {
    fn answer(self) -> Answer {
        match self {
            CatalogueFailure::NoSuchType => {
                Answer::NotFound("There is no appointment type with this code.".into())
            }
            CatalogueFailure::CodeTaken(code) => Answer::Conflict {
                code: "type_code_taken",
                detail: format!("The catalogue already has a type {code}."),
            },
        }
    }
}

impl Failure for CatalogueFailure {}

pub type CatalogueError = Error<CatalogueFailure>;

#[derive(Serialize, ToSchema)]
pub struct AppointmentTypeView {
    #[schema(example = "document_delivery")]
    pub code: String,
    /// Names by language; Italian always present.
    #[schema(schema_with = crate::domain::schema::texts_view)]
    pub names: Texts,
    #[schema(schema_with = crate::domain::schema::texts_view)]
    pub descriptions: Texts,
    /// What to bring, by language.
    #[schema(schema_with = crate::domain::schema::documents_view)]
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
    #[schema(schema_with = crate::domain::schema::type_code)]
    pub code: String,
    #[schema(schema_with = crate::domain::schema::names)]
    pub names: Texts,
    #[serde(default)]
    #[schema(schema_with = crate::domain::schema::descriptions)]
    pub descriptions: Texts,
    #[schema(minimum = 5, maximum = 480)]
    pub default_duration_minutes: i32,
    #[serde(default)]
    #[schema(schema_with = crate::domain::schema::documents)]
    pub documents: DocumentLists,
}

/// Fields to replace; absent ones stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTypeRequest {
    #[schema(schema_with = crate::domain::schema::optional_names)]
    pub names: Option<Texts>,
    #[schema(schema_with = crate::domain::schema::optional_descriptions)]
    pub descriptions: Option<Texts>,
    #[schema(minimum = 5, maximum = 480)]
    pub default_duration_minutes: Option<i32>,
    #[schema(schema_with = crate::domain::schema::optional_documents)]
    pub documents: Option<DocumentLists>,
}

/// A type's texts and duration, every language and text checked.
fn check(
    mut errors: FieldErrors,
    names: &Texts,
    descriptions: &Texts,
    documents: &DocumentLists,
    duration: i32,
) -> Result<(TypeTexts, i32), FieldErrors> {
    let texts = TypeTexts {
        names: check_texts(&mut errors, "names", names, true, |t| parse_line(t, 200)),
        descriptions: check_texts(&mut errors, "descriptions", descriptions, false, |t| {
            parse_paragraphs(t, 2000)
        }),
        documents: check_documents(&mut errors, "documents", documents),
    };
    errors.check("default_duration_minutes", check_duration(duration));
    errors.or_value((texts, duration))
}

const ADMINS_ONLY: &str = "Only the national administration edits the catalogue.";

/// The national catalogue, by code. Public.
pub async fn list(store: &Store) -> Result<Vec<AppointmentTypeView>, CatalogueError> {
    store
        .read(|conn| {
            let types = catalogue::list(conn)?;
            Ok(types.iter().map(AppointmentTypeView::from).collect())
        })
        .await
}

/// Adds a type to the national catalogue. Admins only.
pub async fn create(
    store: &Store,
    actor: Actor,
    request: CreateTypeRequest,
    now: DateTime<Utc>,
) -> Result<AppointmentTypeView, CatalogueError> {
    actor.must_be_admin(ADMINS_ONLY)?;
    let code = TypeCode::parse(&request.code);
    let mut errors = FieldErrors::new();
    if let Err(reason) = &code {
        errors.add("code", reason.message());
    }
    let (texts, duration) = check(
        errors,
        &request.names,
        &request.descriptions,
        &request.documents,
        request.default_duration_minutes,
    )?;
    let code = code.map_err(|reason| Error::field("code", reason))?;
    store
        .write(move |conn| {
            catalogue::insert(conn, &code, &texts, duration, now).map_err(|e| {
                if is_unique_violation(&e) {
                    CatalogueFailure::CodeTaken(code.clone()).into()
                } else {
                    CatalogueError::from(e)
                }
            })?;
            let created =
                catalogue::find_by_code(conn, &code)?.ok_or_else(|| Error::vanished(&code))?;
            let view = AppointmentTypeView::from(&created);
            let audit = Audit::by(&actor, now);
            audit.created(conn, None, Action::AppointmentTypeCreate, &code, &view)?;
            Ok(view)
        })
        .await
}

/// Changes a type's texts or default duration. Admins only. Offices that set their own
/// duration keep it.
pub async fn update(
    store: &Store,
    actor: Actor,
    code: TypeCode,
    request: UpdateTypeRequest,
    now: DateTime<Utc>,
) -> Result<AppointmentTypeView, CatalogueError> {
    actor.must_be_admin(ADMINS_ONLY)?;
    store
        .write(move |conn| {
            let current =
                catalogue::find_by_code(conn, &code)?.ok_or(CatalogueFailure::NoSuchType)?;
            let (texts, duration) = check(
                FieldErrors::new(),
                request.names.as_ref().unwrap_or(&current.texts.names),
                request
                    .descriptions
                    .as_ref()
                    .unwrap_or(&current.texts.descriptions),
                request
                    .documents
                    .as_ref()
                    .unwrap_or(&current.texts.documents),
                request
                    .default_duration_minutes
                    .unwrap_or(current.default_duration_minutes),
            )?;
            catalogue::update(conn, current.id, &texts, duration, now)?;
            let updated =
                catalogue::find_by_code(conn, &code)?.ok_or_else(|| Error::vanished(&code))?;
            let before = AppointmentTypeView::from(&current);
            let after = AppointmentTypeView::from(&updated);
            let audit = Audit::by(&actor, now);
            let action = Action::AppointmentTypeUpdate;
            audit.changed(conn, None, action, &code, &before, &after)?;
            Ok(after)
        })
        .await
}
