//! Cap'n Proto RPC over dynamic messages, below the Python binding (no PyO3).
//!
//! Everything here is single-threaded, as capnp-rpc is: an [`EventLoop`] lives on one thread
//! and owns the executor, the capabilities and the calls in flight. What crosses threads (and
//! what the binding stores in Python objects) are plain keys and [`LoopCap`] tokens, which
//! are `Send + Sync`; turning them back into capnp-rpc objects needs the loop's thread.

mod caps;
mod connection;
mod executor;
mod network;
mod peer;
mod pipe;
mod reactor;
mod server;

pub use caps::{LoopCap, LoopShared};
pub use connection::{Connection, Side};
pub use executor::{Executor, Kicker, Schedule};
pub use pipe::{Pipe, PipeSink};
pub use reactor::{Listener, Reactor, StillOpen, Stream};
pub use server::{new_server_client, CallHandler, ServerInfo};

use std::cell::RefCell;
use std::rc::Rc;

use capnp::any_pointer;
use capnp::capability::{Promise, RemotePromise, Response};
use capnp::private::capability::ClientHook;
use capnp_dynamic::{CapScope, MessageBuilder};

/// One thread's RPC world: executor, capabilities, calls in flight.
pub struct EventLoop {
    pub executor: Executor,
    caps: RefCell<caps::Registry>,
    shared: Arc<LoopShared>,
    /// The streams of this loop's connections: what a run wrote is flushed at its end.
    flushers: RefCell<Vec<(std::rc::Weak<()>, Pipe)>>,
    /// The pipes one flush writes (reused).
    flush_scratch: RefCell<Vec<Pipe>>,
    /// A send ran the loop and no other run happened since (`after_send`).
    sent_alone: std::cell::Cell<bool>,
}

use std::sync::Arc;

impl EventLoop {
    pub fn new(schedule: Schedule) -> Rc<EventLoop> {
        let executor = Executor::new(schedule);
        let shared = Arc::new(LoopShared::new(executor.waker()));
        Rc::new(EventLoop {
            executor,
            caps: RefCell::new(caps::Registry::default()),
            shared,
            flushers: RefCell::new(Vec::new()),
            flush_scratch: RefCell::new(Vec::new()),
            sent_alone: std::cell::Cell::new(false),
        })
    }

    /// Runs `send` (which queues a call and wakes tasks) and then, as `after_send`, the
    /// loop; a first send since the last run claims that run first, so its wakes ask the
    /// host for no callback of their own.
    pub fn sending<T>(&self, send: impl FnOnce() -> T) -> T {
        let claimed = !self.sent_alone.get() && self.executor.claim_run();
        let out = send();
        if claimed {
            self.run();
            self.sent_alone.set(true);
        } else {
            self.after_send();
        }
        out
    }

    /// Runs `feed` (bytes for a connection's pipe) and then the loop, the run claimed first
    /// (see `sending`).
    pub fn feeding<T>(&self, feed: impl FnOnce() -> T) -> T {
        let _ = self.executor.claim_run();
        let out = feed();
        self.run();
        out
    }

    /// Spawns `task` (a wait for a call's results); right after a send that ran the loop
    /// alone (a call awaited as soon as it is made), the run that polls the task first happens
    /// here, claimed, so the host schedules no callback that would only do that.
    pub fn spawning(&self, task: impl std::future::Future<Output = ()> + 'static) {
        let claimed = self.sent_alone.get() && self.executor.claim_run();
        self.executor.spawn(task);
        if claimed {
            self.run();
        }
    }

    /// After a call is sent: the first send since the loop last ran writes its request at
    /// once (a round trip waits for nothing); the sends that follow it before the loop runs
    /// again (a burst: `gather` of many calls) ask for one run that writes them together.
    pub fn after_send(&self) {
        if self.sent_alone.get() {
            self.executor.schedule();
        } else {
            self.run();
            self.sent_alone.set(true);
        }
    }

    pub fn shared(&self) -> &Arc<LoopShared> {
        &self.shared
    }

    /// Runs every ready task, frees capabilities whose tokens were dropped (their Release
    /// messages are written then), then hands what was written to the transports.
    pub fn run(&self) {
        self.sent_alone.set(false);
        self.executor.run();
        self.collect();
        self.flush();
    }

