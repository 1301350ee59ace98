//! Invitations by the thousand: a batch is read item by item, written a chunk per
//! transaction with each invitation in a savepoint, and reported by index.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{InvitationError, InvitationFailure, InvitationRequest, NewInvitationSpec, invite_in};
use crate::{
    domain::{
        FieldErrors, audit::Action, integration::Author, integration::Caller, office::OfficeCode,
        validation::FieldError,
    },
    error::Error,
    store::Store,
    use_cases::{
        audit::Audit,
        bookings::Policy,
        scope::{Need, caller_office},
    },
};

/// At most this many invitations in one request.
pub const MOST_PER_BATCH: usize = 10_000;
/// Invitations written per transaction in a batch, so bookings are never held up for long.
const BATCH_CHUNK: usize = 200;

/// Many invitations at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationBatchRequest {
    /// 1 to 10,000 invitations, each an object read as an `InvitationRequest`: one that is not
    /// one (or breaks its rules) is reported by its index, and the others are sent.
    #[schema(value_type = Vec<Object>, min_items = 1, max_items = 10000)]
    pub invitations: Vec<Value>,
}

impl InvitationBatchRequest {
    /// Each invitation, read and checked on its own.
    pub fn parse(self) -> Result<Vec<Result<NewInvitationSpec, FieldErrors>>, FieldErrors> {
        let count = self.invitations.len();
        if !(1..=MOST_PER_BATCH).contains(&count) {
            let message = format!("must hold 1 to {MOST_PER_BATCH} invitations");
            return Err(FieldErrors::single("invitations", message));
        }
        if let Some(i) = self.invitations.iter().position(|item| !item.is_object()) {
            let message = "must be an object: an invitation";
            return Err(FieldErrors::single(format!("invitations[{i}]"), message));
        }
        Ok(self
            .invitations
            .into_iter()
            .map(|item| {
                let request: InvitationRequest = serde_json::from_value(item)
                    .map_err(|e| FieldErrors::single("", format!("is not an invitation: {e}")))?;
                request.parse()
            })
            .collect())
    }
}

/// What a batch did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchReport {
    pub received: usize,
    /// Invitations sent.
    pub invited: usize,
    /// Cases that had an open invitation to the service already: nothing was sent again.
    pub already_open: usize,
    /// The invitations that were not sent, with why; every other one was.
    pub failed: Vec<BatchFailure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchFailure {
    /// Its place in `invitations`, from 0.
    pub index: usize,
    pub case_number: Option<String>,
    pub errors: Vec<FieldError>,
}

/// Invites many cases, a chunk per transaction. An invitation that cannot be sent is
/// reported with its index and why; every other one is sent (or was open already).
pub async fn invite_many(
    store: &Store,
    policy: &Policy,
    caller: Caller,
    code: OfficeCode,
    items: Vec<Result<NewInvitationSpec, FieldErrors>>,
    now: DateTime<Utc>,
) -> Result<BatchReport, InvitationError> {
    let mut report = BatchReport {
        received: items.len(),
        invited: 0,
        already_open: 0,
        failed: Vec::new(),
    };
    let office = {
        let (caller, code) = (caller.clone(), code.clone());
        store
            .read(move |conn| caller_office::<InvitationFailure>(conn, &caller, &code, Need::Read))
            .await?
    };
    // The same case and service twice in one batch: the second is a mistake worth reporting.
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let failed = |errors: FieldErrors, case_number: Option<String>| BatchFailure {
            index,
            case_number,
            errors: errors.into_vec(),
        };
        match item {
            Err(errors) => report.failed.push(failed(errors, None)),
            Ok(spec) if !seen.insert((spec.case_number.clone(), spec.service.clone())) => {
                let message = "is invited to this service earlier in the batch";
                let case_number = Some(spec.case_number.to_string());
                report.failed.push(failed(
                    FieldErrors::single("case_number", message),
                    case_number,
                ));
            }
            Ok(spec) => valid.push((index, spec)),
        }
    }
    let author = Author::from(&caller);
    let mut chunks = valid.into_iter().peekable();
    while chunks.peek().is_some() {
        let chunk: Vec<(usize, NewInvitationSpec)> = chunks.by_ref().take(BATCH_CHUNK).collect();
        let (office, policy) = (office.clone(), policy.clone());
        let outcomes = store
            .write(move |conn| -> Result<_, InvitationError> {
                let mut outcomes = Vec::with_capacity(chunk.len());
                for (index, spec) in chunk {
                    // Each invitation in a savepoint: one refused leaves the others written.
                    let outcome = conn
                        .transaction(|conn| invite_in(conn, &office, author, &spec, &policy, now));
                    let outcome = match outcome {
                        Ok((_, created)) => Ok(created),
                        Err(Error::Invalid(errors)) => Err(errors),
                        Err(Error::Feature(InvitationFailure::Refused(refusal))) => {
                            Err(FieldErrors::single("proposed_slot_id", refusal.message()))
                        }
                        Err(other) => return Err(other),
                    };
                    outcomes.push((index, spec.case_number.to_string(), outcome));
                }
                Ok(outcomes)
            })
            .await?;
        for (index, case_number, outcome) in outcomes {
            match outcome {
                Ok(true) => report.invited += 1,
                Ok(false) => report.already_open += 1,
                Err(errors) => report.failed.push(BatchFailure {
                    index,
                    case_number: Some(case_number),
                    errors: errors.into_vec(),
                }),
            }
        }
    }
    report.failed.sort_by_key(|failure| failure.index);
    let summary = serde_json::json!({
        "received": report.received,
        "invited": report.invited,
        "already_open": report.already_open,
        "failed": report.failed.len(),
    });
    store
        .write(move |conn| -> Result<(), InvitationError> {
            let audit = Audit::by(&caller, now);
            let action = Action::InvitationBatch;
            audit.created(
                conn,
                Some(office.id),
                action,
                office.code.as_str(),
                &summary,
            )?;
            Ok(())
        })
        .await?;
    Ok(report)
}
