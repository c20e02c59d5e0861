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

/// Login throttling. Attempts are counted before the password is checked (a success gives
/// its count back), per account and address together, per address, and per account:
/// - per account and address: after `free_failures` each attempt waits longer, from
///   `lock_after` on that address may not try that account until the window passes;
/// - per address, over all accounts: from `address_lock_after` on the address is locked;
/// - per account, over all addresses: from `account_lock_after` on (a spread-out attack)
///   only addresses that have not failed for the account in the window may try it, once.
///
/// So one address cannot guess more than `lock_after` passwords of an account per window,
/// many addresses cannot guess more than about one each once the account is under attack,
/// and no attacker can lock the owner out: a fresh address always gets its try.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// Attempts counted over this window.
    pub window: Duration,
    /// Failures of an account from one address allowed without delay.
    pub free_failures: i64,
    /// Failures of an account from one address after which that pair is locked.
    pub lock_after: i64,
    /// Failures from one address (all accounts) after which the address is locked.
    pub address_lock_after: i64,
    /// Failures of one account (all addresses) after which only fresh addresses may try.
    pub account_lock_after: i64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            free_failures: 3,
            lock_after: 10,
            address_lock_after: 100,
            account_lock_after: 50,
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
    /// The gate for an account and address with `failures` recent failures.
    pub fn gate(&self, failures: i64) -> Gate {
        if failures >= self.lock_after {
            Gate::Locked
        } else {
            Gate::Wait(self.delay(failures, self.free_failures))
        }
    }

    /// The gate for an address with `failures` recent failures over all accounts.
    pub fn address_gate(&self, failures: i64) -> Gate {
        if failures >= self.address_lock_after {
            Gate::Locked
        } else {
            Gate::Wait(self.delay(failures, self.lock_after))
        }
    }

    /// Whether an account with `account_failures` recent failures (all addresses) may be
    /// tried from an address that has `pair_failures` recent failures for it.
    pub fn account_open(&self, account_failures: i64, pair_failures: i64) -> bool {
        account_failures < self.account_lock_after || pair_failures == 0
    }

    fn delay(&self, failures: i64, free: i64) -> Duration {
        if failures <= free {
            Duration::ZERO
        } else {
            let extra = (failures - free).min(4) as u32;
            Duration::from_millis(250) * 2u32.pow(extra)
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
        assert_eq!(t.gate(100), Gate::Locked);
        assert_eq!(t.address_gate(5), Gate::Wait(Duration::ZERO));
        assert!(matches!(t.address_gate(20), Gate::Wait(d) if d > Duration::ZERO));
        assert_eq!(t.address_gate(100), Gate::Locked);
        assert!(t.account_open(10, 3));
        assert!(t.account_open(60, 0), "a fresh address may always try");
        assert!(!t.account_open(60, 1));
    }
}
