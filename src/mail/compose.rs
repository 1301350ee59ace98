//! Writing a message: one template per kind (text and HTML), with every sentence taken from the
//! booking language's string table, falling back to English, then Italian. Arabic is laid out
//! right to left. The calendar event rides along as an `.ics` attachment.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Datelike, Utc};
use lettre::{
    Message,
    message::{Attachment, Mailbox, MultiPart, header::ContentType},
};
use minijinja::{Environment, State, context, value::Kwargs};

use crate::{
    domain::Named,
    domain::{catalogue::pick, mail::MessageKind},
    use_cases::{
        bookings::{
            Details,
            ics::{self, Method},
        },
        invitations::Letter,
        lottery::Notice,
    },
};

type Strings = HashMap<String, String>;

/// Every language's string table, by language code.
struct Locales(HashMap<&'static str, Strings>);

const LOCALES: [(&str, &str); 8] = [
    ("it", include_str!("locales/it.json")),
    ("en", include_str!("locales/en.json")),
    ("fr", include_str!("locales/fr.json")),
    ("es", include_str!("locales/es.json")),
    ("ar", include_str!("locales/ar.json")),
    ("sq", include_str!("locales/sq.json")),
    ("uk", include_str!("locales/uk.json")),
    ("zh", include_str!("locales/zh.json")),
];

const TEMPLATES: [(&str, &str); 32] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("layout.txt", include_str!("templates/layout.txt")),
    ("documents.html", include_str!("templates/documents.html")),
    ("documents.txt", include_str!("templates/documents.txt")),
    ("manage.html", include_str!("templates/manage.html")),
    ("manage.txt", include_str!("templates/manage.txt")),
    ("confirmed.html", include_str!("templates/confirmed.html")),
    ("confirmed.txt", include_str!("templates/confirmed.txt")),
    (
        "rescheduled.html",
        include_str!("templates/rescheduled.html"),
    ),
    ("rescheduled.txt", include_str!("templates/rescheduled.txt")),
    ("reminder.html", include_str!("templates/reminder.html")),
    ("reminder.txt", include_str!("templates/reminder.txt")),
    (
        "cancelled_by_applicant.html",
        include_str!("templates/cancelled_by_applicant.html"),
    ),
    (
        "cancelled_by_applicant.txt",
        include_str!("templates/cancelled_by_applicant.txt"),
    ),
    (
        "cancelled_by_office.html",
        include_str!("templates/cancelled_by_office.html"),
    ),
    (
        "cancelled_by_office.txt",
        include_str!("templates/cancelled_by_office.txt"),
    ),
    (
        "invitation_layout.html",
        include_str!("templates/invitation_layout.html"),
    ),
    (
        "invitation_layout.txt",
        include_str!("templates/invitation_layout.txt"),
    ),
    ("invitation.html", include_str!("templates/invitation.html")),
    ("invitation.txt", include_str!("templates/invitation.txt")),
    (
        "invitation_reminder.html",
        include_str!("templates/invitation_reminder.html"),
    ),
    (
        "invitation_reminder.txt",
        include_str!("templates/invitation_reminder.txt"),
    ),
    (
        "lottery_lost.html",
        include_str!("templates/lottery_lost.html"),
    ),
    (
        "lottery_lost.txt",
        include_str!("templates/lottery_lost.txt"),
    ),
    (
        "waitlist_offer.html",
        include_str!("templates/waitlist_offer.html"),
    ),
    (
        "waitlist_offer.txt",
        include_str!("templates/waitlist_offer.txt"),
    ),
    (
        "reconfirm_request.html",
        include_str!("templates/reconfirm_request.html"),
    ),
    (
        "reconfirm_request.txt",
        include_str!("templates/reconfirm_request.txt"),
    ),
    (
        "released_unconfirmed.html",
        include_str!("templates/released_unconfirmed.html"),
    ),
    (
        "released_unconfirmed.txt",
        include_str!("templates/released_unconfirmed.txt"),
    ),
    ("survey.html", include_str!("templates/survey.html")),
    ("survey.txt", include_str!("templates/survey.txt")),
];

