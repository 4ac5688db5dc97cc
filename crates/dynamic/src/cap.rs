//! Capabilities inside dynamic messages: each `MessageBuilder` keeps a cap table of `Cap`s
//! (thread-safe tokens owned by whoever made them, in practice the RPC layer), and walks that
//! touch capability pointers imbue capnp's layout objects with a transient table of
//! `CapHook`s standing for those tokens.
//!
//! Real capnp-rpc clients are single-threaded (`Rc` inside) and cannot live in the
//! `Send + Sync` messages of this layer; the RPC layer maps its clients to `Cap` tokens and
//! back when it copies between its own messages and ours.

use std::any::Any;
use std::sync::Arc;

use capnp::capability::{Promise, Request};
use capnp::private::capability::{ClientHook, ParamsHook, ResultsHook};
use capnp::private::layout::CapTable;
use capnp::{any_pointer, MessageSize};
use rustc_hash::FxHashMap;

/// A capability as this layer stores it: an opaque, thread-safe token.
pub trait CapHolder: Any + Send + Sync {
    fn as_any(&self) -> &dyn Any;
}

impl std::fmt::Debug for dyn CapHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cap")
    }
}

pub type Cap = Arc<dyn CapHolder>;

/// What reading an interface pointer found.
#[derive(Clone)]
pub enum CapValue {
    /// A plain message (no cap table): pycapnp cannot read capabilities here either.
    NoTable,
    /// A null pointer (or an index the table does not hold).
    Null,
    Cap(Cap),
}

impl std::fmt::Debug for CapValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CapValue::NoTable => f.write_str("NoTable"),
            CapValue::Null => f.write_str("Null"),
            CapValue::Cap(_) => f.write_str("Cap"),
        }
    }
}

/// The identity of a token, as `CapHook::get_ptr` reports it.
pub(crate) fn cap_key(cap: &Cap) -> usize {
    Arc::as_ptr(cap) as *const () as usize
}

/// Distinguishes our hooks from capnp-rpc's (`get_brand`).
static BRAND: u8 = 0;

fn brand() -> usize {
    &BRAND as *const u8 as usize
}

/// A `ClientHook` standing for a token during one layout operation. capnp's layout code only
/// calls `add_ref`, `get_ptr` and `get_brand` on it; calls fail as a broken capability would.
pub(crate) struct CapHook(pub(crate) Cap);

fn not_callable() -> capnp::Error {
    capnp::Error::failed("a capability inside a plain message cannot be called".into())
}

impl ClientHook for CapHook {
    fn add_ref(&self) -> Box<dyn ClientHook> {
        Box::new(CapHook(self.0.clone()))
    }
    fn new_call(
        &self,
        interface_id: u64,
        method_id: u16,
        size_hint: Option<MessageSize>,
    ) -> Request<any_pointer::Owned, any_pointer::Owned> {
        capnp_rpc::new_broken_cap(not_callable())
            .hook
            .new_call(interface_id, method_id, size_hint)
    }
    fn call(
        &self,
        _interface_id: u64,
        _method_id: u16,
        _params: Box<dyn ParamsHook>,
        _results: Box<dyn ResultsHook>,
    ) -> Promise<(), capnp::Error> {
        Promise::err(not_callable())
    }
    fn get_brand(&self) -> usize {
        brand()
    }
    fn get_ptr(&self) -> usize {
        cap_key(&self.0)
    }
    fn get_resolved(&self) -> Option<Box<dyn ClientHook>> {
        None
    }
    fn when_more_resolved(&self) -> Option<Promise<Box<dyn ClientHook>, capnp::Error>> {
        None
    }
    fn when_resolved(&self) -> Promise<(), capnp::Error> {
        Promise::ok(())
    }
}

/// A transient capnp cap table for one operation over a message whose tokens are `caps`,
/// remembering every token it has seen so that hooks injected by a copy map back to tokens.
pub struct CapScope {
    pub(crate) table: CapTable,
    known: FxHashMap<usize, Cap>,
    base: usize,
}

impl CapScope {
    /// A table whose entries stand for `caps` (for reading them, or as a copy's source).
    pub fn of(caps: &[Option<Cap>]) -> CapScope {
        let mut known = FxHashMap::default();
        let table = caps
            .iter()
            .map(|c| {
                c.as_ref().map(|c| {
                    known.insert(cap_key(c), c.clone());
                    Box::new(CapHook(c.clone())) as Box<dyn ClientHook>
                })
            })
            .collect::<CapTable>();
        let base = table.len();
        CapScope { table, known, base }
    }

    /// A destination table: `len` placeholder slots, so injected hooks get the indices that
    /// follow the message's own (`take_new` returns them).
    pub fn for_writing(len: usize) -> CapScope {
        CapScope {
            table: (0..len).map(|_| None).collect(),
            known: FxHashMap::default(),
            base: len,
        }
    }

    /// Also map hooks of `other`'s tokens (a copy's source) back to their tokens.
    pub fn learn(&mut self, other: &CapScope) {
        for (k, v) in &other.known {
            self.known.insert(*k, v.clone());
        }
    }

    pub fn table(&self) -> &CapTable {
        &self.table
    }

    pub fn table_mut(&mut self) -> &mut CapTable {
        &mut self.table
    }

    /// The hooks injected since the scope was made, in index order, mapped to tokens through
    /// `map_foreign` when they are not ours (capnp-rpc clients copied in from its messages).
    pub fn take_new(
        &mut self,
        mut map_foreign: impl FnMut(Box<dyn ClientHook>) -> Option<Cap>,
    ) -> Vec<Option<Cap>> {
        let base = self.base;
        let new: Vec<_> = self.table.drain(base..).collect();
        new.into_iter()
            .map(|h| {
                h.and_then(|h| {
                    if h.get_brand() == brand() {
                        self.known.get(&h.get_ptr()).cloned()
                    } else {
                        map_foreign(h)
                    }
                })
            })
            .collect()
    }

    /// The token a hook read out of this scope's table stands for.
    pub(crate) fn token_of(&self, hook: &dyn ClientHook) -> Option<Cap> {
        if hook.get_brand() == brand() {
            self.known.get(&hook.get_ptr()).cloned()
        } else {
            None
        }
    }
}

/// Reads the capability at `pr`, a pointer of a message whose cap table is `caps` (`None`: a
/// plain message without one).
pub(crate) fn read_cap(
    pr: capnp::private::layout::PointerReader<'_>,
    caps: Option<&[Option<Cap>]>,
) -> CapValue {
    let Some(caps) = caps else {
        return CapValue::NoTable;
    };
    if pr.is_null() {
        return CapValue::Null;
    }
    let scope = CapScope::of(caps);
    let mut pr = pr;
    pr.imbue(capnp::private::layout::CapTableReader::from_ref(
        &scope.table,
    ));
    match pr.get_capability() {
        Ok(hook) => scope.token_of(&*hook).map_or(CapValue::Null, CapValue::Cap),
        Err(_) => CapValue::Null,
    }
}

/// Writes `cap` at `pb` in `message`, appending it to the message's cap table.
pub(crate) fn write_cap(
    mut pb: capnp::private::layout::PointerBuilder<'_>,
    message: &crate::message::MessageBuilder,
    cap: &Cap,
) {
    message.enable_caps();
    let mut caps = message.caps.lock().unwrap_or_else(|e| e.into_inner());
    let mut table: CapTable = (0..caps.len()).map(|_| None).collect();
    pb.imbue(capnp::private::layout::CapTableBuilder::from_ref(
        &mut table,
    ));
    pb.set_capability(Box::new(CapHook(cap.clone())));
    caps.push(Some(cap.clone()));
}