    /// Registers a connection's stream, flushed after every run while `alive` lives.
    pub fn add_pipe(&self, alive: &Rc<()>, pipe: Pipe) {
        self.flushers
            .borrow_mut()
            .push((Rc::downgrade(alive), pipe));
    }

    fn flush(&self) {
        // Pipes are cloned out first: flushing or dropping a stream may run host code that
        // registers another. Dead entries are dropped after the borrow ends.
        let mut pipes = std::mem::take(&mut *self.flush_scratch.borrow_mut());
        let mut dead = Vec::new();
        {
            let mut flushers = self.flushers.borrow_mut();
            let mut i = 0;
            while i < flushers.len() {
                let (alive, pipe) = &flushers[i];
                if alive.strong_count() > 0 && !pipe.is_closed() {
                    pipes.push(pipe.clone());
                    i += 1;
                } else {
                    dead.push(flushers.swap_remove(i));
                }
            }
        }
        drop(dead);
        for p in &pipes {
            // A transport that fails a write reports it through its protocol (connection
            // lost), which ends the stream.
            let _ = p.flush_outgoing();
        }
        pipes.clear();
        // The vector is kept for the next run (no allocation per run).
        *self.flush_scratch.borrow_mut() = pipes;
    }

    /// Drops the clients of tokens released since the last run (possibly on other threads).
    pub fn collect(&self) {
        let keys = self.shared.take_released();
        if !keys.is_empty() {
            let dropped = self.caps.borrow_mut().remove(&keys);
            drop(dropped);
        }
    }

    /// A token for `hook`, valid on this loop.
    pub fn register(&self, hook: Box<dyn ClientHook>) -> LoopCap {
        let key = self.caps.borrow_mut().insert(hook);
        LoopCap::new(key, self.shared.clone())
    }

    /// The client a token stands for (`None`: not this loop's, or the loop is closed).
    pub fn hook(&self, cap: &LoopCap) -> Option<Box<dyn ClientHook>> {
        if !Arc::ptr_eq(cap.shared(), &self.shared) {
            return None;
        }
        self.caps.borrow().get(cap.key())
    }

    /// The client behind a token of the dynamic layer (`capnp_dynamic::Cap`).
    pub fn hook_of(&self, cap: &capnp_dynamic::Cap) -> Option<Box<dyn ClientHook>> {
        cap.as_any()
            .downcast_ref::<LoopCap>()
            .and_then(|c| self.hook(c))
    }

    /// A capnp cap table standing for a message's tokens (unknown ones become broken caps).
    pub fn real_table(
        &self,
        caps: &[Option<capnp_dynamic::Cap>],
    ) -> Vec<Option<Box<dyn ClientHook>>> {
        caps.iter()
            .map(|c| {
                c.as_ref().map(|c| {
                    self.hook_of(c).unwrap_or_else(|| {
                        capnp_rpc::new_broken_cap(capnp::Error::disconnected(
                            "capability belongs to an event loop that is closed or on another thread"
                                .into(),
                        ))
                        .hook
                    })
                })
            })
            .collect()
    }

    /// Copies the root of `message` into `dest` (a capnp-rpc request or results), with its
    /// capabilities.
    pub fn copy_out(
        &self,
        message: &MessageBuilder,
        dest: any_pointer::Builder<'_>,
    ) -> capnp::Result<()> {
        let mut table = self.real_table(&message.caps());
        let mut dest = dest;
        message
            .with_root_imbued(&mut table, |root| {
                dest.set_as::<any_pointer::Owned>(root.into_reader())?;
                Ok(())
            })
            .map_err(to_capnp)
    }

    /// A new message holding a copy of `src` (params or results from capnp-rpc) whose
    /// capabilities become tokens of this loop.
    pub fn copy_in(&self, src: any_pointer::Reader<'_>) -> capnp::Result<MessageBuilder> {
        let words = src.target_size().map(|s| s.word_count).unwrap_or(0);
        let message = MessageBuilder::with_first_segment_words(
            u32::try_from(words + 8).unwrap_or(u32::MAX).min(1 << 20),
        );
        let mut scope = CapScope::for_writing(0);
        message
            .with_root_imbued(scope.table_mut(), |mut root| {
                root.set_as::<any_pointer::Owned>(src)?;
                Ok(())
            })
            .map_err(to_capnp)?;
        let caps = scope.take_new(|hook| Some(Arc::new(self.register(hook)) as capnp_dynamic::Cap));
        message.extend_caps(caps);
        Ok(message)
    }

