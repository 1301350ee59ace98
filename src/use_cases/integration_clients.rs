//! Integration clients: the case system's machine accounts. National administrators create and
//! revoke them; a client exchanges its id and secret for an access token (OAuth2
//! client-credentials style) with the role `integration`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Audit,
    login::{LoginError, LoginFailure, TokenResponse},
};
use crate::{
    auth::{
        secret::{fingerprint, matches, random_secret},
        token::{Claims, Tokens},
    },
    domain::{
        FieldErrors,
        audit::Action,
        ids::IntegrationClientId,
        integration::{Client, may_manage_clients},
        office::OfficeCode,
        staff::Actor,
        text::parse_line,
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        Store,
        integration_clients::{self, NewClient, StoredClient},
        offices,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum ClientFailure {
    #[error("there is no such integration client")]
    NoSuchClient,
    /// Unknown client id, wrong secret or revoked client: all answered alike.
    #[error("the client id or secret is not correct")]
    InvalidClient,
}

impl Explain for ClientFailure {
    fn answer(self) -> Answer {
        match self {
            ClientFailure::NoSuchClient => {
                Answer::NotFound("There is no such integration client.".into())
            }
            ClientFailure::InvalidClient => Answer::Unauthorized(
                "The client id or the client secret is not correct, or the client was revoked."
                    .into(),
            ),
        }
    }
}

impl Failure for ClientFailure {}

pub type ClientError = Error<ClientFailure>;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientRequest {
    /// What the client is, for the people who read the audit log ("SPI Roma").
    #[schema(schema_with = crate::domain::schema::line_100)]
    pub name: String,
    /// The one office the client may act for; absent for a national client.
    #[schema(schema_with = crate::domain::schema::optional_office_code)]
    pub office_code: Option<String>,
}

/// A client to create, every field checked.
pub struct NewClientInput {
    pub name: String,
    pub office: Option<OfficeCode>,
}

impl CreateClientRequest {
    pub fn parse(self) -> Result<NewClientInput, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", parse_line(&self.name, 100));
        let office = self
            .office_code
            .as_deref()
            .and_then(|code| errors.check("office_code", OfficeCode::parse(code)));
        match name {
            Some(name) if errors.is_empty() => Ok(NewClientInput { name, office }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationClientView {
    #[schema(value_type = i64)]
    pub id: IntegrationClientId,
    /// What the client sends as `client_id`.
    #[schema(example = "sic_7K2QH9XW4MZP3TDR8BNV")]
    pub client_id: String,
    pub name: String,
    /// `null` for a national client.
    pub office_code: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was revoked; its tokens stop working at once.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<StoredClient> for IntegrationClientView {
    fn from(client: StoredClient) -> IntegrationClientView {
        IntegrationClientView {
            id: client.id,
            client_id: client.client_id,
            name: client.name,
            office_code: client.office_code.map(|code| code.to_string()),
            created_at: client.created_at,
            revoked_at: client.revoked_at,
        }
    }
}

/// A new client with its secret, which is shown this once and never stored.
#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: IntegrationClientView,
    /// Send it as `client_secret`; keep it like a password. Only its fingerprint is stored.
    pub client_secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentialsRequest {
    /// Always `client_credentials`.
    #[schema(example = "client_credentials", pattern = "^client_credentials$")]
    pub grant_type: String,
    #[schema(min_length = 1, max_length = 100)]
    pub client_id: String,
    #[schema(format = Password, min_length = 1, max_length = 200)]
    pub client_secret: String,
}

impl ClientCredentialsRequest {
    pub fn parse(self) -> Result<(String, String), FieldErrors> {
        let mut errors = FieldErrors::new();
        if self.grant_type != "client_credentials" {
            errors.add("grant_type", "must be client_credentials");
        }
        for (field, value, max) in [
            ("client_id", &self.client_id, 100),
            ("client_secret", &self.client_secret, 200),
        ] {
            match value.chars().count() {
                0 => errors.add(field, "is required"),
                n if n > max => errors.add(field, format!("must be at most {max} characters")),
                _ => {}
            }
        }
        match errors.is_empty() {
            true => Ok((self.client_id, self.client_secret)),
            false => Err(errors),
        }
    }
}

/// Creates an integration client (admins only) and shows its secret once.
pub async fn create(
    store: &Store,
    actor: Actor,
    input: NewClientInput,
    now: DateTime<Utc>,
) -> Result<CreatedClient, ClientError> {
    may_manage_clients(&actor)?;
    let client_id = random_client_id();
    let client_secret = random_secret("sis_");
    let secret_fingerprint = fingerprint(&client_secret);
    let view = store
        .write(move |conn| -> Result<_, ClientError> {
            let office_id = match &input.office {
                None => None,
                Some(code) => Some(offices::id_by_code(conn, code)?.ok_or_else(|| {
                    FieldErrors::single("office_code", "no office has this code")
                })?),
            };
            let new = NewClient {
                client_id: &client_id,
                secret_fingerprint: &secret_fingerprint,
                name: &input.name,
                office_id,
                created_by: actor.staff_id,
            };
            let id = integration_clients::insert(conn, new, now)?;
            let stored = integration_clients::find(conn, id)?.ok_or(ClientFailure::NoSuchClient)?;
            let view = IntegrationClientView::from(stored);
            let audit = Audit::by(&actor, now);
            audit.created(conn, office_id, Action::IntegrationClientCreate, id, &view)?;
            Ok(view)
        })
        .await?;
    tracing::info!(client = %view.client_id, "integration client created");
    Ok(CreatedClient {
        client: view,
        client_secret,
    })
}

/// Every integration client, revoked ones included (admins only).
pub async fn list(store: &Store, actor: Actor) -> Result<Vec<IntegrationClientView>, ClientError> {
    may_manage_clients(&actor)?;
    store
        .read(move |conn| {
            let clients = integration_clients::list(conn)?;
            Ok(clients
                .into_iter()
                .map(IntegrationClientView::from)
                .collect())
        })
        .await
}

/// Revokes a client: its secret and every token it holds stop working at once. Revoking a
/// revoked client changes nothing.
pub async fn revoke(
    store: &Store,
    actor: Actor,
    id: IntegrationClientId,
    now: DateTime<Utc>,
) -> Result<IntegrationClientView, ClientError> {
    may_manage_clients(&actor)?;
    store
        .write(move |conn| -> Result<_, ClientError> {
            let before = integration_clients::find(conn, id)?.ok_or(ClientFailure::NoSuchClient)?;
            if before.revoked_at.is_some() {
                return Ok(IntegrationClientView::from(before));
            }
            integration_clients::revoke(conn, id, now)?;
            let after = integration_clients::find(conn, id)?.ok_or(ClientFailure::NoSuchClient)?;
            let office_id = after.office_id;
            let (before, after) = (
                IntegrationClientView::from(before),
                IntegrationClientView::from(after),
            );
            let audit = Audit::by(&actor, now);
            audit.changed(
                conn,
                office_id,
                Action::IntegrationClientRevoke,
                id,
                &before,
                &after,
            )?;
            Ok(after)
        })
        .await
}

/// Exchanges a client id and secret for an access token with the role `integration`. An
/// unknown id costs the same check as a known one.
pub async fn token(
    store: &Store,
    tokens: &Tokens,
    (client_id, client_secret): (String, String),
    now: DateTime<Utc>,
) -> Result<TokenResponse, ClientError> {
    let found = store
        .read(move |conn| {
            Ok::<_, ClientError>(integration_clients::find_by_client_id(conn, &client_id)?)
        })
        .await?;
    let (client, stored) = match found {
        Some((client, stored)) => (Some(client), stored),
        None => (None, fingerprint("no such client")),
    };
    let secret_matches = matches(&client_secret, &stored);
    let client = match client {
        Some(client) if secret_matches && client.revoked_at.is_none() => client,
        _ => return Err(ClientFailure::InvalidClient.into()),
    };
    let issued = tokens
        .issue_for_client(&client.client_id, client.office_code.as_ref(), now)
        .map_err(Error::internal)?;
    Ok(TokenResponse::from(issued))
}

/// The client a verified token names, read afresh: a revoked client stops at once.
pub async fn signed_in(store: &Store, claims: Claims) -> Result<Client, LoginError> {
    let found = store
        .read(move |conn| {
            Ok::<_, LoginError>(integration_clients::find_by_client_id(conn, &claims.sub)?)
        })
        .await?;
    match found {
        Some((client, _)) if client.revoked_at.is_none() => Ok(Client {
            id: client.id,
            office: client.office_code,
        }),
        _ => Err(LoginFailure::NotSignedIn(
            "This integration client was revoked; its tokens no longer work.",
        )
        .into()),
    }
}

/// `sic_` and 20 characters of the reference alphabet (100 random bits): not a secret, but
/// not guessable either.
fn random_client_id() -> String {
    let bytes: [u8; 20] = rand::random();
    let chars: String = bytes
        .iter()
        .map(|b| crate::domain::booking::REFERENCE_ALPHABET[usize::from(b % 32)] as char)
        .collect();
    format!("sic_{chars}")
}