impl Locales {
    fn load() -> Result<Locales, ComposeError> {
        let mut tables = HashMap::new();
        for (language, json) in LOCALES {
            let table: Strings = serde_json::from_str(json)
                .map_err(|e| ComposeError(format!("locale {language}: {e}")))?;
            tables.insert(language, table);
        }
        Ok(Locales(tables))
    }

    /// The sentence `key` in `language`, else in English, else in Italian.
    fn text<'a>(&'a self, language: &str, key: &str) -> Option<&'a str> {
        for candidate in [language, "en", "it"] {
            if let Some(text) = self.0.get(candidate).and_then(|table| table.get(key)) {
                return Some(text.as_str());
            }
        }
        None
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot compose the message: {0}")]
pub struct ComposeError(String);

impl From<minijinja::Error> for ComposeError {
    fn from(error: minijinja::Error) -> ComposeError {
        ComposeError(format!("{error:#}"))
    }
}

pub struct Composer {
    env: Environment<'static>,
    locales: Arc<Locales>,
    from: Mailbox,
    public_base_url: String,
}

/// What a waitlist offer's mail says: to whom, about which booking or lottery entry, and the
/// offer.
pub struct WaitlistLetter<'a> {
    pub id: crate::domain::ids::OfferId,
    pub token: String,
    pub name: &'a str,
    pub language: &'a str,
    /// The booking's reference, or the entry's.
    pub reference: &'a str,
    pub is_test: bool,
    pub office: &'a crate::domain::office::OfficeDetails,
    pub texts: &'a crate::store::catalogue::TypeTexts,
    pub offered_at: DateTime<Utc>,
    /// The visit the booking has now (none for a lottery entry).
    pub current_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

