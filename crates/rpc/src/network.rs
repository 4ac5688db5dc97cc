//! capnp-rpc's two-party network over a [`Pipe`], with smaller first segments for outgoing
//! messages and incoming messages taken whole from the pipe.
//!
//! - capnp-rpc asks its connection for a 1,024-word (8 KiB) first segment for every call it
//!   sends, whatever the call's size, and the allocator zeroes it: for small calls that was a
//!   tenth of a call's cost. Our network hands every `new_outgoing_message` to the two-party
//!   connection with the hint capped at [`FIRST_SEGMENT_WORDS`]; a bigger message grows a
//!   second segment as any capnp message does.
//! - The two-party connection reads its messages from a byte stream in pieces (segment table,
//!   then segments, each a read into a zeroed buffer). The pipe assembles messages as bytes
//!   arrive (`Pipe::feed`), so `receive_incoming_message` takes them from it (`poll_frame`);
//!   the two-party connection is given an empty input stream it never reads.
//!
//! - capnp-rpc sends every message through the two-party write queue (a channel message, a
//!   oneshot and a poll of the queue's task each) and never waits for the send: our
//!   outgoing messages are written into the pipe at `send` instead (flushed when the loop's
//!   run ends, as the queue's writes were), unless writing was ever paused (then the queue,
//!   which may hold messages, takes them all, keeping their order).
//!
//! Everything else (flow control of streams, shutdown) is the two-party network's.

use std::rc::Rc;

use capnp::capability::Promise;
use capnp::Error;
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, Connection, FlowController, IncomingMessage, OutgoingMessage};
use futures::TryFutureExt;

use crate::executor::Kicker;
use crate::pipe::{Frame, Pipe};

/// The largest first segment we let capnp-rpc ask for (words): a small call's message and
/// its header fit in it.
pub(crate) const FIRST_SEGMENT_WORDS: u32 = 128;

pub(crate) struct Network {
    inner: twoparty::VatNetwork<futures::io::Empty>,
    pipe: Pipe,
    kick: Rc<Kicker>,
}

impl Network {
    /// The two-party network of `side` over `pipe`, its messages read with `options`;
    /// `kick` asks the loop for a run (which flushes the pipe) after a message is written
    /// outside one.
    pub(crate) fn new(
        pipe: Pipe,
        side: Side,
        options: capnp::message::ReaderOptions,
        kick: Kicker,
    ) -> Network {
        pipe.set_reader_options(options);
        Network {
            inner: twoparty::VatNetwork::new(futures::io::empty(), pipe.clone(), side, options),
            pipe,
            kick: Rc::new(kick),
        }
    }
}

impl capnp_rpc::VatNetwork<Side> for Network {
    fn connect(&mut self, host_id: Side) -> Option<Box<dyn Connection<Side>>> {
        let pipe = self.pipe.clone();
        let kick = self.kick.clone();
        self.inner.connect(host_id).map(|c| slim(c, pipe, kick))
    }

    fn accept(&mut self) -> Promise<Box<dyn Connection<Side>>, Error> {
        let pipe = self.pipe.clone();
        let kick = self.kick.clone();
        Promise::from_future(self.inner.accept().map_ok(|c| slim(c, pipe, kick)))
    }

    fn drive_until_shutdown(&mut self) -> Promise<(), Error> {
        self.inner.drive_until_shutdown()
    }
}

fn slim(
    inner: Box<dyn Connection<Side>>,
    pipe: Pipe,
    kick: Rc<Kicker>,
) -> Box<dyn Connection<Side>> {
    Box::new(Slim { inner, pipe, kick })
}

struct Slim {
    inner: Box<dyn Connection<Side>>,
    pipe: Pipe,
    kick: Rc<Kicker>,
}

/// An outgoing message that is written into the pipe when sent, when nothing can be ahead
/// of it in the two-party write queue (`Pipe::can_write_now`), and through that queue
/// otherwise. The queue cost a channel message, a oneshot and a task's poll per message.
struct Outgoing {
    inner: Box<dyn OutgoingMessage>,
    pipe: Pipe,
    kick: Rc<Kicker>,
}

impl OutgoingMessage for Outgoing {
    fn get_body(&mut self) -> capnp::Result<capnp::any_pointer::Builder<'_>> {
        self.inner.get_body()
    }

    fn get_body_as_reader(&self) -> capnp::Result<capnp::any_pointer::Reader<'_>> {
        self.inner.get_body_as_reader()
    }

    fn send(
        self: Box<Self>,
    ) -> (
        Promise<(), Error>,
        Rc<capnp::message::Builder<capnp::message::HeapAllocator>>,
    ) {
        let Outgoing { inner, pipe, kick } = *self;
        if !pipe.can_write_now() {
            return inner.send();
        }
        let message = inner.take();
        // `can_write_now` held just above, on this thread: the write takes it.
        let _ = pipe.write_message_now(&message);
        kick.kick();
        // capnp-rpc never waits for a send (the promise is dropped).
        (Promise::ok(()), Rc::new(message))
    }

    fn take(self: Box<Self>) -> capnp::message::Builder<capnp::message::HeapAllocator> {
        self.inner.take()
    }

    fn size_in_words(&self) -> usize {
        self.inner.size_in_words()
    }
}

/// A message from the pipe.
struct Incoming(Frame);

impl IncomingMessage for Incoming {
    fn get_body(&self) -> capnp::Result<capnp::any_pointer::Reader<'_>> {
        self.0.get_root()
    }
}

impl Connection<Side> for Slim {
    fn get_peer_vat_id(&self) -> Side {
        self.inner.get_peer_vat_id()
    }

    fn new_outgoing_message(&mut self, first_segment_words: u32) -> Box<dyn OutgoingMessage> {
        Box::new(Outgoing {
            inner: self
                .inner
                .new_outgoing_message(first_segment_words.min(FIRST_SEGMENT_WORDS)),
            pipe: self.pipe.clone(),
            kick: self.kick.clone(),
        })
    }

    fn receive_incoming_message(&mut self) -> Promise<Option<Box<dyn IncomingMessage>>, Error> {
        let pipe = self.pipe.clone();
        Promise::from_future(futures::future::poll_fn(move |cx| {
            pipe.poll_frame(cx).map(|r| {
                r.map(|frame| frame.map(|f| Box::new(Incoming(f)) as Box<dyn IncomingMessage>))
            })
        }))
    }

    fn new_stream(&mut self) -> (Box<dyn FlowController>, Promise<(), Error>) {
        self.inner.new_stream()
    }

    fn shutdown(&mut self, result: capnp::Result<()>) -> Promise<(), Error> {
        self.inner.shutdown(result)
    }
}
