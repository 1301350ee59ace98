//! Office staff: who they are, what role they hold, and what each role may do.

use std::fmt;

use secrecy::SecretString;

pub use super::email::EmailAddress;
pub use super::office::OfficeCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    ids::StaffId,
    validation::{Invalid, Named},
};

/// What a staff member may do. Admins act for the national administration; managers configure
/// their own office; operators run its desk. Intermediaries (patronati, associations,
/// employers' consultants) are not staff of any office: they book for their clients at the
/// offices that accredited them, and may do nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
    Operator,
    Intermediary,
}

impl Named for Role {
    const ALL: &'static [Role] = &[
        Role::Admin,
        Role::Manager,
        Role::Operator,
        Role::Intermediary,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Operator => "operator",
            Role::Intermediary => "intermediary",
        }
    }
}

impl Role {
    /// Admins and intermediaries are national; managers and operators belong to one office.
    pub fn has_office(self) -> bool {
        matches!(self, Role::Manager | Role::Operator)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password chosen for a new account. Long passphrases are encouraged; the upper bound keeps
/// hashing cheap enough that it cannot be used to exhaust the CPU.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(text: &str) -> Result<NewPassword, Invalid> {
        let chars = text.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Invalid::new(format!(
                "must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if chars > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if text.trim().is_empty() {
            return Err(Invalid::new("must not be only spaces"));
        }
        Ok(NewPassword(SecretString::from(text.to_owned())))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// The signed-in staff member on whose behalf a request acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub staff_id: StaffId,
    pub role: Role,
    /// `None` exactly for admins.
    pub office: Option<OfficeCode>,
}

/// A staff action the actor's role does not allow, with the reason shown to them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub &'static str);

impl Actor {
    /// Admins create any account; managers create operators of their own office; operators
    /// create none.
    pub fn may_create_staff(
        &self,
        role: Role,
        office: Option<&OfficeCode>,
    ) -> Result<(), Forbidden> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Manager if role == Role::Operator && office == self.office.as_ref() => Ok(()),
            Role::Manager => Err(Forbidden(
                "managers can create operator accounts for their own office only",
            )),
            Role::Operator | Role::Intermediary => {
                Err(Forbidden("only admins and managers create accounts"))
            }
        }
    }

    /// National actions (offices and their stages, the catalogue, the national audit log) are
    /// for admins; anyone else is refused with `reason`.
    pub fn must_be_admin(&self, reason: &'static str) -> Result<(), Forbidden> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Manager | Role::Operator | Role::Intermediary => Err(Forbidden(reason)),
        }
    }

    /// Whether the actor may know of an account of `office` (`None`: an admin's): admins know
    /// every account, managers their office's.
    pub fn knows_staff_of(&self, office: Option<&OfficeCode>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Manager => office.is_some() && office == self.office.as_ref(),
            Role::Operator | Role::Intermediary => false,
        }
    }

    /// Admins list every account, managers their office's; operators none.
    pub fn may_list_staff(&self) -> Result<(), Forbidden> {
        match self.role {
            Role::Admin | Role::Manager => Ok(()),
            Role::Operator | Role::Intermediary => {
                Err(Forbidden("Only admins and managers list staff accounts."))
            }
        }
    }

    /// An office's audit log is for its managers and the administration.
    pub fn may_read_office_audit(&self) -> Result<(), Forbidden> {
        match self.role {
            Role::Admin | Role::Manager => Ok(()),
            Role::Operator | Role::Intermediary => Err(Forbidden(
                "The audit log is for managers and administrators.",
            )),
        }
    }

    /// Whether the actor may see or change the account of `role` in `office`: admins all,
    /// managers the operators of their office, operators nobody else.
    pub fn manages(&self, role: Role, office: Option<&OfficeCode>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Manager => role == Role::Operator && office == self.office.as_ref(),
            Role::Operator | Role::Intermediary => false,
        }
    }
}

/// What a staff member may do with one office's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficeAccess {
    /// Nothing: to them the office does not exist.
    None,
    /// See its configuration and agenda (operators).
    Read,
    /// Change its configuration (managers of the office, admins).
    Configure,
}

impl Actor {
    pub fn access_to(&self, office: &OfficeCode) -> OfficeAccess {
        match self.role {
            Role::Admin => OfficeAccess::Configure,
            // An accreditation lets an intermediary book, not see the office's data.
            Role::Intermediary => OfficeAccess::None,
            _ if self.office.as_ref() != Some(office) => OfficeAccess::None,
            Role::Manager => OfficeAccess::Configure,
            Role::Operator => OfficeAccess::Read,
        }
    }
}

/// Checks that the office fits the role: admins have none, everyone else exactly one.
pub fn check_office_for_role(role: Role, office: Option<&OfficeCode>) -> Result<(), Invalid> {
    match (role.has_office(), office.is_some()) {
        (true, false) => Err(Invalid::new("is required for managers and operators")),
        (false, true) => Err(Invalid::new(
            "must be empty for admins and intermediaries, who are national",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> OfficeCode {
        OfficeCode::parse(text).unwrap()
    }

    fn actor(id: i64, role: Role, office: Option<&str>) -> Actor {
        Actor {
            staff_id: StaffId::new(id),
            role,
            office: office.map(code),
        }
    }

    #[test]
    fn passwords_must_be_long_but_not_unbounded() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse(&" ".repeat(20)).is_err());
        assert!(NewPassword::parse("correct horse battery").is_ok());
        assert!(NewPassword::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn who_may_create_whom() {
        let admin = actor(1, Role::Admin, None);
        let manager = actor(2, Role::Manager, Some("RM"));
        let operator = actor(3, Role::Operator, Some("RM"));

        assert!(
            admin
                .may_create_staff(Role::Manager, Some(&code("LT")))
                .is_ok()
        );
        assert!(admin.may_create_staff(Role::Admin, None).is_ok());
        assert!(
            manager
                .may_create_staff(Role::Operator, Some(&code("RM")))
                .is_ok()
        );
        assert!(
            manager
                .may_create_staff(Role::Operator, Some(&code("LT")))
                .is_err()
        );
        assert!(
            manager
                .may_create_staff(Role::Manager, Some(&code("RM")))
                .is_err()
        );
        assert!(
            operator
                .may_create_staff(Role::Operator, Some(&code("RM")))
                .is_err()
        );
        assert!(operator.may_list_staff().is_err() && manager.may_list_staff().is_ok());
        assert!(operator.may_read_office_audit().is_err());
        assert!(manager.may_read_office_audit().is_ok());
    }

    #[test]
    fn staff_reach_their_own_office_only() {
        let (rome, latina) = (code("RM"), code("LT"));
        let admin = actor(1, Role::Admin, None);
        let manager = actor(2, Role::Manager, Some("RM"));
        let operator = actor(3, Role::Operator, Some("RM"));
        assert_eq!(admin.access_to(&latina), OfficeAccess::Configure);
        assert_eq!(manager.access_to(&rome), OfficeAccess::Configure);
        assert_eq!(manager.access_to(&latina), OfficeAccess::None);
        assert_eq!(operator.access_to(&rome), OfficeAccess::Read);
        assert_eq!(operator.access_to(&latina), OfficeAccess::None);
    }

    #[test]
    fn admins_have_no_office_and_everyone_else_has_one() {
        assert!(check_office_for_role(Role::Admin, None).is_ok());
        assert!(check_office_for_role(Role::Admin, Some(&code("RM"))).is_err());
        assert!(check_office_for_role(Role::Operator, None).is_err());
        assert!(check_office_for_role(Role::Manager, Some(&code("RM"))).is_ok());
    }
}
