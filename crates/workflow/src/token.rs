//! API tokens: a random secret shown once, stored only as its SHA-256, with a role and the
//! brands it may touch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits messages and requests drafts.
    Agent,
    /// Approves and rejects.
    Approver,
    /// Manages brands, guidelines, policy and tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Role::Agent, Role::Approver, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// The brands a token may act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrandScope {
    All,
    Only(Vec<String>),
}

impl BrandScope {
    pub fn allows(&self, brand: &str) -> bool {
        match self {
            BrandScope::All => true,
            BrandScope::Only(brands) => brands.iter().any(|b| b == brand),
        }
    }
}

/// A token as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub label: String,
    pub role: Role,
    pub brands: BrandScope,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just created: the secret exists only here, to be shown once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// A fresh secret, `tact_` and 64 hex digits (256 random bits).
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Randomness(e.to_string()))?;
    Ok(format!("tact_{}", hex::encode(bytes)))
}

/// What the store keeps and looks tokens up by. A fast hash is enough: the secret has 256
/// random bits, so there is nothing to brute-force.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_distinct_and_hashed() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 5 + 64);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert!(!hash_secret(&a).contains(&a[5..]));
    }

    #[test]
    fn scope_limits_brands() {
        let scope = BrandScope::Only(vec!["acme".into()]);
        assert!(scope.allows("acme"));
        assert!(!scope.allows("globex"));
        assert!(BrandScope::All.allows("globex"));
    }
}
