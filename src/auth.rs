//! Credentials: argon2id password hashes, random session tokens stored only as SHA-256,
//! and the login throttling policy. No SQL and no HTTP here.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash password: {e}"))
}

/// A hash of a password nobody knows, verified against when an account does not exist so
/// that a login takes the same time either way.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("wangge-no-such-account").unwrap_or_default())
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a new password: 10 to 200 characters.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 10 {
        Err("a password needs at least 10 characters".into())
    } else if n > 200 {
        Err("a password has at most 200 characters".into())
    } else {
        Ok(())
    }
}

/// A new random token: 32 bytes, base64url.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A random password for generated accounts: 16 base64url characters.
pub fn new_password() -> String {
    let mut b = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// What is stored of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Login throttling: after `FREE_FAILURES` failures within the window, each further
/// attempt waits longer; after `LOCK_AFTER`, the key is locked until the window passes.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// Failures counted over this window.
    pub window: Duration,
    /// Failures allowed without delay.
    pub free_failures: i64,
    /// Failures after which the key is locked.
    pub lock_after: i64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            free_failures: 3,
            lock_after: 10,
        }
    }
}

/// What to do with a login attempt given recent failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead after waiting this long.
    Wait(Duration),
    /// Refuse: locked.
    Locked,
}

impl Throttle {
    /// The gate for a key with `failures` recent failures.
    pub fn gate(&self, failures: i64) -> Gate {
        if failures >= self.lock_after {
            Gate::Locked
        } else if failures <= self.free_failures {
            Gate::Wait(Duration::ZERO)
        } else {
            let extra = (failures - self.free_failures) as u32;
            Gate::Wait(Duration::from_millis(250) * 2u32.saturating_pow(extra.min(4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(new_token(), new_token());
        assert_eq!(token_hash("a").len(), 32);
    }

    #[test]
    fn throttle_slows_then_locks() {
        let t = Throttle::default();
        assert_eq!(t.gate(0), Gate::Wait(Duration::ZERO));
        assert!(matches!(t.gate(5), Gate::Wait(d) if d > Duration::ZERO));
        assert_eq!(t.gate(10), Gate::Locked);
    }
}
