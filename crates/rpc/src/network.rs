//! capnp-rpc's two-party network, with smaller first segments for outgoing messages.
//!
//! capnp-rpc asks its connection for a 1,024-word (8 KiB) first segment for every call it
//! sends, whatever the call's size, and the allocator zeroes it: for small calls that was a
//! tenth of a call's cost. Our network hands every `new_outgoing_message` to the two-party
//! connection with the hint capped at [`FIRST_SEGMENT_WORDS`]; a bigger message grows a
//! second segment as any capnp message does. Everything else is the two-party network's.

use capnp::capability::Promise;
use capnp::Error;
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, Connection, FlowController, IncomingMessage, OutgoingMessage};
use futures::TryFutureExt;

/// The largest first segment we let capnp-rpc ask for (words): a small call's message and
/// its header fit in it.
pub(crate) const FIRST_SEGMENT_WORDS: u32 = 128;

pub(crate) struct Network<T: futures::AsyncRead + Unpin + 'static>(pub twoparty::VatNetwork<T>);

impl<T: futures::AsyncRead + Unpin + 'static> capnp_rpc::VatNetwork<Side> for Network<T> {
    fn connect(&mut self, host_id: Side) -> Option<Box<dyn Connection<Side>>> {
        self.0.connect(host_id).map(slim)
    }

    fn accept(&mut self) -> Promise<Box<dyn Connection<Side>>, Error> {
        Promise::from_future(self.0.accept().map_ok(slim))
    }

    fn drive_until_shutdown(&mut self) -> Promise<(), Error> {
        self.0.drive_until_shutdown()
    }
}

fn slim(inner: Box<dyn Connection<Side>>) -> Box<dyn Connection<Side>> {
    Box::new(Slim(inner))
}

struct Slim(Box<dyn Connection<Side>>);

impl Connection<Side> for Slim {
    fn get_peer_vat_id(&self) -> Side {
        self.0.get_peer_vat_id()
    }

    fn new_outgoing_message(&mut self, first_segment_words: u32) -> Box<dyn OutgoingMessage> {
        self.0
            .new_outgoing_message(first_segment_words.min(FIRST_SEGMENT_WORDS))
    }

    fn receive_incoming_message(&mut self) -> Promise<Option<Box<dyn IncomingMessage>>, Error> {
        self.0.receive_incoming_message()
    }

    fn new_stream(&mut self) -> (Box<dyn FlowController>, Promise<(), Error>) {
        self.0.new_stream()
    }

    fn shutdown(&mut self, result: capnp::Result<()>) -> Promise<(), Error> {
        self.0.shutdown(result)
    }
}
