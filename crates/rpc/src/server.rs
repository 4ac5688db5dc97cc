//! Servers implemented by the host: capnp-rpc sees a `capability::Server` whose calls go to a
//! `CallHandler` after the interface is checked against the server's interface and its
//! superclasses.

use std::ops::Deref;
use std::rc::Rc;

use capnp::any_pointer;
use capnp::capability::{DispatchCallResult, FromClientHook, FromServer, Params, Promise, Results};
use capnp::private::capability::ClientHook;

/// Handles calls of one server object.
pub trait CallHandler {
    fn call(
        &self,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> DispatchCallResult;
}

/// What the dispatcher knows of a server: the interfaces it implements (its own first, then
/// every superclass).
pub struct ServerInfo {
    pub interfaces: Vec<u64>,
}

pub(crate) struct DynServer {
    info: ServerInfo,
    handler: Box<dyn CallHandler>,
}

#[derive(Clone)]
pub(crate) struct Dispatch(Rc<DynServer>);

impl Deref for Dispatch {
    type Target = DynServer;
    fn deref(&self) -> &DynServer {
        &self.0
    }
}

impl capnp::capability::Server for Dispatch {
    fn dispatch_call(
        self,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> DispatchCallResult {
        if !self.0.info.interfaces.contains(&interface_id) {
            return DispatchCallResult::new(
                Promise::err(capnp::Error::unimplemented(format!(
                    "Requested interface not implemented: interface id {interface_id:#x}"
                ))),
                false,
            );
        }
        self.0
            .handler
            .call(interface_id, method_id, params, results)
    }

    fn as_ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as usize
    }
}

/// capnp-rpc's local-client machinery wants a typed client for a server; this is ours.
pub(crate) struct DynClient(Box<dyn ClientHook>);

impl FromClientHook for DynClient {
    fn new(hook: Box<dyn ClientHook>) -> Self {
        DynClient(hook)
    }
    fn into_client_hook(self) -> Box<dyn ClientHook> {
        self.0
    }
    fn as_client_hook(&self) -> &dyn ClientHook {
        &*self.0
    }
}

impl FromServer<DynServer> for DynClient {
    type Dispatch = Dispatch;
    fn from_server(s: Rc<DynServer>) -> Dispatch {
        Dispatch(s)
    }
}

/// A local capability served by `handler`.
pub fn new_server_client(info: ServerInfo, handler: Box<dyn CallHandler>) -> Box<dyn ClientHook> {
    let server = Rc::new(DynServer { info, handler });
    capnp_rpc::new_client_from_rc::<DynClient, DynServer>(server).0
}
