//! The threads the store's work runs on: one per connection the pool may open, started with
//! the store and kept for its life.
//!
//! Not tokio's blocking pool: each actix worker runs its own runtime, each runtime its own
//! pool, and a pool starts a thread whenever none is idle at that instant, which is often
//! just before one would have been (a finished piece of work hands its turn on before its
//! thread is idle again). With 28 connections an instance ran 87 threads by the end of a
//! click day (`cargo bench --bench harness`), each keeping the stack it had touched; glibc
//! keeps the stacks of threads that exit, too. The turns ([`super::Store`]) already say how
//! much work runs at once, so that many threads are all it needs.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{Receiver, Sender, channel},
    },
};

type Job = Box<dyn FnOnce() + Send>;

/// Cloning it is cheap; the threads end once every clone is dropped.
#[derive(Clone)]
pub struct StoreThreads {
    jobs: Sender<Job>,
}

/// Why work handed to the store's threads gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Unfinished {
    #[error("the work panicked")]
    Panicked,
    #[error("the store's threads are gone")]
    Gone,
}

impl StoreThreads {
    /// Starts `count` threads, named `store-N`.
    pub fn start(count: usize) -> std::io::Result<StoreThreads> {
        let (jobs, waiting) = channel::<Job>();
        let waiting = Arc::new(Mutex::new(waiting));
        for n in 0..count.max(1) {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("store-{n}"))
                .spawn(move || run_jobs(&waiting))?;
        }
        Ok(StoreThreads { jobs })
    }

    /// Runs `work` on one of the threads and waits, without blocking the async thread, for
    /// what it returns. Work that was handed over runs to its end even when the caller stops
    /// waiting (a client that went away): a transaction begun is finished or rolled back.
    pub async fn run<T, F>(&self, work: F) -> Result<T, Unfinished>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(catch_unwind(AssertUnwindSafe(work)));
        });
        self.jobs.send(job).map_err(|_| Unfinished::Gone)?;
        match answered.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_panic)) => Err(Unfinished::Panicked),
            Err(_) => Err(Unfinished::Gone),
        }
    }
}

/// One thread's life: the next job, until the store is gone.
fn run_jobs(waiting: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let next = waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_store_thread_and_a_panic_is_an_answer() {
        let threads = StoreThreads::start(2).unwrap();
        let name = threads
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("store-")));
        let panicked = threads.run(|| -> u8 { panic!("a bug in a query") }).await;
        assert!(matches!(panicked, Err(Unfinished::Panicked)));
        // The thread that caught it is still there.
        for _ in 0..4 {
            assert_eq!(threads.run(|| 2 + 2).await.unwrap(), 4);
        }
    }
}
