//! Proof of work: ALTCHA challenges (PoW v2, as the ALTCHA widget speaks it) that an applicant's
//! browser solves before it may book or enter a lottery at an office that asks for it.
//!
//! A challenge is signed (HMAC) and names its office and its expiry, so nobody can ease it,
//! move it to another office or keep it. It is deterministic: the server picks a counter at
//! random and the client must try every counter up to it (`cost` PBKDF2 iterations each), while
//! the server checks the answer with one HMAC (the derived key is signed too). That a challenge
//! is used once is the store's to remember (`store::proofs`); this module is the crypto.

use std::collections::BTreeMap;

use altcha::{Challenge, CreateChallengeOptions, Payload, VerifySolutionOptions};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::hex;
use crate::domain::{Invalid, office::OfficeCode};

const ALGORITHM: &str = "PBKDF2/SHA-256";

/// The keys challenges are signed with, derived from the service's secret.
#[derive(Clone)]
pub struct ChallengeKey {
    /// Signs the challenge's parameters.
    signature: String,
    /// Signs the key the solution must derive (deterministic mode), so checking is one HMAC.
    key_signature: String,
}

/// How hard a challenge is: the client derives `cost` iterations of PBKDF2 for each counter it
/// tries, and the answer is a counter drawn from `counters`.
#[derive(Clone, Debug)]
pub struct Difficulty {
    pub cost: u32,
    pub counters: std::ops::RangeInclusive<u32>,
    /// How long a challenge may be answered after it was given.
    pub lifetime: Duration,
}

/// A solved challenge that checked out: what makes it single-use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The challenge's random nonce, unique to it.
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
}

impl ChallengeKey {
    pub fn derive(secret: &SecretString) -> ChallengeKey {
        let derive = |purpose: &[u8]| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
                .expect("HMAC takes any key length");
            mac.update(purpose);
            hex(&mac.finalize().into_bytes())
        };
        ChallengeKey {
            signature: derive(b"sportello/altcha-challenge/v1"),
            key_signature: derive(b"sportello/altcha-key/v1"),
        }
    }

    /// A fresh challenge for `office`, to be answered before `now + lifetime`.
    pub fn challenge(
        &self,
        office: &OfficeCode,
        difficulty: &Difficulty,
        now: DateTime<Utc>,
    ) -> Result<Challenge, altcha::Error> {
        let expires_at = (now + difficulty.lifetime).timestamp();
        let counter = rand::thread_rng().gen_range(difficulty.counters.clone());
        let data = BTreeMap::from([("office".to_owned(), office.as_str().into())]);
        altcha::create_challenge(CreateChallengeOptions {
            algorithm: ALGORITHM.to_owned(),
            cost: difficulty.cost.max(1),
            counter: Some(counter),
            data: Some(data),
            expires_at: Some(u64::try_from(expires_at).unwrap_or(0)),
            hmac_signature_secret: Some(self.signature.clone()),
            hmac_key_signature_secret: Some(self.key_signature.clone()),
            ..Default::default()
        })
    }

    /// Checks an answer: base64 of the JSON `{challenge, solution}` the ALTCHA widget submits
    /// (its form field `altcha`). It must be a challenge this service gave for `office`, not
    /// expired at `now`, and solved.
    pub fn verify(
        &self,
        answer: &str,
        office: &OfficeCode,
        now: DateTime<Utc>,
    ) -> Result<Proof, Invalid> {
        let unreadable = || {
            Invalid::new(
                "is not an ALTCHA answer: send base64 of {challenge, solution} as the widget does",
            )
        };
        let json = STANDARD.decode(answer.trim()).map_err(|_| unreadable())?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| unreadable())?;
        let parameters = &payload.challenge.parameters;
        let expires_at = parameters
            .expires_at
            .and_then(|at| i64::try_from(at).ok())
            .and_then(|at| DateTime::from_timestamp(at, 0))
            .ok_or_else(unreadable)?;
        let options = VerifySolutionOptions {
            hmac_key_signature_secret: Some(self.key_signature.clone()),
            ..VerifySolutionOptions::new(
                &payload.challenge,
                &payload.solution,
                self.signature.clone(),
            )
        };
        let result = altcha::verify_solution(options).map_err(|_| unreadable())?;
        if result.invalid_signature == Some(true) {
            return Err(Invalid::new("is not a challenge this service gave"));
        }
        let for_office = parameters
            .data
            .as_ref()
            .and_then(|data| data.get("office"))
            .and_then(serde_json::Value::as_str);
        if for_office != Some(office.as_str()) {
            return Err(Invalid::new("was given for another office"));
        }
        if result.expired || expires_at < now {
            return Err(Invalid::new("has expired: solve a new challenge"));
        }
        if !result.verified {
            return Err(Invalid::new("is not solved"));
        }
        Ok(Proof {
            nonce: parameters.nonce.clone(),
            expires_at,
        })
    }
}

