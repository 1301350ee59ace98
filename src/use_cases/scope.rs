//! Which office a use case may touch, decided once for all of them: staff of another office get
//! "no such office", as if it did not exist; operators may read but not configure.

use crate::{
    domain::{
        integration::Caller,
        office::OfficeCode,
        staff::{Actor, Forbidden, OfficeAccess},
    },
    error::Error,
    store::{
        DbConnection,
        offices::{self, Office},
    },
};

/// What the use case does with the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// See its configuration, agenda and bookings, and run its desk.
    Read,
    /// Change its configuration.
    Configure,
}

/// The office `code` names, if `actor` may use it as `need` requires.
pub fn staff_office<F>(
    conn: &mut DbConnection,
    actor: &Actor,
    code: &OfficeCode,
    need: Need,
) -> Result<Office, Error<F>> {
    match (actor.access_to(code), need) {
        (OfficeAccess::None, _) => return Err(Error::NoSuchOffice),
        (OfficeAccess::Read, Need::Configure) => {
            return Err(Forbidden(
                "Operators can see the office's configuration but not change it.",
            )
            .into());
        }
        _ => {}
    }
    offices::find_by_code(conn, code)?.ok_or(Error::NoSuchOffice)
}

/// The office `code` names, if `caller` (staff or the case system) may use it as `need`
/// requires. Integration clients bound to another office get "no such office", like staff.
pub fn caller_office<F>(
    conn: &mut DbConnection,
    caller: &Caller,
    code: &OfficeCode,
    need: Need,
) -> Result<Office, Error<F>> {
    match caller {
        Caller::Staff(actor) => staff_office(conn, actor, code, need),
        Caller::Integration(_) => match caller.access_to(code) {
            OfficeAccess::None => Err(Error::NoSuchOffice),
            _ => offices::find_by_code(conn, code)?.ok_or(Error::NoSuchOffice),
        },
    }
}

/// The office `code` names, as applicants see it: `pilot` and `live` offices for everyone; an
/// office in another stage only for staff who may read it (a `preview` office's own staff).
pub fn visible_office<F>(
    conn: &mut DbConnection,
    viewer: Option<&Actor>,
    code: &OfficeCode,
) -> Result<Office, Error<F>> {
    let office = offices::find_by_code(conn, code)?.ok_or(Error::NoSuchOffice)?;
    let staff_may_see =
        viewer.is_some_and(|actor| actor.access_to(&office.code) != OfficeAccess::None);
    if office.stage.is_public() || staff_may_see {
        Ok(office)
    } else {
        Err(Error::NoSuchOffice)
    }
}