impl Composer {
    pub fn new(from: &str, public_base_url: &str) -> Result<Composer, ComposeError> {
        let locales = Arc::new(Locales::load()?);
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let strings = locales.clone();
        // {{ t("key", name=…) }}: the sentence in the message's language, itself a template.
        env.add_function(
            "t",
            move |state: &State,
                  key: &str,
                  arguments: Kwargs|
                  -> Result<String, minijinja::Error> {
                let language = state
                    .lookup("lang")
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "en".into());
                let text = strings.text(&language, key).ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::UndefinedError,
                        format!("no text {key:?}"),
                    )
                })?;
                state
                    .env()
                    .render_str(text, minijinja::Value::from(arguments))
            },
        );
        Ok(Composer {
            env,
            locales,
            from: from
                .parse()
                .map_err(|e| ComposeError(format!("mail.from {from:?}: {e}")))?,
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// An address of the applicant pages, from a path starting with `/`.
    pub fn page_url(&self, path: &str) -> String {
        format!("{}{path}", self.public_base_url)
    }

    /// The message `kind` about the booking, to `recipient`, with its fixed Message-ID; a
    /// survey's mail carries its link (`survey_url`) instead of the calendar entry.
    pub fn compose(
        &self,
        kind: MessageKind,
        details: &Details,
        (recipient, message_id): (&str, &str),
        manage_token: &str,
        survey_url: Option<&str>,
    ) -> Result<Message, ComposeError> {
        let booking = &details.booking;
        let language = booking.language.as_str();
        let office = &details.office.details;
        let texts = &details.service.appointment_type.texts;
        let subject = self.subject(kind, language, booking.reference.as_str(), booking.is_test);
        let zone = office.timezone;
        let context = context! {
            lang => language,
            dir => if language == "ar" { "rtl" } else { "ltr" },
            subject => &subject,
            name => &booking.full_name,
            when => self.local_time(details.slot.time.starts_at, zone, language),
            office_name => &office.name,
            office_address => format!("{}, {}", office.address, office.city),
            service_name => pick(&texts.names, language),
            documents => pick(&texts.documents, language),
            reference => booking.reference.as_str(),
            case_number => &booking.case_number,
            manage_url => format!("{}/bookings/{}?token={manage_token}", self.public_base_url, booking.reference),
            office_url => format!("{}/offices/{}", self.public_base_url, details.office.code),
            cutoff_hours => details.service.settings.change_cutoff_hours,
            reason => &booking.cancel_reason,
            moved_reason => &booking.moved_reason,
            reconfirm_by => details.service.settings.reconfirmation.map(|rule| {
                self.local_time(rule.releases_at(details.slot.time.starts_at), zone, language)
            }),
            survey_url => survey_url,
        };
        let (text, html) = self.render(kind, &context)?;
        if kind == MessageKind::Survey {
            return self
                .envelope(recipient, subject, message_id, office)?
                .multipart(MultiPart::alternative_plain_html(text, html))
                .map_err(|e| ComposeError(e.to_string()));
        }

        let calendar = ics::calendar(details, Method::Request);
        let method = if kind.is_cancellation() {
            "CANCEL"
        } else {
            "REQUEST"
        };
        let calendar_type =
            ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                .map_err(|e| ComposeError(e.to_string()))?;
        self.envelope(recipient, subject, message_id, office)?
            .multipart(
                MultiPart::mixed()
                    .multipart(MultiPart::alternative_plain_html(text, html))
                    .singlepart(
                        Attachment::new(format!("{}.ics", booking.reference))
                            .body(calendar, calendar_type),
                    ),
            )
            .map_err(|e| ComposeError(e.to_string()))
    }

    /// An invitation to book, or its reminder, to `recipient`: the link lets the applicant book
    /// (or take the proposed time) without typing the case number.
    pub fn compose_invitation(
        &self,
        kind: MessageKind,
        letter: &Letter,
        recipient: &str,
        message_id: &str,
        token: &str,
    ) -> Result<Message, ComposeError> {
        let invitation = &letter.invitation;
        let language = invitation.language.as_str();
        let office = &letter.office.details;
        let texts = &letter.service.appointment_type.texts;
        let subject = self.subject(kind, language, &invitation.reference, false);
        let zone = office.timezone;
        let context = context! {
            lang => language,
            dir => if language == "ar" { "rtl" } else { "ltr" },
            subject => &subject,
            name => &invitation.full_name,
            office_name => &office.name,
            office_address => format!("{}, {}", office.address, office.city),
            service_name => pick(&texts.names, language),
            documents => pick(&texts.documents, language),
            case_number => &invitation.case_number,
            deadline => self.local_time(invitation.deadline, zone, language),
            proposed => letter.proposed.as_ref().map(|slot| self.local_time(slot.time.starts_at, zone, language)),
            invitation_url => format!("{}/invitations/{}?token={token}", self.public_base_url, invitation.reference),
        };
        let (text, html) = self.render(kind, &context)?;
        self.envelope(recipient, subject, message_id, office)?
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| ComposeError(e.to_string()))
    }

    /// The notice that a lottery entry won no seat, to `recipient`.
    pub fn compose_lottery_lost(
        &self,
        notice: &Notice,
        recipient: &str,
        message_id: &str,
    ) -> Result<Message, ComposeError> {
        let entry = &notice.entry;
        let language = entry.language.as_str();
        let office = &notice.office.details;
        let texts = &notice.service.appointment_type.texts;
        let kind = MessageKind::LotteryLost;
        let subject = self.subject(kind, language, &entry.reference, false);
        let drawn_at = notice.draw.drawn_at.unwrap_or(notice.draw.closes_at);
        let context = context! {
            lang => language,
            dir => if language == "ar" { "rtl" } else { "ltr" },
            subject => &subject,
            name => &entry.full_name,
            office_name => &office.name,
            office_address => format!("{}, {}", office.address, office.city),
            service_name => pick(&texts.names, language),
            case_number => &entry.case_number,
            reference => &entry.reference,
            drawn_at => self.local_time(drawn_at, office.timezone, language),
            seed => &notice.draw.seed,
            waitlisted => notice.entry.join_waitlist,
        };
        let (text, html) = self.render(kind, &context)?;
        self.envelope(recipient, subject, message_id, office)?
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| ComposeError(e.to_string()))
    }

    /// A seat held for a booking or a lottery entry on the waitlist, with the link to answer
    /// the offer.
    pub fn compose_waitlist_offer(
        &self,
        letter: &WaitlistLetter<'_>,
        recipient: &str,
        message_id: &str,
    ) -> Result<Message, ComposeError> {
        let language = letter.language;
        let office = letter.office;
        let zone = office.timezone;
        let kind = MessageKind::WaitlistOffer;
        let subject = self.subject(kind, language, letter.reference, letter.is_test);
        let context = context! {
            lang => language,
            dir => if language == "ar" { "rtl" } else { "ltr" },
            subject => &subject,
            name => letter.name,
            offered_at => self.local_time(letter.offered_at, zone, language),
            current_at => letter.current_at.map(|at| self.local_time(at, zone, language)),
            hold_until => self.local_time(letter.expires_at, zone, language),
            office_name => &office.name,
            office_address => format!("{}, {}", office.address, office.city),
            service_name => pick(&letter.texts.names, language),
            reference => letter.reference,
            offer_url => format!("{}/waitlist/offers/{}?token={}", self.public_base_url, letter.id, letter.token),
        };
        let (text, html) = self.render(kind, &context)?;
        self.envelope(recipient, subject, message_id, office)?
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| ComposeError(e.to_string()))
    }

    /// The message of `kind` in plain text and in HTML, from its two templates.
    fn render(
        &self,
        kind: MessageKind,
        context: &minijinja::Value,
    ) -> Result<(String, String), ComposeError> {
        let template = |extension: &str| {
            self.env
                .get_template(&format!("{}.{extension}", kind.as_str()))?
                .render(context)
        };
        Ok((template("txt")?, template("html")?))
    }

    /// From the service to `recipient`, with its fixed Message-ID; replies go to the office.
    fn envelope(
        &self,
        recipient: &str,
        subject: String,
        message_id: &str,
        office: &crate::domain::office::OfficeDetails,
    ) -> Result<lettre::message::MessageBuilder, ComposeError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(recipient
                .parse()
                .map_err(|e| ComposeError(format!("recipient {recipient:?}: {e}")))?)
            .subject(subject)
            .message_id(Some(message_id.to_owned()));
        if let Some(email) = office
            .email
            .as_deref()
            .and_then(|e| e.parse::<Mailbox>().ok())
        {
            builder = builder.reply_to(email);
        }
        Ok(builder)
    }

    /// `Appointment confirmed – K7P3Q9XD`, in the language, marked when it is a test.
    fn subject(&self, kind: MessageKind, language: &str, reference: &str, test: bool) -> String {
        let subject = format!(
            "{} – {reference}",
            self.locales
                .text(language, &format!("subject_{}", kind.as_str()))
                .unwrap_or(kind.as_str()),
        );
        match test {
            true => format!(
                "{} {subject}",
                self.locales
                    .text(language, "test_prefix")
                    .unwrap_or("[TEST]")
            ),
            false => subject,
        }
    }

    /// An instant as the office's local date and time, with the zone named: `lunedì
    /// 13/09/2027, 09:00 (Europe/Rome, UTC+02:00)`.
    fn local_time(&self, instant: DateTime<Utc>, zone: chrono_tz::Tz, language: &str) -> String {
        let local = instant.with_timezone(&zone);
        let weekday = self
            .locales
            .text(language, "weekdays")
            .and_then(|names| {
                names
                    .split(',')
                    .nth(local.weekday().num_days_from_monday() as usize)
            })
            .unwrap_or_default();
        format!(
            "{weekday} {}, {} ({}, UTC{})",
            local.format("%d/%m/%Y"),
            local.format("%H:%M"),
            zone.name(),
            local.format("%:z")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_sentence_and_they_render() {
        let locales = Locales::load().unwrap();
        let english: Vec<&String> = locales.0["en"].keys().collect();
        for (language, table) in &locales.0 {
            for key in &english {
                assert!(table.contains_key(*key), "{language} lacks {key}");
            }
            assert_eq!(
                table["weekdays"].split(',').count(),
                7,
                "{language} weekdays"
            );
        }
        let composer = Composer::new(
            "Sportello <noreply@example.it>",
            "https://prenota.example.it/",
        )
        .unwrap();
        let greeting = composer
            .env
            .render_str(
                "{{ t('greeting', name='Amina') }}",
                context! { lang => "ar" },
            )
            .unwrap();
        assert_eq!(greeting, "عزيزي/عزيزتي Amina،");
        let fallback = composer
            .env
            .render_str("{{ t('label_when') }}", context! { lang => "de" })
            .unwrap();
        assert_eq!(fallback, "When");
    }
}
