//! A single-threaded executor whose wake-ups are scheduled by the host loop (asyncio, or the
//! synchronous loop): a wake asks `Schedule` once for a run; one run polls every ready task.
//! Nothing polls on a timer, so an idle loop costs nothing.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};
use futures::task::ArcWake;

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Asks the host loop for one call of `Executor::run` soon. May be called from any thread.
pub type Schedule = Box<dyn Fn() + Send + Sync>;

struct Wake {
    /// Set from the first wake until a run starts polling again: further wakes are free.
    scheduled: AtomicBool,
    closed: AtomicBool,
    schedule: Schedule,
}

impl ArcWake for Wake {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if arc_self.closed.load(Ordering::Acquire) {
            return;
        }
        if !arc_self.scheduled.swap(true, Ordering::AcqRel) {
            (arc_self.schedule)();
        }
    }
}

pub struct Executor {
    tasks: RefCell<FuturesUnordered<Task>>,
    spawned: RefCell<Vec<Task>>,
    wake: Arc<Wake>,
    running: Rc<Cell<bool>>,
}

/// Asks the executor for a run unless one is going on (whose end flushes what was written).
pub struct Kicker {
    wake: Arc<Wake>,
    running: Rc<Cell<bool>>,
}

impl Kicker {
    pub fn kick(&self) {
        if !self.running.get() {
            ArcWake::wake_by_ref(&self.wake);
        }
    }
}

impl Executor {
    pub fn new(schedule: Schedule) -> Executor {
        Executor {
            tasks: RefCell::new(FuturesUnordered::new()),
            spawned: RefCell::new(Vec::new()),
            wake: Arc::new(Wake {
                scheduled: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                schedule,
            }),
            running: Rc::new(Cell::new(false)),
        }
    }

    /// A waker that asks for a run (from any thread).
    pub fn waker(&self) -> std::task::Waker {
        futures::task::waker(self.wake.clone())
    }

    /// A handle that asks for a run unless one is going on.
    pub fn kicker(&self) -> Kicker {
        Kicker {
            wake: self.wake.clone(),
            running: self.running.clone(),
        }
    }

    pub fn spawn(&self, f: impl Future<Output = ()> + 'static) {
        self.spawned.borrow_mut().push(Box::pin(f));
        if !self.running.get() {
            ArcWake::wake_by_ref(&self.wake);
        }
    }

    /// Marks a run as scheduled, so that wakes ask the host for none, when no run is
    /// scheduled or going on; `true` when marked: the caller then runs (`run`) at once,
    /// which clears the mark (for work that wakes tasks right before a run, such as bytes
    /// fed in: the host's callback would only find nothing to do).
    pub fn claim_run(&self) -> bool {
        if self.running.get() || self.is_closed() {
            return false;
        }
        !self.wake.scheduled.swap(true, Ordering::AcqRel)
    }

    /// Asks the host for a run (as a wake-up would).
    pub fn schedule(&self) {
        ArcWake::wake_by_ref(&self.wake);
    }

    pub fn is_closed(&self) -> bool {
        self.wake.closed.load(Ordering::Acquire)
    }

    /// Polls until no task is ready. Re-entrant calls (a task calling back into the host
    /// that runs the loop) return at once.
    pub fn run(&self) {
        if self.running.replace(true) || self.is_closed() {
            return;
        }
        let waker = futures::task::waker(self.wake.clone());
        let mut cx = Context::from_waker(&waker);
        let mut rounds = 0;
        loop {
            self.poll_all(&mut cx);
            // Wakes from now on schedule a new run; one more pass catches those that came in
            // between the last poll and this store.
            self.wake.scheduled.store(false, Ordering::SeqCst);
            rounds += 1;
            if !self.poll_all(&mut cx) || rounds > 64 || self.is_closed() {
                break;
            }
            self.wake.scheduled.store(true, Ordering::SeqCst);
        }
        self.running.set(false);
        if self.is_closed() {
            self.drop_tasks();
        }
    }

    /// Polls ready tasks until none is; whether any task completed or was added.
    fn poll_all(&self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        loop {
            let new: Vec<Task> = std::mem::take(&mut *self.spawned.borrow_mut());
            if !new.is_empty() {
                progressed = true;
                let tasks = self.tasks.borrow();
                for t in new {
                    tasks.push(t);
                }
            }
            let polled = {
                let mut tasks = self.tasks.borrow_mut();
                tasks.poll_next_unpin(cx)
            };
            match polled {
                Poll::Ready(Some(())) => progressed = true,
                Poll::Ready(None) | Poll::Pending => {
                    if self.spawned.borrow().is_empty() {
                        return progressed;
                    }
                }
            }
        }
    }

    /// Drops every task (on this thread) and ignores later wakes. Called from inside a
    /// run (a task closing the loop), the tasks are dropped when the run ends.
    pub fn close(&self) {
        self.wake.closed.store(true, Ordering::Release);
        if !self.running.get() {
            self.drop_tasks();
        }
    }

    fn drop_tasks(&self) {
        // Taken out first: dropping a task may run host code that spawns or closes.
        let tasks = self
            .tasks
            .try_borrow_mut()
            .map(|mut t| std::mem::take(&mut *t));
        let spawned = self
            .spawned
            .try_borrow_mut()
            .map(|mut s| std::mem::take(&mut *s));
        drop(tasks);
        drop(spawned);
    }
}
