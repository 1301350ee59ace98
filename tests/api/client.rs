//! The typed client the stories speak through: a method per endpoint, as an applicant
//! (`app.public()`) or as a staff member (`app.by(&token)`), and a [`Reply`] read in full that
//! says what it should be (`.ok()`, `.created()`, `.problem(status, code)`).

use reqwest::{Method, RequestBuilder, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::harness::{TestApp, Token};

/// An answer, read in full.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub url: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.url, self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("{}: no {name} header", self.url))
    }

    /// The body of a 200.
    pub fn ok(&self) -> Value {
        self.expect(StatusCode::OK)
    }

    /// The body of a 201.
    pub fn created(&self) -> Value {
        self.expect(StatusCode::CREATED)
    }

    pub fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(
            self.status,
            status,
            "status of {}: {}",
            self.url,
            self.text()
        );
        self.json()
    }

    /// The problem document, checked: this status and code, RFC 9457's fields, its content
    /// type.
    pub fn problem(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "status of {}: {}",
            self.url,
            self.text()
        );
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let body = self.json();
        assert_eq!(
            content_type, "application/problem+json",
            "content type of {body}"
        );
        assert_eq!(body["code"], code, "code in {body}");
        assert_eq!(body["status"], status.as_u16(), "status in {body}");
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "title and detail in {body}"
        );
        assert_eq!(
            body["type"],
            format!("urn:sportello:problem:{code}"),
            "type in {body}"
        );
        body
    }

    /// The fields a `validation_failed` problem names, in order.
    pub fn invalid_fields(&self) -> Vec<String> {
        let problem = self.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        field_errors(&problem).into_iter().map(|(f, _)| f).collect()
    }
}

/// The field errors of a `validation_failed` problem, as (field, message) pairs.
pub fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_owned(),
                        e["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The API as one caller sees it.
#[derive(Clone, Copy)]
pub struct Api<'a> {
    app: &'a TestApp,
    token: Option<&'a Token>,
    /// Sent as `X-Forwarded-For`, as a reverse proxy would for a client at this address.
    forwarded_for: Option<&'a str>,
}

impl TestApp {
    /// The API as an applicant, or any client without a token.
    pub fn public(&self) -> Api<'_> {
        Api {
            app: self,
            token: None,
            forwarded_for: None,
        }
    }

    /// The API as the staff member `token` belongs to.
    pub fn by<'a>(&'a self, token: &'a Token) -> Api<'a> {
        Api {
            app: self,
            token: Some(token),
            forwarded_for: None,
        }
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.public().login(email, password).await
    }
}

