//! The case system's machine accounts (integration clients), and who may act on an office's
//! registered cases: its staff or the case system.

use super::{
    ids::{IntegrationClientId, StaffId},
    office::OfficeCode,
    staff::{Actor, Forbidden, OfficeAccess, Role},
};

/// A signed-in integration client: national, or bound to one office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: IntegrationClientId,
    pub office: Option<OfficeCode>,
}

/// Who acts on the case system's data (registered cases, invitations, events): a staff member
/// or an integration client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Staff(Actor),
    Integration(Client),
}

impl Caller {
    /// Cases and invitations are the work of managers, admins and the case system; operators
    /// see them at the desk but do not register or invite.
    pub fn access_to(&self, office: &OfficeCode) -> OfficeAccess {
        match self {
            Caller::Staff(actor) => actor.access_to(office),
            Caller::Integration(client) => match &client.office {
                Some(own) if own != office => OfficeAccess::None,
                _ => OfficeAccess::Configure,
            },
        }
    }

    /// National work (every office's events): admins and national clients.
    pub fn is_national(&self) -> bool {
        match self {
            Caller::Staff(actor) => actor.role == Role::Admin,
            Caller::Integration(client) => client.office.is_none(),
        }
    }

    /// The office the caller is bound to; `None` for national callers.
    pub fn office(&self) -> Option<&OfficeCode> {
        match self {
            Caller::Staff(actor) => actor.office.as_ref(),
            Caller::Integration(client) => client.office.as_ref(),
        }
    }
}

/// Who wrote an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Staff(StaffId),
    Client(IntegrationClientId),
    /// The service itself, on its own schedule (a lottery drawn when its window closes).
    System,
}

impl Author {
    /// The staff member, when a staff member wrote it.
    pub fn staff_id(self) -> Option<StaffId> {
        match self {
            Author::Staff(id) => Some(id),
            Author::Client(_) | Author::System => None,
        }
    }

    /// The integration client, when the case system wrote it.
    pub fn client_id(self) -> Option<IntegrationClientId> {
        match self {
            Author::Client(id) => Some(id),
            Author::Staff(_) | Author::System => None,
        }
    }
}

impl From<&Actor> for Author {
    fn from(actor: &Actor) -> Author {
        Author::Staff(actor.staff_id)
    }
}

impl From<&Caller> for Author {
    fn from(caller: &Caller) -> Author {
        match caller {
            Caller::Staff(actor) => Author::Staff(actor.staff_id),
            Caller::Integration(client) => Author::Client(client.id),
        }
    }
}

/// Integration clients are created and revoked by the national administration.
pub fn may_manage_clients(actor: &Actor) -> Result<(), Forbidden> {
    actor.must_be_admin("Integration clients are managed by national administrators.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> OfficeCode {
        OfficeCode::parse(text).unwrap()
    }

    #[test]
    fn an_office_client_reaches_only_its_office_and_a_national_one_every_office() {
        let rome = Caller::Integration(Client {
            id: IntegrationClientId::new(1),
            office: Some(code("RM")),
        });
        assert_eq!(rome.access_to(&code("RM")), OfficeAccess::Configure);
        assert_eq!(rome.access_to(&code("MI")), OfficeAccess::None);
        assert!(!rome.is_national());
        let national = Caller::Integration(Client {
            id: IntegrationClientId::new(2),
            office: None,
        });
        assert_eq!(national.access_to(&code("MI")), OfficeAccess::Configure);
        assert!(national.is_national());
    }
}