    /// Sends a call on `target` with the params in `params` (a message whose root is the
    /// params struct).
    pub fn send(
        &self,
        target: &dyn ClientHook,
        interface_id: u64,
        method_id: u16,
        params: &MessageBuilder,
    ) -> capnp::Result<RemotePromise<any_pointer::Owned>> {
        let size = params.size_in_words() as u64;
        let mut req = target.new_call(
            interface_id,
            method_id,
            Some(capnp::MessageSize {
                word_count: size + 4,
                cap_count: params.caps_len() as u32,
            }),
        );
        self.copy_out(params, req.get())?;
        Ok(req.send())
    }

    /// Sends a call whose params are `params` (plain values), written straight into the
    /// request: no message of ours to build and copy.
    pub fn send_plain(
        &self,
        target: &dyn ClientHook,
        interface_id: u64,
        method_id: u16,
        params: capnp_dynamic::struct_::PlainStruct<'_, '_>,
    ) -> capnp_dynamic::Result<RemotePromise<any_pointer::Owned>> {
        let mut req = target.new_call(
            interface_id,
            method_id,
            Some(capnp::MessageSize {
                word_count: params.words() + 4,
                cap_count: 0,
            }),
        );
        params.write(req.get())?;
        Ok(req.send())
    }

    /// Sends a streaming call: completes when flow control lets the caller go on.
    pub fn send_streaming(
        &self,
        target: &dyn ClientHook,
        interface_id: u64,
        method_id: u16,
        params: &MessageBuilder,
    ) -> capnp::Result<Promise<(), capnp::Error>> {
        let mut req = target.new_call(interface_id, method_id, None);
        self.copy_out(params, req.get())?;
        Ok(req.hook.send_streaming())
    }

    /// The results of a finished call read in place, in the incoming message (no copy),
    /// when they are a struct that lies in a one-segment message this thread assembled
    /// recently; `None` otherwise (`response_message` copies them). Only for results that
    /// can hold no capability (their cap table is not carried over).
    pub fn response_reader(
        &self,
        response: &Response<any_pointer::Owned>,
    ) -> Option<Arc<capnp_dynamic::MessageReader>> {
        let results = response.get().ok()?;
        let st = capnp_dynamic::struct_::ForeignStruct::of(results).ok()?;
        let (addr, data_words, pointers) = st.position()?;
        let len = (usize::from(data_words) + usize::from(pointers)) * 8;
        let (words, at) = crate::pipe::frame_holding(addr, len)?;
        capnp_dynamic::MessageReader::over_struct_in(
            words,
            at,
            data_words,
            pointers,
            capnp_dynamic::ReadLimits::default(),
        )
    }

    /// The results of a finished call as a message of this layer.
    pub fn response_message(
        &self,
        response: &Response<any_pointer::Owned>,
    ) -> capnp::Result<MessageBuilder> {
        self.copy_in(response.get()?)
    }

    /// Shuts down: drops every capability (on this thread) and every task.
    pub fn close(&self) {
        self.shared.close();
        self.executor.close();
        let all = std::mem::take(&mut *self.caps.borrow_mut());
        drop(all);
    }
}

/// A dynamic-layer error as capnp's.
pub fn to_capnp(e: capnp_dynamic::Error) -> capnp::Error {
    match e {
        capnp_dynamic::Error::Capnp(e) => e,
        other => capnp::Error::failed(other.to_string()),
    }
}

/// Shared state of one promise, for the binding: the capnp-rpc promise (taken when awaited)
/// and its pipeline.
pub struct Pending {
    pub promise: RefCell<Option<Promise<Response<any_pointer::Owned>, capnp::Error>>>,
    /// Dropped with the promise when the call is cancelled: capnp-rpc finishes a question only
    /// when nothing refers to it any more.
    pub pipeline: RefCell<Option<any_pointer::Pipeline>>,
}

impl Pending {
    /// Cancels the call: drops the promise and the pipeline.
    pub fn cancel(&self) {
        let promise = self.promise.borrow_mut().take();
        let pipeline = self.pipeline.borrow_mut().take();
        drop(promise);
        drop(pipeline);
    }

    pub fn new(rp: RemotePromise<any_pointer::Owned>) -> Rc<Pending> {
        Rc::new(Pending {
            promise: RefCell::new(Some(rp.promise)),
            pipeline: RefCell::new(Some(rp.pipeline)),
        })
    }
}
