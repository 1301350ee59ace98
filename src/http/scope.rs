//! Which office a request may touch, decided once for every handler: staff of another office
//! get 404, as if the office did not exist; operators may read but not configure.

use chrono::Utc;
use serde::Serialize;

use super::problem::ApiError;
use crate::{
    domain::{
        office::OfficeCode,
        staff::{Actor, OfficeAccess},
    },
    store::{
        DbConnection, audit,
        offices::{self, Office},
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Configure,
}

fn no_such_office() -> ApiError {
    ApiError::not_found("There is no office with this code.")
}

/// The office `code` names, if `actor` may use it as `need` requires.
pub fn staff_office(
    conn: &mut DbConnection,
    actor: &Actor,
    code: &str,
    need: Need,
) -> Result<Office, ApiError> {
    let code = OfficeCode::parse(code).map_err(|_| no_such_office())?;
    match (actor.access_to(&code), need) {
        (OfficeAccess::None, _) => return Err(no_such_office()),
        (OfficeAccess::Read, Need::Configure) => {
            return Err(ApiError::forbidden(
                "Operators can see the office's configuration but not change it.",
            ));
        }
        _ => {}
    }
    offices::find_by_code(conn, &code)?.ok_or_else(no_such_office)
}

/// The office `code` names, as applicants see it: `pilot` and `live` offices for everyone; an
/// office in another stage only for staff who may read it (a `preview` office's own staff).
pub fn visible_office(
    conn: &mut DbConnection,
    viewer: Option<&Actor>,
    code: &str,
) -> Result<Office, ApiError> {
    let code = OfficeCode::parse(code).map_err(|_| no_such_office())?;
    let office = offices::find_by_code(conn, &code)?.ok_or_else(no_such_office)?;
    let staff_may_see =
        viewer.is_some_and(|actor| actor.access_to(&office.code) != OfficeAccess::None);
    if office.stage.is_public() || staff_may_see {
        Ok(office)
    } else {
        Err(no_such_office())
    }
}

/// Records a change in the audit log, in the caller's transaction. `action` is `entity.verb`,
/// such as `calendar.create`.
pub fn audit(
    conn: &mut DbConnection,
    actor: &Actor,
    office_id: Option<i64>,
    action: &str,
    entity_id: impl ToString,
    before: Option<&impl Serialize>,
    after: Option<&impl Serialize>,
) -> diesel::QueryResult<()> {
    fn json(value: &impl Serialize) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
    }
    let change = audit::Change {
        office_id,
        actor_id: Some(actor.staff_id),
        action,
        entity: action.split('.').next().unwrap_or(action),
        entity_id: entity_id.to_string(),
        before: before.map(json),
        after: after.map(json),
    };
    audit::record(conn, change, Utc::now())
}