impl<'a> Api<'a> {
    /// The same caller, behind a proxy that says they are at `address`.
    pub fn at(self, address: &'a str) -> Api<'a> {
        Api {
            forwarded_for: Some(address),
            ..self
        }
    }

    /// A request to `path`, with the caller's token, for what no method below covers.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(address) = self.forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        match self.token {
            Some(token) => request.bearer_auth(&token.0),
            None => request,
        }
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        let body = json!({"email": email, "password": password});
        self.post("/api/v1/auth/login", &body).await
    }

    pub async fn send(request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("an answer");
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            url: response.url().to_string(),
            bytes: response.bytes().await.expect("a body").to_vec(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        Api::send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        Api::send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        Api::send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        Api::send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        Api::send(self.request(Method::DELETE, path)).await
    }

    // The case system: integration clients and registered cases.

    pub async fn create_integration_client(&self, client: &Value) -> Reply {
        self.post("/api/v1/integration-clients", client).await
    }

    pub async fn integration_clients(&self) -> Reply {
        self.get("/api/v1/integration-clients").await
    }

    pub async fn revoke_integration_client(&self, id: &Value) -> Reply {
        self.post(
            &format!("/api/v1/integration-clients/{id}/revoke"),
            &json!({}),
        )
        .await
    }

    /// `POST /api/v1/auth/token` with client credentials.
    pub async fn client_token(&self, client_id: &str, client_secret: &str) -> Reply {
        let body = json!({
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        });
        self.post("/api/v1/auth/token", &body).await
    }

    pub async fn register_case(&self, code: &str, case: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/cases"), case)
            .await
    }

    pub async fn case(&self, code: &str, case_number: &str) -> Reply {
        let query = serde_urlencoded::to_string([("case_number", case_number)]).unwrap();
        self.get(&format!("/api/v1/offices/{code}/cases?{query}"))
            .await
    }

    /// `POST …/cases/import` with a file of `content_type`.
    pub async fn import_cases(&self, code: &str, content_type: &str, file: String) -> Reply {
        let path = format!("/api/v1/offices/{code}/cases/import");
        let request = self.request(Method::POST, &path);
        Api::send(request.header("content-type", content_type).body(file)).await
    }

    // Staff and their accounts.

    pub async fn me(&self) -> Reply {
        self.get("/api/v1/auth/me").await
    }

    pub async fn create_staff(&self, account: &Value) -> Reply {
        self.post("/api/v1/staff", account).await
    }

    pub async fn staff(&self) -> Reply {
        self.get("/api/v1/staff").await
    }

    pub async fn update_staff(&self, id: i64, change: &Value) -> Reply {
        self.patch(&format!("/api/v1/staff/{id}"), change).await
    }

    // The national catalogue.

    pub async fn appointment_types(&self) -> Reply {
        self.get("/api/v1/appointment-types").await
    }

    pub async fn create_type(&self, appointment_type: &Value) -> Reply {
        self.post("/api/v1/appointment-types", appointment_type)
            .await
    }

    pub async fn update_type(&self, code: &str, change: &Value) -> Reply {
        self.patch(&format!("/api/v1/appointment-types/{code}"), change)
            .await
    }

    // Offices.

    pub async fn create_office(&self, office: &Value) -> Reply {
        self.post("/api/v1/offices", office).await
    }

    pub async fn offices(&self) -> Reply {
        self.get("/api/v1/offices").await
    }

    pub async fn office(&self, code: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}")).await
    }

    pub async fn update_office(&self, code: &str, change: &Value) -> Reply {
        self.patch(&format!("/api/v1/offices/{code}"), change).await
    }

    pub async fn set_stage(&self, code: &str, stage: &str) -> Reply {
        let body = json!({"stage": stage});
        self.post(&format!("/api/v1/offices/{code}/stage"), &body)
            .await
    }

    // An office's services, calendars, closures and slots.

    pub async fn services(&self, code: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/services")).await
    }

    pub async fn put_service(&self, code: &str, type_code: &str, settings: &Value) -> Reply {
        let path = format!("/api/v1/offices/{code}/services/{type_code}");
        self.put(&path, settings).await
    }

    pub async fn turn_off_service(&self, code: &str, type_code: &str) -> Reply {
        let path = format!("/api/v1/offices/{code}/services/{type_code}");
        self.delete(&path).await
    }

    pub async fn calendars(&self, code: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/calendars")).await
    }

    pub async fn create_calendar(&self, code: &str, calendar: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/calendars"), calendar)
            .await
    }

    pub async fn update_calendar(&self, code: &str, id: i64, change: &Value) -> Reply {
        self.patch(&format!("/api/v1/offices/{code}/calendars/{id}"), change)
            .await
    }

    pub async fn put_hours(&self, code: &str, id: i64, hours: &Value) -> Reply {
        let path = format!("/api/v1/offices/{code}/calendars/{id}/hours");
        self.put(&path, hours).await
    }

    pub async fn closures(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/closures?{query}"))
            .await
    }

    pub async fn close(&self, code: &str, closure: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/closures"), closure)
            .await
    }

    /// A closure job, followed from the `Location` a closure that moves or cancels answered.
    pub async fn closure_job(&self, location: &str) -> Reply {
        self.get(location).await
    }

    pub async fn remove_closure(&self, code: &str, id: i64) -> Reply {
        self.delete(&format!("/api/v1/offices/{code}/closures/{id}"))
            .await
    }

    pub async fn publish(&self, code: &str, range: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/slots/publish"), range)
            .await
    }

    pub async fn slots(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/slots?{query}"))
            .await
    }

    pub async fn block_slot(&self, code: &str, id: i64, change: &Value) -> Reply {
        self.patch(&format!("/api/v1/offices/{code}/slots/{id}"), change)
            .await
    }

    pub async fn availability(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/availability?{query}"))
            .await
    }

    // Audit.

    pub async fn audit(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/audit?{query}"))
            .await
    }

    pub async fn national_audit(&self, query: &str) -> Reply {
        self.get(&format!("/api/v1/audit?{query}")).await
    }

    // Bookings: the applicant's.

    pub async fn book(&self, code: &str, visit: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/bookings"), visit)
            .await
    }

    /// A proof-of-work challenge of the office, as the ALTCHA widget fetches it.
    pub async fn challenge(&self, code: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/challenge")).await
    }

    /// Books with an `Idempotency-Key`, as a client that may retry does.
    pub async fn book_once(&self, code: &str, key: &str, visit: &Value) -> Reply {
        let path = format!("/api/v1/offices/{code}/bookings");
        let request = self.request(Method::POST, &path);
        Api::send(request.header("idempotency-key", key).json(visit)).await
    }

    pub async fn booking(&self, reference: &str, token: &str) -> Reply {
        let request = self.request(Method::GET, &format!("/api/v1/bookings/{reference}"));
        Api::send(request.header("x-booking-token", token)).await
    }

    pub async fn cancel_booking(&self, reference: &str, token: &str) -> Reply {
        let path = format!("/api/v1/bookings/{reference}/cancel");
        let request = self.request(Method::POST, &path);
        Api::send(request.header("x-booking-token", token).json(&json!({}))).await
    }

    pub async fn personal_data(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/personal-data?{query}"))
            .await
    }

    pub async fn erase_personal_data(&self, code: &str, subject: &Value) -> Reply {
        self.post(
            &format!("/api/v1/offices/{code}/personal-data/erase"),
            subject,
        )
        .await
    }

    pub async fn reconfirm(&self, reference: &str, token: &str) -> Reply {
        let path = format!("/api/v1/bookings/{reference}/reconfirm");
        let request = self.request(Method::POST, &path);
        Api::send(request.header("x-booking-token", token).json(&json!({}))).await
    }

    pub async fn reconfirmation(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/reconfirmation?{query}"))
            .await
    }

    pub async fn reschedule(&self, reference: &str, token: &str, slot_id: &Value) -> Reply {
        let path = format!("/api/v1/bookings/{reference}/reschedule");
        let request = self.request(Method::POST, &path);
        let body = json!({"slot_id": slot_id});
        Api::send(request.header("x-booking-token", token).json(&body)).await
    }

    /// The calendar event; `token` goes in the query, where calendar programs put it.
    pub async fn calendar_event(&self, reference: &str, token: Option<&str>) -> Reply {
        let path = format!("/api/v1/bookings/{reference}/calendar.ics");
        match token {
            Some(token) => self.get(&format!("{path}?token={token}")).await,
            None => self.get(&path).await,
        }
    }

    // The desk.

    pub async fn agenda(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/agenda?{query}"))
            .await
    }

    pub async fn search(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/bookings?{query}"))
            .await
    }

    // The pilot's evaluation.

    /// `GET /api/v1/offices/{code}/indicators?{query}` (`format=` picks JSON, CSV or HTML).
    pub async fn indicators(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/indicators?{query}"))
            .await
    }

    /// `GET /api/v1/indicators?{query}`: every office compared.
    pub async fn national_indicators(&self, query: &str) -> Reply {
        self.get(&format!("/api/v1/indicators?{query}")).await
    }

    /// The survey behind a mail's link.
    pub async fn survey(&self, id: &str, token: &str) -> Reply {
        let request = self.request(Method::GET, &format!("/api/v1/surveys/{id}"));
        Api::send(request.header("x-survey-token", token)).await
    }

    pub async fn answer_survey(&self, id: &str, token: &str, answer: &Value) -> Reply {
        let request = self.request(Method::POST, &format!("/api/v1/surveys/{id}"));
        Api::send(request.header("x-survey-token", token).json(answer)).await
    }

    /// `check-in`, `attended`, `no-show` or `cancel` (with `{"reason": …}`).
    pub async fn desk(&self, code: &str, reference: &str, action: &str, body: &Value) -> Reply {
        let path = format!("/api/v1/offices/{code}/bookings/{reference}/{action}");
        self.post(&path, body).await
    }

    // Events back to the case system.

    pub async fn events(&self, query: &str) -> Reply {
        self.get(&format!("/api/v1/events?{query}")).await
    }

    pub async fn subscribe_webhook(&self, code: &str, subscription: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/webhooks"), subscription)
            .await
    }

    pub async fn webhooks(&self, code: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/webhooks")).await
    }

    pub async fn unsubscribe_webhook(&self, code: &str, id: &Value) -> Reply {
        self.delete(&format!("/api/v1/offices/{code}/webhooks/{id}"))
            .await
    }

    pub async fn webhook_deliveries(&self, code: &str, query: &str) -> Reply {
        self.get(&format!(
            "/api/v1/offices/{code}/webhook-deliveries?{query}"
        ))
        .await
    }

    pub async fn redeliver_webhook(&self, code: &str, id: &Value) -> Reply {
        let path = format!("/api/v1/offices/{code}/webhook-deliveries/{id}/redeliver");
        self.post(&path, &json!({})).await
    }

    // The waitlist.

    pub async fn join_waitlist(&self, reference: &str, token: &str, days: &Value) -> Reply {
        let path = format!("/api/v1/bookings/{reference}/waitlist");
        let request = self
            .request(Method::POST, &path)
            .header("x-booking-token", token);
        Api::send(request.json(days)).await
    }

    pub async fn waitlist(&self, reference: &str, token: &str) -> Reply {
        let path = format!("/api/v1/bookings/{reference}/waitlist");
        Api::send(
            self.request(Method::GET, &path)
                .header("x-booking-token", token),
        )
        .await
    }

    pub async fn leave_waitlist(&self, reference: &str, token: &str) -> Reply {
        let path = format!("/api/v1/bookings/{reference}/waitlist");
        Api::send(
            self.request(Method::DELETE, &path)
                .header("x-booking-token", token),
        )
        .await
    }

    pub async fn offer(&self, id: i64, token: &str) -> Reply {
        let path = format!("/api/v1/waitlist/offers/{id}");
        Api::send(
            self.request(Method::GET, &path)
                .header("x-offer-token", token),
        )
        .await
    }

    pub async fn answer_offer(&self, id: i64, token: &str, answer: &str) -> Reply {
        let path = format!("/api/v1/waitlist/offers/{id}/{answer}");
        Api::send(
            self.request(Method::POST, &path)
                .header("x-offer-token", token),
        )
        .await
    }

    // Intermediaries.

    pub async fn intermediaries(&self, code: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/intermediaries"))
            .await
    }

    pub async fn accredit(&self, code: &str, intermediary: i64, terms: &Value) -> Reply {
        let path = format!("/api/v1/offices/{code}/intermediaries/{intermediary}");
        Api::send(self.request(Method::PUT, &path).json(terms)).await
    }

    pub async fn revoke_accreditation(&self, code: &str, intermediary: i64) -> Reply {
        let path = format!("/api/v1/offices/{code}/intermediaries/{intermediary}");
        Api::send(self.request(Method::DELETE, &path)).await
    }

    // Mail.

    pub async fn outbox(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/outbox?{query}"))
            .await
    }

    pub async fn retry_mail(&self, code: &str, id: &Value) -> Reply {
        self.post(
            &format!("/api/v1/offices/{code}/outbox/{id}/retry"),
            &json!({}),
        )
        .await
    }

    pub async fn mail_stats(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/mail-stats?{query}"))
            .await
    }

    // Invitations.

    pub async fn invite(&self, code: &str, invitation: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/invitations"), invitation)
            .await
    }

    pub async fn invite_many(&self, code: &str, invitations: &Value) -> Reply {
        let body = json!({ "invitations": invitations });
        self.post(&format!("/api/v1/offices/{code}/invitations/batch"), &body)
            .await
    }

    pub async fn invitations(&self, code: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/invitations?{query}"))
            .await
    }

    pub async fn cancel_invitation(&self, code: &str, reference: &str) -> Reply {
        let path = format!("/api/v1/offices/{code}/invitations/{reference}/cancel");
        self.post(&path, &json!({})).await
    }

    pub async fn extend_invitation(&self, code: &str, reference: &str, deadline: &str) -> Reply {
        let path = format!("/api/v1/offices/{code}/invitations/{reference}/extend");
        self.post(&path, &json!({ "deadline": deadline })).await
    }

    /// The invitation, to the applicant holding its link's token.
    pub async fn invitation(&self, reference: &str, token: &str) -> Reply {
        let request = self.request(Method::GET, &format!("/api/v1/invitations/{reference}"));
        Api::send(request.header("x-invitation-token", token)).await
    }

    pub async fn book_invitation(&self, reference: &str, token: &str, answer: &Value) -> Reply {
        let path = format!("/api/v1/invitations/{reference}/booking");
        let request = self.request(Method::POST, &path);
        Api::send(request.header("x-invitation-token", token).json(answer)).await
    }

    // Lotteries.

    pub async fn draws(&self, code: &str) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/draws")).await
    }

    pub async fn draw(&self, code: &str, id: i64) -> Reply {
        self.get(&format!("/api/v1/offices/{code}/draws/{id}"))
            .await
    }

    pub async fn enter_draw(&self, code: &str, id: i64, entry: &Value) -> Reply {
        self.post(&format!("/api/v1/offices/{code}/draws/{id}/entries"), entry)
            .await
    }

    pub async fn replay_draw(&self, code: &str, id: i64) -> Reply {
        self.post(
            &format!("/api/v1/offices/{code}/draws/{id}/replay"),
            &Value::Null,
        )
        .await
    }
}
