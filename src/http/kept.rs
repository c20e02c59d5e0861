//! Values kept per state of the change log: made once per change of the layers they depend
//! on and shared by every request until the next change (member counts, organisations,
//! street lengths...). A request reads the number of the latest change first and uses the
//! value kept under exactly that number, or makes it (one making at a time) and keeps it.

use crate::http::error::{ApiError, ApiResult};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Locks `m`, going on when an earlier holder panicked: kept values are replaced whole, so
/// a panic cannot leave one half-written.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One value kept with the change number and the key (a year, a buffer width; `()` when
/// there is none) it was made for, and a lock so that requests arriving together while it
/// is not current wait for one making rather than each starting their own.
#[derive(Debug)]
pub struct Kept<K, V> {
    slot: Mutex<Option<(i64, K, Arc<V>)>>,
    making: tokio::sync::Mutex<()>,
}

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
            making: tokio::sync::Mutex::new(()),
        }
    }
}

impl<K: PartialEq, V> Kept<K, V> {
    /// The value kept for change `seq` and `key`, if that is the one kept.
    pub fn current(&self, seq: i64, key: &K) -> Option<Arc<V>> {
        lock(&self.slot)
            .as_ref()
            .filter(|(s, k, _)| *s == seq && k == key)
            .map(|(_, _, v)| Arc::clone(v))
    }

    /// The value kept, whatever its change and key.
    pub fn latest(&self) -> Option<Arc<V>> {
        lock(&self.slot).as_ref().map(|(_, _, v)| Arc::clone(v))
    }

    /// The value for change `seq` (just read by the caller) and `key`: the kept one, or one
    /// made now. `reread` reads the change number again once this request's turn to make
    /// has come (another may have made it meanwhile); `make` gets that number, reads the
    /// data after it (so the value is at least as new as the number it is kept under) and
    /// says whether the value may be kept.
    pub async fn get<E, R, M>(
        &self,
        seq: i64,
        key: K,
        reread: impl FnOnce() -> R,
        make: impl FnOnce(i64) -> M,
    ) -> ApiResult<Arc<V>>
    where
        ApiError: From<E>,
        R: Future<Output = Result<i64, E>>,
        M: Future<Output = ApiResult<(V, bool)>>,
    {
        if let Some(v) = self.current(seq, &key) {
            return Ok(v);
        }
        let _one = self.making.lock().await;
        let seq = reread().await?;
        if let Some(v) = self.current(seq, &key) {
            return Ok(v);
        }
        let (v, keep) = make(seq).await?;
        let v = Arc::new(v);
        if keep {
            *lock(&self.slot) = Some((seq, key, Arc::clone(&v)));
        }
        Ok(v)
    }
}
