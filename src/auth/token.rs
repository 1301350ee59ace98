//! Access tokens: HS256 JWTs carrying who the staff member or integration client is, their
//! role and office.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::{
    config::AuthSettings,
    domain::{ids::StaffId, office::OfficeCode, staff::Role},
    store::staff::StaffMember,
};

/// The role a token carries: a staff role, or `integration` for the case system's clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    Integration,
    #[serde(untagged)]
    Staff(Role),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The staff member's id, or the integration client's client id.
    pub sub: String,
    pub role: TokenRole,
    pub office: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn staff_id(&self) -> Option<StaffId> {
        match self.role {
            TokenRole::Staff(_) => self.sub.parse().ok().map(StaffId::new),
            TokenRole::Integration => None,
        }
    }
}

pub struct IssuedToken {
    pub token: String,
    pub expires_in: Duration,
}

/// Why a presented token was not accepted. Only logged: the client is told "unauthorized".
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(#[from] jsonwebtoken::errors::Error);

/// Issues and checks tokens with one secret, issuer and audience.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl Tokens {
    pub fn new(settings: &AuthSettings) -> Tokens {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        // Only HS256 is accepted: a token that names another algorithm, or `none`, is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl: Duration::from_secs(settings.token_ttl_seconds),
        }
    }

    pub fn issue(
        &self,
        member: &StaffMember,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, InvalidToken> {
        let office = member.office_code.as_ref().map(|code| code.to_string());
        let role = TokenRole::Staff(member.role);
        self.sign(member.id.to_string(), role, office, now)
    }

    /// A token for an integration client, named by its client id.
    pub fn issue_for_client(
        &self,
        client_id: &str,
        office: Option<&OfficeCode>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, InvalidToken> {
        let office = office.map(|code| code.to_string());
        self.sign(client_id.to_owned(), TokenRole::Integration, office, now)
    }

    fn sign(
        &self,
        sub: String,
        role: TokenRole,
        office: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, InvalidToken> {
        let issued_at = now.timestamp();
        let claims = Claims {
            sub,
            role,
            office,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: issued_at,
            exp: issued_at.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn member() -> StaffMember {
        StaffMember {
            id: StaffId::new(7),
            email: "anna@prefettura.it".into(),
            role: Role::Manager,
            office_code: Some(crate::domain::staff::OfficeCode::parse("RM").unwrap()),
            active: true,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn an_issued_token_verifies_and_carries_the_staff_member() {
        let tokens = Tokens::new(&Settings::defaults().unwrap().auth);
        let issued = tokens.issue(&member(), Utc::now()).unwrap();
        assert_eq!(issued.expires_in, Duration::from_secs(3600));
        let claims = tokens.verify(&issued.token).unwrap();
        assert_eq!(claims.staff_id(), Some(StaffId::new(7)));
        assert_eq!(claims.role, TokenRole::Staff(Role::Manager));
        assert_eq!(claims.office.as_deref(), Some("RM"));
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn a_client_token_carries_the_integration_role_and_names_no_staff_member() {
        let tokens = Tokens::new(&Settings::defaults().unwrap().auth);
        let rome = crate::domain::office::OfficeCode::parse("RM").unwrap();
        let issued = tokens
            .issue_for_client("sic_7", Some(&rome), Utc::now())
            .unwrap();
        let claims = tokens.verify(&issued.token).unwrap();
        assert_eq!(claims.role, TokenRole::Integration);
        assert_eq!((claims.sub.as_str(), claims.staff_id()), ("sic_7", None));
        let text = String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                issued.token.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(text.contains(r#""role":"integration""#), "{text}");
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let settings = Settings::defaults().unwrap().auth;
        let tokens = Tokens::new(&settings);
        let old = tokens
            .issue(&member(), Utc::now() - chrono::Duration::hours(2))
            .unwrap();
        assert!(tokens.verify(&old.token).is_err());

        let mut other = settings.clone();
        other.audience = "someone-else".into();
        let foreign = Tokens::new(&other).issue(&member(), Utc::now()).unwrap();
        assert!(tokens.verify(&foreign.token).is_err());
    }
}
