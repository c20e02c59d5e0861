//! CPU-heavy work off the async runtime: a small pool of its own threads, at a lower
//! scheduling priority than the runtime's, with a deadline that the work itself checks.
//!
//! Why: tokio's workers must stay free for cheap requests (`/api/locate`, tiles, health).
//! Geometry validation of large shapes, partition checks, coverage, siting, party findings
//! and reports run here instead. Each job:
//! - waits at most [`Pool::queue_wait`] for a free thread, else the caller gets
//!   [`WorkError::Busy`] (503 with `Retry-After`): the queue is bounded by time, not grown;
//! - carries a deadline; long loops call [`checkpoint`] (a thread-local read, cheap) and
//!   stop with [`Expired`] once it passes or once the request that asked for the work is
//!   gone (its future dropped by a client disconnect or the request timeout), so a timeout
//!   really frees the CPU;
//! - runs at `nice` +[`NICE`] on Linux, so that on a busy machine the runtime's threads are
//!   scheduled first.
//!
//! Must not: touch the database or the network (a job holds a thread, not a connection).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Semaphore};

/// Scheduling priority (nice value) of the pool's threads.
pub const NICE: i32 = 10;

/// A job's time ran out, or the request that asked for it went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the work took longer than its time budget, or its request was cancelled")]
pub struct Expired;

/// Why a job did not give its answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkError {
    /// Every thread stayed busy for longer than the queue wait.
    #[error("the server is busy with other heavy requests; retry in {retry_after_s} s")]
    Busy {
        /// Seconds to suggest in `Retry-After`.
        retry_after_s: u64,
    },
    /// The deadline passed before the work finished.
    #[error("the work did not finish within its budget of {budget_s:.0} s")]
    Expired {
        /// The budget in seconds.
        budget_s: f64,
    },
    /// The work panicked (a bug); the pool keeps its thread.
    #[error("the work failed: {0}")]
    Panicked(String),
}

struct Token {
    until: Instant,
    cancelled: Arc<AtomicBool>,
}

thread_local! {
    static CURRENT: RefCell<Option<Token>> = const { RefCell::new(None) };
}

/// Whether the current job may go on: `Err(Expired)` once its deadline passed or its
/// request was cancelled. Outside a pool job (tests, the CLI) it always says yes.
pub fn checkpoint() -> Result<(), Expired> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(t) if t.cancelled.load(Ordering::Relaxed) || Instant::now() >= t.until => Err(Expired),
        _ => Ok(()),
    })
}

/// Like [`checkpoint`], but reads the clock only every `every`-th call of a loop (pass the
/// loop counter): for tight loops where a clock read per iteration would show.
pub fn checkpoint_every(i: usize, every: usize) -> Result<(), Expired> {
    if every == 0 || i.is_multiple_of(every) {
        checkpoint()
    } else {
        Ok(())
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The pool: a fixed number of threads, a semaphore with as many permits, so that a job
/// that holds a permit always finds an idle thread.
pub struct Pool {
    permits: Arc<Semaphore>,
    tx: Mutex<mpsc::Sender<Job>>,
    threads: usize,
    queue_wait: Duration,
    running: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "work::Pool({} threads)", self.threads)
    }
}

#[allow(unsafe_code)] // one libc call, see below
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority with who = 0 changes only the calling thread on Linux; it reads
    // and writes no memory of ours.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
    }
}

