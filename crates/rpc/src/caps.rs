//! The loop's capabilities: capnp-rpc clients kept on the loop's thread, named by `LoopCap`
//! tokens that may travel anywhere. Dropping the last token releases the client at the loop's
//! next run (a queue, so a token dropped on another thread never touches the client).

use std::any::Any;
// Keyed by this loop's own counter (nothing a peer chooses): the fast hash is safe.
use rustc_hash::FxHashMap as HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use capnp::private::capability::ClientHook;

/// The part of a loop other threads may see.
pub struct LoopShared {
    released: Mutex<Vec<u64>>,
    closed: AtomicBool,
    thread: std::thread::ThreadId,
    /// Asks the loop for a run: a first token released since the last run needs one, whose
    /// end drops the client and sends its Release (nothing else may run the loop soon).
    waker: std::task::Waker,
}

impl LoopShared {
    pub(crate) fn new(waker: std::task::Waker) -> LoopShared {
        LoopShared {
            released: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            thread: std::thread::current().id(),
            waker,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The thread the loop runs on.
    pub fn thread(&self) -> std::thread::ThreadId {
        self.thread
    }

    pub(crate) fn take_released(&self) -> Vec<u64> {
        std::mem::take(&mut *self.released.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A capability of one loop, as a thread-safe token.
pub struct LoopCap {
    key: u64,
    shared: Arc<LoopShared>,
}

impl LoopCap {
    pub(crate) fn new(key: u64, shared: Arc<LoopShared>) -> LoopCap {
        LoopCap { key, shared }
    }
    pub fn key(&self) -> u64 {
        self.key
    }
    pub fn shared(&self) -> &Arc<LoopShared> {
        &self.shared
    }
}

impl Drop for LoopCap {
    fn drop(&mut self) {
        if !self.shared.is_closed() {
            let first = {
                let mut released = self
                    .shared
                    .released
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                released.push(self.key);
                released.len() == 1
            };
            if first {
                self.shared.waker.wake_by_ref();
            }
        }
    }
}

impl capnp_dynamic::CapHolder for LoopCap {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    hooks: HashMap<u64, Box<dyn ClientHook>>,
    next: u64,
}

impl Registry {
    pub(crate) fn insert(&mut self, hook: Box<dyn ClientHook>) -> u64 {
        self.next += 1;
        self.hooks.insert(self.next, hook);
        self.next
    }

    pub(crate) fn get(&self, key: u64) -> Option<Box<dyn ClientHook>> {
        self.hooks.get(&key).map(|h| h.add_ref())
    }

    pub(crate) fn remove(&mut self, keys: &[u64]) -> Vec<Box<dyn ClientHook>> {
        keys.iter().filter_map(|k| self.hooks.remove(k)).collect()
    }
}
