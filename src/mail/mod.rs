//! The mailer that replaces the registered letter. Booking and invitation changes queue their
//! messages in the outbox, in the same transaction as the change; this worker claims due messages, writes them
//! in the applicant's language and hands them to SMTP (or to files), retrying with backoff.
//! Any number of instances may run it: a message is claimed by one of them at a time.

pub mod compose;
pub mod transport;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::{
    config::{MailSettings, Settings},
    domain::{
        booking::Status,
        ids::{BookingId, EntryId, InvitationId, OfficeId},
        invitations::InvitationStatus,
        mail::{DeliveryStatus, MessageKind, retry_delay},
    },
    error::Error,
    store::{
        Store, StoreError, bookings as stored,
        outbox::{self, Claimed, Subject},
        slots::Slot,
        waitlist::{Offer, Waiter},
    },
    use_cases::{
        bookings::{self, token::TokenKey},
        invitations, lottery, waitlist,
    },
};
use compose::{Composer, WaitlistLetter};
use transport::{Refusal, Transport};

/// What one round of delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    pub bounced: usize,
    pub suppressed: usize,
}

impl Round {
    pub fn handled(&self) -> usize {
        self.sent + self.retrying + self.failed + self.bounced + self.suppressed
    }
}

pub struct Mailer {
    store: Store,
    transport: Transport,
    composer: Composer,
    tokens: TokenKey,
    settings: MailSettings,
}