impl Pool {
    /// A pool of `threads` threads (at least one) whose jobs wait at most `queue_wait` for
    /// a thread.
    pub fn new(threads: usize, queue_wait: Duration) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("wangge-work-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("start a work thread");
        }
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            tx: Mutex::new(tx),
            threads,
            queue_wait,
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Threads in the pool.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How long a job waits for a thread before the caller is told the server is busy.
    pub fn queue_wait(&self) -> Duration {
        self.queue_wait
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Runs `f` on a pool thread with a time budget. `f` should call [`checkpoint`] in its
    /// long loops and return `Err(Expired)` when told to stop. Dropping the returned
    /// future (the request went away) cancels the job at its next checkpoint.
    pub async fn run<T, F>(&self, budget: Duration, f: F) -> Result<T, WorkError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Expired> + Send + 'static,
    {
        let Ok(Ok(permit)) =
            tokio::time::timeout(self.queue_wait, Arc::clone(&self.permits).acquire_owned()).await
        else {
            return Err(WorkError::Busy {
                retry_after_s: self.queue_wait.as_secs().max(1) * 2,
            });
        };
        let cancelled = Arc::new(AtomicBool::new(false));
        let guard = CancelOnDrop(Arc::clone(&cancelled));
        let until = Instant::now() + budget;
        let (done_tx, done_rx) = oneshot::channel();
        let running = Arc::clone(&self.running);
        let job: Job = Box::new(move || {
            let _permit = permit;
            running.fetch_add(1, Ordering::Relaxed);
            CURRENT.with(|c| *c.borrow_mut() = Some(Token { until, cancelled }));
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            CURRENT.with(|c| *c.borrow_mut() = None);
            running.fetch_sub(1, Ordering::Relaxed);
            let _ = done_tx.send(out);
        });
        let sent = self
            .tx
            .lock()
            .map(|tx| tx.send(job).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(WorkError::Panicked("the work pool has stopped".into()));
        }
        let out = done_rx.await;
        drop(guard);
        match out {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(Expired))) => Err(WorkError::Expired {
                budget_s: budget.as_secs_f64(),
            }),
            Ok(Err(panic)) => Err(WorkError::Panicked(panic_text(&panic))),
            Err(_) => Err(WorkError::Panicked("the work thread went away".into())),
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(std::string::ToString::to_string)
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `f` on a new thread of its own at the pool's lower priority, for long background
/// work that belongs to no request (building a model at start, after an import); the answer
/// comes through the returned receiver (an error if `f` panicked).
pub fn background<T, F>(name: &str, f: F) -> oneshot::Receiver<Result<T, String>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("wangge-{name}"))
        .spawn(move || {
            lower_priority();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .map_err(|p| panic_text(&p));
            let _ = tx.send(out);
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start a background thread: {e}");
    }
    rx
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Sets up the process's pool (the server does this at start from its settings); later
/// calls, and [`pool`] before any call, keep or make the default: one thread per core,
/// jobs waiting at most 5 s for a thread.
pub fn init(threads: usize, queue_wait: Duration) -> &'static Pool {
    POOL.get_or_init(|| Pool::new(threads, queue_wait))
}

/// The process's pool.
pub fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Pool::new(cores, Duration::from_secs(5))
    })
}

/// Runs `f` on the process's pool with a time budget (see [`Pool::run`]).
pub async fn heavy<T, F>(budget: Duration, f: F) -> Result<T, WorkError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Expired> + Send + 'static,
{
    pool().run(budget, f).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_and_expires() {
        let p = Pool::new(1, Duration::from_millis(200));
        assert_eq!(p.run(Duration::from_secs(5), || Ok(41 + 1)).await, Ok(42));
        let spin = p
            .run(Duration::from_millis(50), || loop {
                checkpoint()?;
            })
            .await;
        assert_eq!(spin, Err::<(), _>(WorkError::Expired { budget_s: 0.05 }));
        assert_eq!(checkpoint(), Ok(()), "outside a job nothing expires");
    }

    #[tokio::test]
    async fn a_dropped_request_frees_the_thread() {
        let p = Arc::new(Pool::new(1, Duration::from_millis(500)));
        let started = Instant::now();
        let spin = {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                p.run(Duration::from_secs(600), || -> Result<(), Expired> {
                    loop {
                        checkpoint()?;
                    }
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        spin.abort();
        // The one thread is free again well before the 600 s budget.
        let v: Result<u8, _> = p.run(Duration::from_secs(5), || Ok(7)).await;
        assert_eq!(v, Ok(7));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn busy_when_every_thread_stays_taken() {
        let p = Arc::new(Pool::new(1, Duration::from_millis(100)));
        let hold = {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                p.run(Duration::from_secs(2), || {
                    std::thread::sleep(Duration::from_millis(600));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r: Result<(), _> = p.run(Duration::from_secs(1), || Ok(())).await;
        assert!(matches!(r, Err(WorkError::Busy { .. })), "{r:?}");
        assert_eq!(hold.await.ok(), Some(Ok(())));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_thread_survives() {
        let p = Pool::new(1, Duration::from_millis(500));
        let r: Result<(), _> = p.run(Duration::from_secs(1), || panic!("boom")).await;
        assert_eq!(r, Err(WorkError::Panicked("boom".into())));
        assert_eq!(p.run(Duration::from_secs(1), || Ok(1)).await, Ok(1));
    }
}
