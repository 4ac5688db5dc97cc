//! State of one thread's RPC loop (capnp-rpc promises, `Rc`s, `RefCell`s) held by Python
//! objects that any thread may release.
//!
//! A pending call or a connection belongs to the thread of its loop, but CPython drops an
//! object wherever its last reference goes, and the cycle collector runs on whichever thread
//! allocates when a threshold is crossed: a cycle made on a loop's thread is often freed on
//! another. PyO3's `unsendable` classes refuse that drop (an unraisable warning, and the object
//! leaks). [`ThreadBound`] keeps the value usable on its own thread only ([`ThreadBound::get`]
//! raises `RuntimeError` elsewhere) and, when dropped on another thread, moves it to a queue
//! that its own thread empties ([`drop_orphans`]) at its loop's next run.
//!
//! Safety argument (docs/ARCHITECTURE.md, "Unsafe code"): the value is reached through a
//! reference only on the thread that made it (`get` checks). On another thread the value is
//! only moved, bitwise, into the queue: no reference count is read or written and no method
//! runs, so the owner thread's concurrent use of other handles on the same `Rc` allocations
//! (which is not synchronized) never races with it. The queue hands each value back to its own
//! thread, which is the only one that drops it. Values whose thread has ended stay queued for
//! the life of the process (they are not freed: dropping them anywhere would be the race).

#![allow(unsafe_code)]

use std::any::Any;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

/// A value usable only on the thread that made it; dropping it elsewhere defers the drop to
/// that thread.
pub(crate) struct ThreadBound<T: 'static> {
    thread: ThreadId,
    value: ManuallyDrop<T>,
}

// SAFETY: the value is only touched on `thread` (`get` checks the current thread; `Drop` off
// that thread moves it, unread, into `ORPHANS`, which hands it back to `thread` to drop).
// Sharing a `&ThreadBound` with other threads therefore gives them no access to `T`.
unsafe impl<T: 'static> Send for ThreadBound<T> {}
// SAFETY: as for `Send`: every access through `&self` goes through the thread check.
unsafe impl<T: 'static> Sync for ThreadBound<T> {}

/// A value dropped off its thread, waiting for that thread.
struct Orphan {
    thread: ThreadId,
    /// Held, never used, until `thread` drops it.
    _value: Box<dyn Any>,
}

// SAFETY: an orphan crosses threads only inside `ORPHANS`; its value is dropped by
// `drop_orphans` on `thread` alone and never touched before.
unsafe impl Send for Orphan {}

static ORPHANS: Mutex<Vec<Orphan>> = Mutex::new(Vec::new());
/// Whether `ORPHANS` may hold anything (a load per loop run instead of a lock).
static HAS_ORPHANS: AtomicBool = AtomicBool::new(false);

impl<T: 'static> ThreadBound<T> {
    pub(crate) fn new(value: T) -> ThreadBound<T> {
        ThreadBound {
            thread: std::thread::current().id(),
            value: ManuallyDrop::new(value),
        }
    }

    /// The value, on its own thread; `None` on any other.
    pub(crate) fn get(&self) -> Option<&T> {
        (std::thread::current().id() == self.thread).then_some(&*self.value)
    }
}

impl<T: 'static> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        // SAFETY: `value` is taken exactly once, here, and `self` is not used afterwards.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        if std::thread::current().id() == self.thread {
            drop(value);
            return;
        }
        let orphan = Orphan {
            thread: self.thread,
            _value: Box::new(value),
        };
        ORPHANS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(orphan);
        HAS_ORPHANS.store(true, Ordering::Release);
    }
}

/// Drops the values of this thread that other threads released (at a loop run: the drops may
/// call into Python and cancel calls, as any drop of them would); whether there were any.
pub(crate) fn drop_orphans() -> bool {
    if !HAS_ORPHANS.load(Ordering::Acquire) {
        return false;
    }
    let me = std::thread::current().id();
    let mine: Vec<Orphan> = {
        let mut all = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others): (Vec<Orphan>, Vec<Orphan>) =
            all.drain(..).partition(|o| o.thread == me);
        *all = others;
        HAS_ORPHANS.store(!all.is_empty(), Ordering::Release);
        mine
    };
    // Outside the lock: a drop may release more values (and queue them).
    let any = !mine.is_empty();
    drop(mine);
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn a_value_dropped_on_another_thread_waits_for_its_own() {
        let shared = Rc::new(());
        let bound = ThreadBound::new(shared.clone());
        assert!(bound.get().is_some());
        std::thread::scope(|s| {
            s.spawn(move || {
                assert!(bound.get().is_none());
                drop(bound);
            });
        });
        // Still held: the other thread only queued it.
        assert_eq!(Rc::strong_count(&shared), 2);
        drop_orphans();
        assert_eq!(Rc::strong_count(&shared), 1);
    }

    #[test]
    fn a_value_dropped_on_its_own_thread_goes_at_once() {
        let shared = Rc::new(());
        drop(ThreadBound::new(shared.clone()));
        assert_eq!(Rc::strong_count(&shared), 1);
    }
}
