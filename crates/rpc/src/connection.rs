//! A two-party RPC connection over a `Pipe`: capnp-rpc's `RpcSystem` driven by the loop's
//! executor, with its end reported to the host.

use std::cell::RefCell;
use std::rc::Rc;

use capnp::message::ReaderOptions;
use capnp::private::capability::ClientHook;
use capnp_rpc::rpc_twoparty_capnp::Side as TwoPartySide;
use capnp_rpc::RpcSystem;
use futures::FutureExt;

use crate::pipe::Pipe;
use crate::EventLoop;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

type Done = Box<dyn FnOnce(Result<(), capnp::Error>)>;

pub struct Connection {
    bootstrap: Box<dyn ClientHook>,
    disconnector: RefCell<Option<capnp_rpc::Disconnector<TwoPartySide>>>,
    pipe: Pipe,
    /// Keeps the pipe registered for flushing with the loop while the connection lives.
    _alive: Rc<()>,
}

impl Connection {
    /// Starts the RPC system on `pipe`; `export` is this side's bootstrap capability;
    /// `on_done` runs once when the connection ends.
    pub fn start(
        event_loop: &EventLoop,
        pipe: Pipe,
        side: Side,
        export: Option<Box<dyn ClientHook>>,
        options: ReaderOptions,
        on_done: Done,
    ) -> Rc<Connection> {
        let side = match side {
            Side::Client => TwoPartySide::Client,
            Side::Server => TwoPartySide::Server,
        };
        let network =
            crate::network::Network::new(pipe.clone(), side, options, event_loop.executor.kicker());
        let export = export.map(capnp::capability::Client::new);
        let mut system = RpcSystem::new(Box::new(network), export);
        let other = match side {
            TwoPartySide::Client => TwoPartySide::Server,
            _ => TwoPartySide::Client,
        };
        let bootstrap: capnp::capability::Client = system.bootstrap(other);
        let disconnector = system.get_disconnector();
        let alive = Rc::new(());
        event_loop.add_pipe(&alive, pipe.clone());
        let conn = Rc::new(Connection {
            bootstrap: bootstrap.hook,
            disconnector: RefCell::new(Some(disconnector)),
            pipe: pipe.clone(),
            _alive: alive,
        });
        event_loop.executor.spawn(system.map(move |r| {
            pipe.close();
            on_done(r);
        }));
        conn
    }

    pub fn bootstrap(&self) -> Box<dyn ClientHook> {
        self.bootstrap.add_ref()
    }

    /// Ends the connection (the RPC system fails pending calls and completes).
    pub fn disconnect(&self, event_loop: &EventLoop) {
        if let Some(d) = self.disconnector.borrow_mut().take() {
            event_loop.executor.spawn(d.map(|_| ()));
        }
        self.pipe.close();
    }
}
