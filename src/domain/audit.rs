//! What the audit log records: every change staff make, named `entity.verb`, with the state
//! before and after.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ids::AuditEntryId;

/// A kind of change, as the audit log names it (`calendar.create`, `office.stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    OfficeCreate,
    OfficeUpdate,
    OfficeStage,
    AppointmentTypeCreate,
    AppointmentTypeUpdate,
    ServicePut,
    ServiceTurnOff,
    CalendarCreate,
    CalendarUpdate,
    CalendarHours,
    ClosureCreate,
    ClosureDelete,
    SlotsPublish,
    SlotBlock,
    SlotUnblock,
    StaffCreate,
    StaffUpdate,
    IntegrationClientCreate,
    IntegrationClientRevoke,
    CaseRegister,
    CaseImport,
    OutboxRetry,
    WebhookSubscribe,
    WebhookUnsubscribe,
    WebhookRedeliver,
    InvitationCreate,
    InvitationBatch,
    InvitationCancel,
    InvitationExtend,
    LotteryDraw,
    AccreditationPut,
    AccreditationRevoke,
    BookingCreate,
    BookingCheckIn,
    BookingAttended,
    BookingNoShow,
    BookingCancel,
    /// Staff moved a booking to another time.
    BookingMove,
    /// Staff exported what is held about a data subject (GDPR art. 15).
    PersonalDataExport,
    /// Staff erased a data subject's personal data (GDPR art. 17).
    PersonalDataErase,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::OfficeCreate => "office.create",
            Action::OfficeUpdate => "office.update",
            Action::OfficeStage => "office.stage",
            Action::AppointmentTypeCreate => "appointment_type.create",
            Action::AppointmentTypeUpdate => "appointment_type.update",
            Action::ServicePut => "service.put",
            Action::ServiceTurnOff => "service.turn_off",
            Action::CalendarCreate => "calendar.create",
            Action::CalendarUpdate => "calendar.update",
            Action::CalendarHours => "calendar.hours",
            Action::ClosureCreate => "closure.create",
            Action::ClosureDelete => "closure.delete",
            Action::SlotsPublish => "slots.publish",
            Action::SlotBlock => "slot.block",
            Action::SlotUnblock => "slot.unblock",
            Action::StaffCreate => "staff.create",
            Action::StaffUpdate => "staff.update",
            Action::IntegrationClientCreate => "integration_client.create",
            Action::IntegrationClientRevoke => "integration_client.revoke",
            Action::CaseRegister => "case.register",
            Action::CaseImport => "case.import",
            Action::WebhookSubscribe => "webhook.subscribe",
            Action::WebhookUnsubscribe => "webhook.unsubscribe",
            Action::WebhookRedeliver => "webhook.redeliver",
            Action::InvitationCreate => "invitation.create",
            Action::InvitationBatch => "invitation.batch",
            Action::InvitationCancel => "invitation.cancel",
            Action::InvitationExtend => "invitation.extend",
            Action::LotteryDraw => "lottery.draw",
            Action::AccreditationPut => "accreditation.put",
            Action::AccreditationRevoke => "accreditation.revoke",
            Action::OutboxRetry => "outbox.retry",
            Action::BookingCreate => "booking.create",
            Action::BookingCheckIn => "booking.check_in",
            Action::BookingAttended => "booking.attended",
            Action::BookingNoShow => "booking.no_show",
            Action::BookingCancel => "booking.cancel",
            Action::BookingMove => "booking.move",
            Action::PersonalDataExport => "personal_data.export",
            Action::PersonalDataErase => "personal_data.erase",
        }
    }

    /// What kind of thing changed: the part before the dot.
    pub fn entity(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(entity, _)| entity)
    }
}

// An entry of the audit log, as staff read it (the schema keeps the name clients know).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEntryView)]
pub struct AuditEntry {
    #[schema(value_type = i64)]
    pub id: AuditEntryId,
    pub office_code: Option<String>,
    /// Who made the change: a staff member's email…
    pub actor_email: Option<String>,
    /// …or the client id of the case system's integration client.
    pub actor_client: Option<String>,
    /// `entity.verb`, e.g. `calendar.create` or `office.stage`.
    #[schema(example = "office.stage")]
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// The state before the change, when there was one.
    pub before: Option<serde_json::Value>,
    /// The state after the change.
    pub after: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_entity_dot_verb() {
        assert_eq!(Action::OfficeStage.as_str(), "office.stage");
        assert_eq!(Action::AppointmentTypeCreate.entity(), "appointment_type");
        assert_eq!(Action::SlotsPublish.entity(), "slots");
    }
}
