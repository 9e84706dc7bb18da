//! Running blob transfers a bounded number at a time: scoped threads take items from a shared
//! queue, no new item starts after the first failure, and that failure is the result.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Calls `work` on every item with up to `jobs` threads (at least one); returns the results in
/// completion order, or the first error.
pub(crate) fn for_each<T: Sync, R: Send, E: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let queue = Mutex::new(items.iter());
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Result<R, E>>> = Mutex::new(Vec::new());
    let next = || {
        queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next()
    };
    let worker = || {
        while !failed.load(Ordering::SeqCst) {
            let Some(item) = next() else {
                break;
            };
            let r = work(item);
            if r.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            results
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(r);
        }
    };
    let threads = jobs.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(worker);
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_items_run_and_the_first_error_wins() {
        let items: Vec<u32> = (0..20).collect();
        let mut got = for_each(&items, 3, |i| Ok::<_, String>(i * 2)).unwrap();
        got.sort_unstable();
        assert_eq!(got, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        let e = for_each(&items, 1, |i| if *i == 5 { Err(*i) } else { Ok(*i) }).unwrap_err();
        assert_eq!(e, 5);
        assert!(
            for_each(&[] as &[u32], 4, |i| Ok::<_, ()>(*i))
                .unwrap()
                .is_empty()
        );
    }
}