/// Solves a challenge as a browser would, and encodes the answer as the widget sends it: for
/// tests, benchmarks and scripted clients.
pub fn solve(challenge: &Challenge) -> Option<String> {
    let solution =
        altcha::solve_challenge(altcha::SolveChallengeOptions::new(challenge)).ok()??;
    let payload = Payload {
        challenge: challenge.clone(),
        solution,
    };
    Some(STANDARD.encode(serde_json::to_vec(&payload).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (ChallengeKey, OfficeCode, Difficulty, DateTime<Utc>) {
        let key = ChallengeKey::derive(&SecretString::from("a server secret"));
        let office = OfficeCode::parse("RM").unwrap();
        let difficulty = Difficulty {
            cost: 10,
            counters: 20..=40,
            lifetime: Duration::minutes(5),
        };
        (key, office, difficulty, Utc::now())
    }

    #[test]
    fn a_solved_challenge_checks_out_for_its_office_only_and_only_before_it_expires() {
        let (key, office, difficulty, now) = setup();
        let challenge = key.challenge(&office, &difficulty, now).unwrap();
        let answer = solve(&challenge).unwrap();
        let proof = key.verify(&answer, &office, now).unwrap();
        assert_eq!(proof.nonce, challenge.parameters.nonce);

        let milan = OfficeCode::parse("MI").unwrap();
        let refused = key.verify(&answer, &milan, now).unwrap_err();
        assert_eq!(refused.message(), "was given for another office");
        let later = now + Duration::minutes(6);
        let refused = key.verify(&answer, &office, later).unwrap_err();
        assert_eq!(refused.message(), "has expired: solve a new challenge");
    }

    #[test]
    fn an_eased_or_foreign_or_unsolved_challenge_is_refused() {
        let (key, office, difficulty, now) = setup();
        let challenge = key.challenge(&office, &difficulty, now).unwrap();
        let answer = solve(&challenge).unwrap();

        // Another server's key did not sign it.
        let stranger = ChallengeKey::derive(&SecretString::from("another secret"));
        assert!(stranger.verify(&answer, &office, now).is_err());

        // Easing the cost breaks the signature.
        let mut payload: Payload =
            serde_json::from_slice(&STANDARD.decode(&answer).unwrap()).unwrap();
        payload.challenge.parameters.cost = 1;
        let eased = STANDARD.encode(serde_json::to_vec(&payload).unwrap());
        let refused = key.verify(&eased, &office, now).unwrap_err();
        assert_eq!(refused.message(), "is not a challenge this service gave");

        // A made-up key is not a solution.
        let challenge = key.challenge(&office, &difficulty, now).unwrap();
        let mut payload: Payload =
            serde_json::from_slice(&STANDARD.decode(solve(&challenge).unwrap()).unwrap()).unwrap();
        payload.solution.derived_key = "00".repeat(32);
        let wrong = STANDARD.encode(serde_json::to_vec(&payload).unwrap());
        assert!(key.verify(&wrong, &office, now).is_err());

        assert!(key.verify("not base64 at all!", &office, now).is_err());
    }
}