/// A claimed message, written and ready to go, or the reason it must not go.
enum Prepared {
    Send(Box<lettre::Message>),
    Suppress(&'static str),
}

/// Why a claimed message is not sent after all.
struct Stale(&'static str);

type Written = Result<lettre::Message, Stale>;

impl Mailer {
    pub fn new(settings: &Settings, store: Store) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            store,
            transport: Transport::from_settings(&settings.mail)?,
            composer: Composer::new(&settings.mail.from, &settings.mail.public_base_url)?,
            tokens: TokenKey::derive(&settings.auth.jwt_secret),
            settings: settings.mail.clone(),
        })
    }

    /// Queues reminders for visits coming within the reminder lead time.
    pub async fn schedule_reminders(&self) -> Result<usize, StoreError> {
        let lead = chrono::Duration::hours(self.settings.reminder_hours_before as i64);
        self.store
            .write(move |conn| -> Result<usize, StoreError> {
                Ok(outbox::enqueue_reminders(conn, lead, Utc::now(), 500)?)
            })
            .await
    }

    /// Claims a batch of due messages and delivers them, a few at a time.
    pub async fn deliver_due(&self) -> Result<Round, StoreError> {
        self.deliver_due_at(Utc::now()).await
    }

    /// A round of delivery as of `now`: what is due then, written as things are then.
    async fn deliver_due_at(&self, now: DateTime<Utc>) -> Result<Round, StoreError> {
        let lease = chrono::Duration::seconds(self.settings.lease_seconds as i64);
        let batch = self.settings.batch_size;
        let claimed = self
            .store
            .write(move |conn| -> Result<Vec<Claimed>, StoreError> {
                Ok(outbox::claim_due(conn, now, lease, batch)?)
            })
            .await?;
        let outcomes: Vec<Result<DeliveryStatus, StoreError>> = futures_util::stream::iter(claimed)
            .map(|message| self.deliver(message, now))
            .buffer_unordered(self.settings.send_concurrency.max(1))
            .collect()
            .await;
        let mut round = Round::default();
        for outcome in outcomes {
            match outcome? {
                DeliveryStatus::Sent => round.sent += 1,
                DeliveryStatus::Failed => round.failed += 1,
                DeliveryStatus::Bounced => round.bounced += 1,
                DeliveryStatus::Suppressed => round.suppressed += 1,
                DeliveryStatus::Pending | DeliveryStatus::Sending => round.retrying += 1,
            }
        }
        Ok(round)
    }

    /// Delivers until nothing is due (for tests and the `worker` command's first pass).
    pub async fn deliver_all_due(&self) -> Result<Round, StoreError> {
        self.deliver_all_due_at(Utc::now()).await
    }

    /// Delivers until nothing is due as of `now` (a test's clock, set ahead to when a queued
    /// reminder is due).
    pub async fn deliver_all_due_at(&self, now: DateTime<Utc>) -> Result<Round, StoreError> {
        let mut total = Round::default();
        loop {
            let round = self.deliver_due_at(now).await?;
            if round.handled() == 0 {
                return Ok(total);
            }
            total.sent += round.sent;
            total.retrying += round.retrying;
            total.failed += round.failed;
            total.bounced += round.bounced;
            total.suppressed += round.suppressed;
        }
    }

    async fn deliver(
        &self,
        message: Claimed,
        now: DateTime<Utc>,
    ) -> Result<DeliveryStatus, StoreError> {
        let prepared = self.prepare(&message, now).await?;
        let (status, error, next) = match prepared {
            Prepared::Suppress(reason) => {
                (DeliveryStatus::Suppressed, Some(reason.to_owned()), None)
            }
            Prepared::Send(email) => match self.transport.send(&email, &message.message_id).await {
                Ok(()) => (DeliveryStatus::Sent, None, None),
                Err(refusal) if refusal.permanent => {
                    tracing::warn!(message = %message.id, error = %refusal.reason, "mail bounced: the server refused the recipient for good");
                    (DeliveryStatus::Bounced, Some(refusal.reason), None)
                }
                Err(Refusal { reason: error, .. })
                    if message.attempts >= self.settings.max_attempts =>
                {
                    tracing::error!(message = %message.id, attempts = message.attempts, %error, "mail delivery failed for good");
                    (DeliveryStatus::Failed, Some(error), None)
                }
                Err(Refusal { reason: error, .. }) => {
                    let delay = retry_delay(
                        message.attempts,
                        Duration::from_secs(self.settings.retry_base_seconds),
                        Duration::from_secs(self.settings.retry_max_seconds),
                        rand::random::<f64>(),
                    );
                    tracing::warn!(message = %message.id, attempts = message.attempts, %error, retry_in = ?delay, "mail delivery failed; will retry");
                    let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
                    (DeliveryStatus::Pending, Some(error), Some(next))
                }
            },
        };
        // What was done must be recorded before the claim lapses, or another worker sends the
        // message again: while the database is away (restarting, failing over), keep trying
        // for half the lease. Ahead of requests: an instance killed before the record commits
        // leaves a message the server accepted to be sent again.
        let patience =
            std::time::Instant::now() + Duration::from_secs(self.settings.lease_seconds) / 2;
        loop {
            let (key, error) = ((message.office_id, message.id), error.clone());
            let recorded = self
                .store
                .autocommit_ahead(move |conn| -> Result<(), StoreError> {
                    Ok(outbox::settle(
                        conn,
                        key,
                        status,
                        error.as_deref(),
                        next,
                        now,
                    )?)
                })
                .await;
            match recorded {
                Ok(()) => return Ok(status),
                Err(failure) if failure.is_transient() && std::time::Instant::now() < patience => {
                    tracing::warn!(message = %message.id, error = %failure, "cannot record the delivery yet; trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// Writes the message from the booking or invitation as it is now, unless a later change
    /// made it stale.
    async fn prepare(&self, message: &Claimed, now: DateTime<Utc>) -> Result<Prepared, StoreError> {
        let written = match message.subject {
            Subject::Booking(id) => self.prepare_booking(message, id, now).await?,
            Subject::Invitation(id) => self.prepare_invitation(message, id, now).await?,
            Subject::LotteryEntry(id) => self.prepare_lottery_notice(message, id, now).await?,
        };
        Ok(match written {
            Ok(email) => Prepared::Send(Box::new(email)),
            Err(Stale(reason)) => Prepared::Suppress(reason),
        })
    }

    /// A booking's message, unless the booking moved or was cancelled since, or a reminder's
    /// visit is no longer ahead.
    async fn prepare_booking(
        &self,
        message: &Claimed,
        booking_id: BookingId,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let office_id = message.office_id;
        let details = self
            .store
            .read(
                move |conn| -> Result<Option<bookings::Details>, StoreError> {
                    let Some(booking) = stored::find(conn, office_id, booking_id)? else {
                        return Ok(None);
                    };
                    match bookings::details(conn, booking) {
                        Ok(details) => Ok(Some(details)),
                        Err(Error::Store(error)) => Err(error),
                        // Its office, slot or service is gone with it: nothing is left to tell.
                        Err(_) => Ok(None),
                    }
                },
            )
            .await?;
        let Some(details) = details else {
            return Ok(Err(Stale("the booking no longer exists")));
        };
        if details.booking.sequence != message.sequence {
            return Ok(Err(Stale("superseded by a later change to the booking")));
        }
        if message.kind == MessageKind::Reminder
            && (details.booking.status != Status::Confirmed || details.slot.time.starts_at <= now)
        {
            return Ok(Err(Stale("the visit is no longer ahead")));
        }
        if message.kind == MessageKind::WaitlistOffer {
            return self.prepare_waitlist_offer(message, details, now).await;
        }
        let survey_url = match message.kind {
            MessageKind::Survey => match self
                .survey_url((details.booking.office_id, details.booking.id))
                .await?
            {
                Some(url) => Some(url),
                None => return Ok(Err(Stale("the visit has no survey"))),
            },
            _ => None,
        };
        let token = self.tokens.token(&details.booking.token_salt);
        let (kind, to, id) = (message.kind, &message.recipient, &message.message_id);
        Ok(self.written(
            message,
            self.composer
                .compose(kind, &details, (to, id), &token, survey_url.as_deref()),
        ))
    }

    /// The link to the survey of a visit, if it has one.
    async fn survey_url(
        &self,
        (office_id, booking): (OfficeId, BookingId),
    ) -> Result<Option<String>, StoreError> {
        let survey = self
            .store
            .read(move |conn| {
                let survey = crate::store::surveys::of_booking(conn, office_id, booking)?;
                Ok::<_, StoreError>(survey)
            })
            .await?;
        Ok(survey.map(|survey| {
            let token = crate::use_cases::surveys::token_of(&survey, &self.tokens);
            self.composer
                .page_url(&format!("/surveys/{}?token={token}", survey.id))
        }))
    }

    /// An invitation's mail, written as the invitation is now (a deadline extended since it was
    /// queued is the one it gives), unless the invitation is no longer open.
    async fn prepare_invitation(
        &self,
        message: &Claimed,
        id: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let office_id = message.office_id;
        let letter = self
            .store
            .read(move |conn| invitations::letter(conn, office_id, id))
            .await?;
        let Some(letter) = letter else {
            return Ok(Err(Stale("the invitation no longer exists")));
        };
        if letter.invitation.status != InvitationStatus::Sent || letter.invitation.deadline <= now {
            return Ok(Err(Stale("the invitation is no longer open")));
        }
        let token = self.tokens.token(&letter.invitation.token_salt);
        let (kind, to, message_id) = (message.kind, &message.recipient, &message.message_id);
        let email = self
            .composer
            .compose_invitation(kind, &letter, to, message_id, &token);
        Ok(self.written(message, email))
    }

    /// A waitlist offer's mail, while the offer is open.
    async fn prepare_waitlist_offer(
        &self,
        message: &Claimed,
        details: bookings::Details,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let waiter = Waiter::Booking(details.booking.id);
        let office_id = details.booking.office_id;
        let Some((offer, slot)) = self.open_offer(office_id, waiter, now).await? else {
            return Ok(Err(Stale("the offer is no longer open")));
        };
        let booking = &details.booking;
        let letter = WaitlistLetter {
            id: offer.id,
            token: self.tokens.token(&offer.token_salt),
            name: &booking.full_name,
            language: booking.language.as_str(),
            reference: booking.reference.as_str(),
            is_test: booking.is_test,
            office: &details.office.details,
            texts: &details.service.appointment_type.texts,
            offered_at: slot.time.starts_at,
            current_at: Some(details.slot.time.starts_at),
            expires_at: offer.expires_at,
        };
        let (to, id) = (&message.recipient, &message.message_id);
        let email = self.composer.compose_waitlist_offer(&letter, to, id);
        Ok(self.written(message, email))
    }

    /// The waiter's open offer and its seat, unless its hold has run out.
    async fn open_offer(
        &self,
        office_id: OfficeId,
        waiter: Waiter,
        now: DateTime<Utc>,
    ) -> Result<Option<(Offer, Slot)>, StoreError> {
        let open = self
            .store
            .read(
                move |conn| match waitlist::open_offer_of(conn, office_id, waiter) {
                    Ok(open) => Ok(open),
                    Err(Error::Store(error)) => Err(error),
                    Err(_) => Ok(None),
                },
            )
            .await?;
        Ok(open.filter(|(offer, _)| offer.expires_at > now))
    }

    /// The notice that an entry won no seat, unless the entry has changed since.
    async fn prepare_lottery_notice(
        &self,
        message: &Claimed,
        id: EntryId,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let office_id = message.office_id;
        let notice = self
            .store
            .read(move |conn| lottery::notice(conn, office_id, id))
            .await?;
        let Some(notice) = notice else {
            return Ok(Err(Stale("the entry no longer exists")));
        };
        if notice.entry.sequence != message.sequence {
            return Ok(Err(Stale("superseded by a later change to the entry")));
        }
        let (to, message_id) = (&message.recipient, &message.message_id);
        if message.kind != MessageKind::WaitlistOffer {
            let email = self.composer.compose_lottery_lost(&notice, to, message_id);
            return Ok(self.written(message, email));
        }
        let Some((offer, slot)) = self.open_offer(office_id, Waiter::Entry(id), now).await? else {
            return Ok(Err(Stale("the offer is no longer open")));
        };
        let entry = &notice.entry;
        let letter = WaitlistLetter {
            id: offer.id,
            token: self.tokens.token(&offer.token_salt),
            name: &entry.full_name,
            language: &entry.language,
            reference: &entry.reference,
            is_test: false,
            office: &notice.office.details,
            texts: &notice.service.appointment_type.texts,
            offered_at: slot.time.starts_at,
            current_at: None,
            expires_at: offer.expires_at,
        };
        let email = self
            .composer
            .compose_waitlist_offer(&letter, to, message_id);
        Ok(self.written(message, email))
    }

    /// A composed message, or (logged) the reason it is not sent.
    fn written(
        &self,
        message: &Claimed,
        composed: Result<lettre::Message, compose::ComposeError>,
    ) -> Written {
        composed.map_err(|error| {
            tracing::error!(message = %message.id, %error, "cannot write a message");
            Stale("the message could not be written")
        })
    }

    /// How long the worker rests between rounds.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.settings.poll_interval_ms)
    }

    /// Delivers forever: reminders queued, due messages sent, every poll interval; `pulse`
    /// beats after each round.
    pub async fn run(self: Arc<Self>, pulse: Arc<crate::worker::Pulse>) {
        let mut ticker = tokio::time::interval(self.poll_interval());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = self.schedule_reminders().await {
                tracing::warn!(%error, "cannot queue reminders; trying again next round");
            }
            match self.deliver_all_due().await {
                Ok(round) if round.handled() > 0 => tracing::info!(?round, "mail delivered"),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "mail delivery round failed; trying again next round")
                }
            }
            pulse.beat();
        }
    }
}
