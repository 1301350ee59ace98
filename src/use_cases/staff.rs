//! Staff accounts: admins create anyone, managers create the operators of their office.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::Audit;
use crate::{
    auth::password::Hasher,
    domain::{
        FieldErrors,
        audit::Action,
        ids::{OfficeId, StaffId},
        staff::{Actor, EmailAddress, NewPassword, OfficeCode, Role, check_office_for_role},
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store, is_unique_violation, offices,
        staff::{self, NewStaff, StaffMember},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum StaffFailure {
    /// No account, or none the actor manages: alike to them.
    #[error("there is no such staff account")]
    NoSuchAccount,
    #[error("a staff account with the email {0} already exists")]
    EmailTaken(EmailAddress),
    /// The address is taken by an account the actor may not know of.
    #[error("this email address cannot be used for a new account")]
    EmailUnavailable,
    #[error("staff cannot deactivate their own account")]
    CannotDeactivateSelf,
}

impl Explain for StaffFailure {
    fn answer(self) -> Answer {
        match self {
            StaffFailure::NoSuchAccount => {
                Answer::NotFound("There is no such staff account.".into())
            }
            StaffFailure::EmailTaken(email) => Answer::Conflict {
                code: "email_taken",
                detail: format!("A staff account with the email {email} already exists."),
            },
            StaffFailure::EmailUnavailable => Answer::Conflict {
                code: "email_unavailable",
                detail: "This email address cannot be used for a new account of your office. \
                         A national administrator can help."
                    .into(),
            },
            StaffFailure::CannotDeactivateSelf => Answer::Conflict {
                code: "cannot_deactivate_self",
                detail: "You cannot deactivate your own account; ask another administrator.".into(),
            },
        }
    }
}

impl Failure for StaffFailure {}

pub type StaffError = Error<StaffFailure>;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    #[schema(schema_with = crate::domain::schema::email)]
    pub email: String,
    /// 12 to 128 characters, not only spaces.
    #[schema(schema_with = crate::domain::schema::new_password)]
    pub password: String,
    pub role: Role,
    /// Required for managers and operators, absent for admins.
    #[schema(schema_with = crate::domain::schema::optional_office_code)]
    pub office_code: Option<String>,
}

/// An account to create, every field checked.
pub struct NewAccount {
    pub email: EmailAddress,
    pub password: NewPassword,
    pub role: Role,
    pub office: Option<OfficeCode>,
}

impl CreateStaffRequest {
    pub fn parse(self) -> Result<NewAccount, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = errors.check("email", EmailAddress::parse(&self.email));
        let password = errors.check("password", NewPassword::parse(&self.password));
        let office = match self.office_code.as_deref() {
            None => Some(None),
            Some(code) => errors
                .check("office_code", OfficeCode::parse(code))
                .map(Some),
        };
        if let Some(office) = &office {
            errors.check(
                "office_code",
                check_office_for_role(self.role, office.as_ref()),
            );
        }
        match (email, password, office) {
            (Some(email), Some(password), Some(office)) if errors.is_empty() => Ok(NewAccount {
                email,
                password,
                role: self.role,
                office,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffRequest {
    /// `false` deactivates the account: it can no longer log in and its tokens stop working.
    pub active: Option<bool>,
}

/// A staff account (never its password).
#[derive(Serialize, ToSchema)]
pub struct StaffView {
    #[schema(value_type = i64)]
    pub id: StaffId,
    pub email: String,
    pub role: Role,
    /// `null` for admins.
    #[schema(value_type = Option<String>, example = "RM")]
    pub office_code: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&StaffMember> for StaffView {
    fn from(member: &StaffMember) -> StaffView {
        StaffView {
            id: member.id,
            email: member.email.clone(),
            role: member.role,
            office_code: member.office_code.as_ref().map(|code| code.to_string()),
            active: member.active,
            created_at: member.created_at,
        }
    }
}

/// Creates a staff account. Admins may create any role; managers only operators of their own
/// office. Emails are unique regardless of case.
pub async fn create(
    store: &Store,
    hasher: &Hasher,
    actor: Actor,
    account: NewAccount,
    now: DateTime<Utc>,
) -> Result<StaffView, StaffError> {
    actor.may_create_staff(account.role, account.office.as_ref())?;
    let actor_id = actor.staff_id;
    let password_hash = hasher.hash(account.password).await?;
    let (email, role, office) = (account.email, account.role, account.office);
    let view = store
        .write(move |conn| -> Result<_, StaffError> {
            let office_id = match &office {
                None => None,
                Some(code) => Some(offices::id_by_code(conn, code)?.ok_or_else(|| {
                    FieldErrors::single("office_code", "no office has this code")
                })?),
            };
            // Emails are unique across offices, so whether one is taken is said only to those
            // who may know of its account: a manager learns nothing of other offices' staff.
            let unavailable = |holder: Option<&OfficeCode>| match actor.knows_staff_of(holder) {
                true => StaffFailure::EmailTaken(email.clone()),
                false => StaffFailure::EmailUnavailable,
            };
            if let Some(holder) = staff::office_of(conn, &email)? {
                return Err(unavailable(holder.as_ref()).into());
            }
            let view =
                insert(conn, &email, &password_hash, role, office_id, now).map_err(|error| {
                    match error {
                        // Taken a moment ago by a request we cannot look at any more.
                        Error::Feature(StaffFailure::EmailTaken(_)) => unavailable(None).into(),
                        other => other,
                    }
                })?;
            let audit = Audit::by(&actor, now);
            audit.created(conn, office_id, Action::StaffCreate, view.id, &view)?;
            Ok(view)
        })
        .await?;
    tracing::info!(actor = %actor_id, created = %view.id, role = %view.role, "staff account created");
    Ok(view)
}

/// Creates a national administrator from the command line, where nobody is signed in: how the
/// first administrator comes to be.
pub async fn create_admin(
    store: &Store,
    hasher: &Hasher,
    email: EmailAddress,
    password: NewPassword,
    now: DateTime<Utc>,
) -> Result<StaffView, StaffError> {
    let password_hash = hasher.hash(password).await?;
    let view = store
        .write(move |conn| insert(conn, &email, &password_hash, Role::Admin, None, now))
        .await?;
    tracing::info!(created = %view.id, "administrator created on the command line");
    Ok(view)
}

fn insert(
    conn: &mut DbConnection,
    email: &EmailAddress,
    password_hash: &str,
    role: Role,
    office_id: Option<OfficeId>,
    now: DateTime<Utc>,
) -> Result<StaffView, StaffError> {
    let new = NewStaff {
        email,
        password_hash,
        role,
        office_id,
    };
    let id = staff::insert(conn, new, now).map_err(|e| match is_unique_violation(&e) {
        true => StaffFailure::EmailTaken(email.clone()).into(),
        false => StaffError::from(e),
    })?;
    let member = staff::find(conn, id)?.ok_or_else(|| Error::vanished(email))?;
    Ok(StaffView::from(&member))
}

/// The staff accounts the actor manages: every account for admins, their office's accounts for
/// managers.
pub async fn list(store: &Store, actor: Actor) -> Result<Vec<StaffView>, StaffError> {
    actor.may_list_staff()?;
    store
        .read(move |conn| {
            let office_id = match &actor.office {
                None => None,
                Some(code) => Some(offices::id_by_code(conn, code)?.ok_or_else(|| {
                    Error::internal(anyhow::anyhow!(
                        "office {code} of a staff member is missing"
                    ))
                })?),
            };
            let members = staff::list(conn, office_id)?;
            Ok(members.iter().map(StaffView::from).collect())
        })
        .await
}

/// Changes an account the actor manages; today, deactivates or reactivates it. Accounts the
/// actor does not manage are, to them, no such account.
pub async fn update(
    store: &Store,
    actor: Actor,
    id: StaffId,
    request: UpdateStaffRequest,
    now: DateTime<Utc>,
) -> Result<StaffView, StaffError> {
    let actor_id = actor.staff_id;
    let view = store
        .write(move |conn| -> Result<_, StaffError> {
            let target = staff::find(conn, id)?
                .filter(|target| {
                    target.id == actor.staff_id
                        || actor.manages(target.role, target.office_code.as_ref())
                })
                .ok_or(StaffFailure::NoSuchAccount)?;
            if let Some(active) = request.active {
                if !active && target.id == actor.staff_id {
                    return Err(StaffFailure::CannotDeactivateSelf.into());
                }
                staff::set_active(conn, id, active, now)?;
            }
            let updated = staff::find(conn, id)?.ok_or_else(|| Error::vanished(id))?;
            let office_id = match &updated.office_code {
                Some(code) => offices::id_by_code(conn, code)?,
                None => None,
            };
            let (before, after) = (StaffView::from(&target), StaffView::from(&updated));
            let audit = Audit::by(&actor, now);
            audit.changed(conn, office_id, Action::StaffUpdate, id, &before, &after)?;
            Ok(after)
        })
        .await?;
    tracing::info!(actor = %actor_id, target = %id, active = view.active, "staff account updated");
    Ok(view)
}
