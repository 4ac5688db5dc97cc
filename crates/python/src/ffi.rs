//! The CPython calls the safe PyO3 API lacks: generic attribute lookup, and reading an `int`
//! that may not fit 64 bits without raising; and taking a Python socket's descriptor (a `dup`
//! of it, owned by Rust) for the synchronous API's reactor; the caller's frame and a loaded
//! module, for the write-once warning's check (`warning.rs`).
//!
//! Struct handles resolve fields in their own `__getattribute__` (DESIGN decision 8); every
//! other attribute (methods, properties) then needs the ordinary lookup. Reaching it through
//! `object.__getattribute__` is a Python-level call costing ~70 ns per method call;
//! `PyObject_GenericGetAttr` is the same lookup without the call.
#![allow(unsafe_code)]

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::PyClass;
use std::sync::atomic::Ordering;

/// Threads running detached from the GIL in [`detach`] (changed only while holding the GIL).
static DETACHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// `py.detach(f)` for work that may touch a message: counted in [`DETACHED`] from before the
/// GIL is released until after it is taken back, so that [`excluded`] knows whether any
/// thread may be accessing a message without it. Every release of the GIL in this package
/// that can reach a message goes through here.
pub(crate) fn detach<T: pyo3::marker::Ungil>(
    py: Python<'_>,
    f: impl pyo3::marker::Ungil + FnOnce() -> T,
) -> T {
    /// Uncounts the thread once the GIL is back (also when `f` panics: `py.detach` takes the
    /// GIL back before the unwind leaves it).
    struct Back;
    impl Drop for Back {
        fn drop(&mut self) {
            DETACHED.fetch_sub(1, Ordering::Relaxed);
        }
    }
    DETACHED.fetch_add(1, Ordering::Relaxed);
    let _back = Back;
    py.detach(f)
}

/// How many threads run detached from the GIL in [`detach`] now (tests: the count of the
/// lock-free paths' condition).
#[pyfunction]
pub(crate) fn _detached_threads() -> usize {
    DETACHED.load(Ordering::Relaxed)
}

/// The proof that lets a builder's number reads and writes skip the message lock
/// (`ListBuilder::scalar_bits_excluded`, `StructBuilder::set_number_by_index_excluded`), and
/// its group, struct and list field reads, Text and Data writes and list inits reach the
/// message's state while its lock is free (dynamic arena.rs `Access::excluded`), while no
/// thread runs detached ([`detach`]); `None` otherwise, and always on a free-threaded
/// interpreter.
pub(crate) fn excluded(_py: Python<'_>) -> Option<capnp_dynamic::Excluded> {
    if cfg!(Py_GIL_DISABLED) || DETACHED.load(Ordering::Relaxed) != 0 {
        return None;
    }
    // SAFETY: `Excluded::assume`'s contract. The GIL is held (`_py`) and the value cannot
    // leave this thread (not `Send`), so while it lives no other thread runs Python or this
    // package's code with the GIL. Without the GIL, this package touches messages only inside
    // `detach` (there are no threads of its own, and every `py.detach` that can reach a
    // message is `detach`), and none is running: the count, changed only under the GIL, is 0
    // (the GIL's release and acquisition order those changes before this load). A thread
    // starting `detach` needs the GIL first, which this thread holds until the proof is
    // dropped (it is used for one element read, one field read or write or one list init,
    // during which no Python code runs). Volatile messages,
    // whose memory Python code may write or whose lock may be held while Python code runs,
    // are declined by the reads themselves.
    Some(unsafe { capnp_dynamic::Excluded::assume() })
}

/// `object.__getattribute__(obj, name)`: the type's descriptors, then the instance dict.
pub(crate) fn generic_getattr<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    // SAFETY: both pointers are live, borrowed references held by the `Bound`s for the whole
    // call and the GIL is held (`py`). `PyObject_GenericGetAttr` returns a new reference, or
    // NULL with an exception set, which `from_owned_ptr_or_err` turns into `PyErr` without
    // touching the pointer.
    unsafe {
        let ptr = pyo3::ffi::PyObject_GenericGetAttr(obj.as_ptr(), name.as_ptr());
        Bound::from_owned_ptr_or_err(py, ptr)
    }
}

/// `obj` as an `int` (a subclass included, as PyO3's cast), checked by its type's flags
/// without making a cast error (see `getattro`).
#[inline(always)]
pub(crate) fn as_int<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
) -> Option<Borrowed<'a, 'py, pyo3::types::PyInt>> {
    // SAFETY: `obj` is live and the GIL is held (the `Bound`); `PyLong_Check` reads its
    // type's flags, and an object it accepts is an `int`.
    unsafe {
        (pyo3::ffi::PyLong_Check(obj.as_ptr()) != 0)
            .then(|| obj.as_borrowed().cast_unchecked::<pyo3::types::PyInt>())
    }
}

/// A list key's value as an index when it is an `int` (`i64::MAX`, out of range anyway, when
/// it does not fit): `index` when the caller has read it already; `None` for any other key.
#[inline(always)]
pub(crate) fn key_index(key: &Bound<'_, PyAny>, index: Option<i64>) -> Option<i64> {
    index.or_else(|| as_int(key).map(|i| int_as_i64(&i).unwrap_or(i64::MAX)))
}

/// The value of a Python `int` as an `i64`, or `None` when it does not fit — without raising
/// and discarding an `OverflowError` as `extract::<i64>()` does (that costs more than the
/// whole field write). The caller passes an `int` (`PyLong`) object.
pub(crate) fn int_as_i64(obj: &Bound<'_, pyo3::types::PyInt>) -> Option<i64> {
    let mut overflow: std::os::raw::c_int = 0;
    // SAFETY: `obj` is a live `int` borrowed for the call and the GIL is held (the `Bound`).
    // For an `int`, `PyLong_AsLongLongAndOverflow` reports a value out of range through
    // `overflow` without setting an exception; -1 with an exception set is impossible for an
    // `int`, but is still checked (and the exception cleared) below.
    let value = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    if overflow != 0 {
        return None;
    }
    if value == -1 && PyErr::take(obj.py()).is_some() {
        return None;
    }
    Some(value)
}

/// The value of a Python `int` as a `u64`, or `None` when it does not fit (negative or too
/// large) — the `OverflowError` CPython sets then is taken and dropped. For the UInt64 values
/// above `i64::MAX` that `int_as_i64` declines: PyO3's `extract::<u64>()` costs ten times
/// this (an `__index__` round trip and an error check through its own state).
pub(crate) fn int_as_u64(obj: &Bound<'_, pyo3::types::PyInt>) -> Option<u64> {
    // SAFETY (both calls): `obj` is a live `int` borrowed for the call and the GIL is held
    // (the `Bound`). They read an `int` without calling Python code; on failure they return
    // all ones with an exception set, which is taken below.
    // `PyLong_AsUnsignedLong` (a digit loop) where `unsigned long` has 64 bits; the
    // `long long` one goes through `_PyLong_AsByteArray`, several times slower. Both return
    // all ones with an exception set on failure.
    #[allow(
        clippy::useless_conversion,
        reason = "`c_ulong` is `u64` here but `u32` on Windows"
    )]
    let value = if std::mem::size_of::<std::os::raw::c_ulong>() == 8 {
        // SAFETY: as above.
        u64::from(unsafe { pyo3::ffi::PyLong_AsUnsignedLong(obj.as_ptr()) })
    } else {
        // SAFETY: as above.
        unsafe { pyo3::ffi::PyLong_AsUnsignedLongLong(obj.as_ptr()) }
    };
    if value == u64::MAX && PyErr::take(obj.py()).is_some() {
        return None;
    }
    Some(value)
}

/// A new descriptor for the socket `sock` (a `dup` of `sock.fileno()`), owned by the caller;
/// `sock` stays open and usable.
pub(crate) fn dup_socket(sock: &Bound<'_, PyAny>) -> PyResult<std::os::fd::OwnedFd> {
    use std::os::fd::BorrowedFd;
    let fd: i32 = sock.call_method0("fileno")?.extract()?;
    if fd < 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "the socket is closed",
        ));
    }
    // SAFETY: `fd` is the descriptor of the live socket object `sock`, which this call holds
    // (the `Bound`) with the GIL, so no Python code can close it before `try_clone_to_owned`
    // has duplicated it; the borrow does not outlive this statement.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(borrowed.try_clone_to_owned()?)
}

/// The program's socket `sock` itself (its descriptor, not a copy) as a stream the reactor
/// uses only while `sock.fileno()` still names that descriptor and never closes: closing
/// `sock` then ends the connection for the peer at once, as it did under pycapnp 1.x.
pub(crate) fn borrowed_socket(
    sock: &Bound<'_, PyAny>,
    is_unix: bool,
) -> PyResult<capnp_dynrpc::Stream> {
    use std::os::fd::FromRawFd;
    let fileno = sock.getattr(pyo3::intern!(sock.py(), "fileno"))?.unbind();
    let fd: i32 = fileno.call0(sock.py())?.extract(sock.py())?;
    if fd < 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "the socket is closed",
        ));
    }
    // Asked (with the interpreter lock: the reactor runs on this thread and uses sockets only
    // while holding it) before every use: `socket.close()` sets its descriptor to -1 while
    // holding the lock, before the descriptor is closed. A `socket.socket` (the usual case)
    // is asked by reading its descriptor field; anything else through `fileno()`.
    let still_open: capnp_dynrpc::StillOpen = match socket_fd_field(sock) {
        Some(field) => Box::new(move || field.read() == fd),
        None => Box::new(move || {
            Python::attach(|py| {
                fileno
                    .call0(py)
                    .and_then(|now| now.extract::<i32>(py))
                    .is_ok_and(|now| now == fd)
            })
        }),
    };
    // SAFETY: `fd` is the open descriptor of the live socket `sock` (just read with the
    // interpreter lock held). The `OwnedFd` made from it is never dropped: `Stream::borrowed`
    // holds it undroppable until wrapped, and a borrowed `Stream` forgets its descriptor when
    // dropped instead of closing it; and it is used only while `still_open` says `sock` has
    // not been closed (the reactor asks before every use, reactor.rs `Stream::usable`).
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    Ok(capnp_dynrpc::Stream::borrowed(owned, is_unix, still_open)?)
}

/// The descriptor field of a `_socket.socket` object (CPython's `PySocketSockObject`:
/// `PyObject_HEAD`, then `SOCKET_T sock_fd`, an `int` on POSIX), read in place: what
/// `fileno()` returns, without a call.
pub(crate) struct SocketFdField(Py<PyAny>);

impl SocketFdField {
    /// The descriptor `fileno()` would return now. Called with the interpreter lock held
    /// (the reactor's thread, which holds it whenever it uses a socket).
    pub(crate) fn read(&self) -> i32 {
        // SAFETY: `self.0` is a live (owned reference) instance of `_socket.socket` or a
        // subclass (subclasses only append to the struct), whose struct is larger than
        // `PyObject_HEAD` plus an `int`, so the read is in bounds; that this `int` is the
        // descriptor was checked on this interpreter by `socket_layout_checked` before any
        // other `SocketFdField` is made. The field is written only with the interpreter lock
        // held, which the caller holds.
        unsafe {
            let at = self
                .0
                .as_ptr()
                .cast::<u8>()
                .add(std::mem::size_of::<pyo3::ffi::PyObject>());
            std::ptr::read(at.cast::<std::ffi::c_int>())
        }
    }
}

/// `_socket.socket`, if reading the descriptor field in place gives what `fileno()` gives on
/// this interpreter (checked once on a fresh socket, open and then closed).
fn socket_layout_checked(py: Python<'_>) -> Option<&'static Py<pyo3::types::PyType>> {
    static CHECKED: pyo3::sync::PyOnceLock<Option<Py<pyo3::types::PyType>>> =
        pyo3::sync::PyOnceLock::new();
    CHECKED
        .get_or_init(py, || {
            let check = || -> PyResult<Option<Py<pyo3::types::PyType>>> {
                let module = py.import("_socket")?;
                let ty = module
                    .getattr("socket")?
                    .cast_into::<pyo3::types::PyType>()?;
                let probe =
                    ty.call1((module.getattr("AF_UNIX")?, module.getattr("SOCK_STREAM")?))?;
                let field = SocketFdField(probe.clone().unbind());
                let open: i32 = probe.call_method0("fileno")?.extract()?;
                let same_open = open >= 0 && field.read() == open;
                probe.call_method0("close")?;
                let same_closed = field.read() == -1;
                Ok((same_open && same_closed).then(|| ty.unbind()))
            };
            check().ok().flatten()
        })
        .as_ref()
}

/// The descriptor field of `sock`, when it is a `_socket.socket` (or a subclass: `socket.socket`)
/// and this interpreter's layout was checked.
fn socket_fd_field(sock: &Bound<'_, PyAny>) -> Option<SocketFdField> {
    let ty = socket_layout_checked(sock.py())?;
    sock.is_instance(ty.bind(sock.py()))
        .ok()?
        .then(|| SocketFdField(sock.clone().unbind()))
}

/// A frozen pyclass whose `len()` and `obj[key]` run without PyO3's trampoline
/// ([`install_sequence_slots`]). The methods are the same code as the class's `__len__` and
/// `__getitem__`, so the two entries behave alike.
pub(crate) trait SequenceSlots:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync
{
    /// The address of the class's type object, set by the installation (a static per class):
    /// an object of exactly that type needs no subtype check.
    fn type_addr() -> &'static std::sync::atomic::AtomicUsize;
    fn slot_len(&self, py: Python<'_>) -> PyResult<usize>;
    /// `len()` when it is known at once and cannot fail (a list whose location is
    /// recorded), else `None`. It runs outside `lean_slot`'s panic guard, so it must not
    /// panic: plain loads and comparisons only.
    fn quick_len(&self) -> Option<usize> {
        None
    }
    /// `obj[key]`; `index` is `key`'s value when the caller has read it already (an exact
    /// `int` within `i64`), else `None` (the method reads it).
    fn slot_item(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        index: Option<i64>,
    ) -> PyResult<Py<PyAny>>;
    /// `obj[index]` for an `int` index when it is known at once (an element of a list of
    /// Bool or numbers, or ASCII Text or Data, read where its location is recorded): a raw
    /// new reference, or NULL with an exception set when the object cannot be allocated;
    /// `None` otherwise, and for an index out of range (`slot_item` then runs, and raises
    /// what it must). It runs outside `lean_slot`'s panic guard, so it must not panic.
    fn quick_item(&self, _py: Python<'_>, _index: i64) -> Option<*mut pyo3::ffi::PyObject> {
        None
    }
    /// Whether `quick_item` may answer (asked before the index is read: a plain load, no
    /// panic).
    fn quick_items(&self) -> bool {
        false
    }
}

/// A Bool's or number's raw bits (as a list's elements hold them) as a Python object; `None`
/// for any other type (`convert::scalar_to_py`).
#[inline(always)]
pub(crate) fn scalar_object(
    py: Python<'_>,
    ty: &capnp_dynamic::Type,
    bits: u64,
) -> PyResult<Option<Py<PyAny>>> {
    // SAFETY: the GIL is held (`py`); `scalar_object_raw` returns a new reference or NULL
    // with an exception set, which `from_owned_ptr_or_err` takes over or raises.
    scalar_object_raw(py, ty, bits)
        .map(|ptr| unsafe { Bound::from_owned_ptr_or_err(py, ptr) }.map(Bound::unbind))
        .transpose()
}

/// A Bool's or number's raw bits (as a list's elements hold them) as a raw new reference, or
/// NULL with an exception set when the object cannot be allocated; `None` for any other
/// type. Never panics (for the quick slots).
#[inline(always)]
pub(crate) fn scalar_object_raw(
    _py: Python<'_>,
    ty: &capnp_dynamic::Type,
    bits: u64,
) -> Option<*mut pyo3::ffi::PyObject> {
    use capnp_dynamic::Type;
    use std::os::raw::{c_long, c_ulong};
    // SAFETY: the GIL is held (`_py`). Each constructor returns a new reference or NULL with
    // an exception set; `True`/`False` are static singletons, never freed, and a new
    // reference is made to the one returned. (`c_long` is at least 32 bits wide everywhere,
    // so the narrower values convert losslessly.)
    unsafe {
        Some(match ty {
            Type::Bool => {
                let object = if bits & 1 != 0 {
                    pyo3::ffi::Py_True()
                } else {
                    pyo3::ffi::Py_False()
                };
                pyo3::ffi::Py_INCREF(object);
                object
            }
            Type::Int8 => pyo3::ffi::PyLong_FromLong(c_long::from(bits as u8 as i8)),
            Type::Int16 => pyo3::ffi::PyLong_FromLong(c_long::from(bits as u16 as i16)),
            Type::Int32 => pyo3::ffi::PyLong_FromLong(c_long::from(bits as u32 as i32)),
            Type::Int64 => pyo3::ffi::PyLong_FromLongLong(bits as i64),
            Type::UInt8 => pyo3::ffi::PyLong_FromLong(c_long::from(bits as u8)),
            Type::UInt16 => pyo3::ffi::PyLong_FromLong(c_long::from(bits as u16)),
            Type::UInt32 => pyo3::ffi::PyLong_FromUnsignedLong(c_ulong::from(bits as u32)),
            Type::UInt64 => pyo3::ffi::PyLong_FromUnsignedLongLong(bits),
            Type::Float32 => pyo3::ffi::PyFloat_FromDouble(f64::from(f32::from_bits(bits as u32))),
            Type::Float64 => pyo3::ffi::PyFloat_FromDouble(f64::from_bits(bits)),
            _ => return None,
        })
    }
}

/// The panic message as PyO3's trampoline reports it (`PanicException`).
#[cold]
pub(crate) fn panic_error(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let message = if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "panic from Rust code".to_string()
    };
    pyo3::panic::PanicException::new_err((message,))
}

/// Runs `body` as a slot body: a panic becomes `PanicException`, never an unwind into C.
/// Unlike PyO3's trampoline it does not count the thread as attached in PyO3's thread-local
/// (two `__tls_get_addr` calls and a pool check per call, a third of a `len()`). A `Py`
/// dropped while the count is zero is not released at once but queued in PyO3's reference
/// pool until the next PyO3 entry, so the bodies must drop none: their success paths drop
/// no `Py` (they hand out or borrow every object they make), and their errors are returned,
/// not dropped, and restored here inside `Python::attach` (which counts the thread as
/// attached: the error's objects are released at once).
///
/// SAFETY (for callers): the thread must hold the GIL, as every type slot's caller does.
#[inline(always)]
unsafe fn lean_slot<R>(error: R, body: impl FnOnce(Python<'_>) -> PyResult<R>) -> R {
    // SAFETY: CPython calls type slots only from a thread holding the GIL (the caller's
    // contract).
    let py = unsafe { Python::assume_attached() };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(py))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => {
            Python::attach(|py| e.restore(py));
            error
        }
        Err(payload) => {
            Python::attach(|py| panic_error(payload).restore(py));
            error
        }
    }
}

/// `obj` as an instance of `T`: a pointer comparison with `T`'s type (`type_addr`, 0 before
/// installation) when it is exactly that, else PyO3's checked cast. `None` when it is not
/// one (`not_instance` makes the error): an `Option` of a pointer stays in a register, where
/// a `PyResult` was moved through the stack (see `getattro`).
///
/// SAFETY (for callers): `obj` is a live object and the GIL is held.
#[inline(always)]
unsafe fn instance<'a, 'py, T: PyClass>(
    obj: Borrowed<'a, 'py, PyAny>,
    type_addr: usize,
) -> Option<Borrowed<'a, 'py, T>> {
    // SAFETY: `obj` is live (caller); reading its type pointer is what `Py_TYPE` is for.
    let ty = unsafe { pyo3::ffi::Py_TYPE(obj.as_ptr()) } as usize;
    if ty == type_addr && type_addr != 0 {
        // SAFETY: the object's type is `T`'s own type object, so it is a `T` instance.
        return Some(unsafe { obj.cast_unchecked::<T>() });
    }
    checked_instance(obj)
}

/// `instance`'s checked cast, out of the slots' line (any other object).
#[cold]
#[inline(never)]
fn checked_instance<'a, 'py, T: PyClass>(
    obj: Borrowed<'a, 'py, PyAny>,
) -> Option<Borrowed<'a, 'py, T>> {
    obj.cast::<T>().ok()
}

/// The error of a slot called on an object that is not a `T` (PyO3's cast error).
#[cold]
#[inline(never)]
fn not_instance<T: PyClass>(obj: Borrowed<'_, '_, PyAny>) -> PyErr {
    match obj.cast::<T>() {
        Err(e) => e.into(),
        Ok(_) => pyo3::exceptions::PySystemError::new_err("slot called on an unexpected object"),
    }
}

/// `sq_length` / `mp_length` of a [`SequenceSlots`] class: the quick length, without the
/// panic guard's frame; anything else goes through [`sq_length_guarded`].
unsafe extern "C" fn sq_length<T: SequenceSlots>(slf: *mut pyo3::ffi::PyObject) -> isize {
    // SAFETY: a slot is called with the GIL held and `slf` a live object whose type has this
    // slot, which only `T`'s type has ([`final_slot_owner`]): `slf` is a `T` instance, so
    // the unchecked cast is sound. The `Python` token is true: the GIL is held. `quick_len`
    // cannot panic (its contract), so nothing unwinds into C; it makes and drops no Python
    // object.
    unsafe {
        // CPython never calls a slot with no object (what lets `from_ptr` skip its check).
        std::hint::assert_unchecked(!slf.is_null());
        let py = Python::assume_attached();
        let this = Borrowed::from_ptr(py, slf).cast_unchecked::<T>();
        if let Some(n) = this.get().quick_len().and_then(|n| isize::try_from(n).ok()) {
            return n;
        }
        sq_length_guarded::<T>(slf)
    }
}

/// `len()` through the class's own `slot_len`, under `lean_slot`'s panic guard. An
/// `extern "C"` function (it cannot unwind), so `sq_length` reaches it by a tail call.
#[inline(never)]
unsafe extern "C" fn sq_length_guarded<T: SequenceSlots>(slf: *mut pyo3::ffi::PyObject) -> isize {
    // SAFETY: a slot is called with the GIL held and `slf` a live object of a type that has
    // this slot: `T`'s type (the classes are final, so no subclass inherits it); the cast is
    // still checked.
    unsafe {
        lean_slot(-1, |py| {
            let obj = Borrowed::from_ptr(py, slf);
            let Some(this) = instance::<T>(obj, T::type_addr().load(Ordering::Relaxed)) else {
                return Err(not_instance::<T>(obj));
            };
            let n = this.get().slot_len(py)?;
            isize::try_from(n)
                .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("length too large"))
        })
    }
}

/// `mp_subscript` of a [`SequenceSlots`] class: the quick element ([`SequenceSlots::quick_item`])
/// of an object indexed by an exact `int`, without the panic guard's frame; anything else
/// goes through [`mp_subscript_guarded`].
unsafe extern "C" fn mp_subscript<T: SequenceSlots>(
    slf: *mut pyo3::ffi::PyObject,
    key: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: a slot is called with the GIL held and `slf`, `key` live objects; reading
    // `key`'s type pointer is what `Py_TYPE` is for. Only `T`'s type has this slot
    // ([`final_slot_owner`]), so `slf` is a `T` instance and the unchecked cast is sound;
    // `quick_items` is a plain load that cannot panic. The quick element is asked for only
    // with `key` exactly an `int`. What either callee returns is handed to the caller as it
    // is.
    unsafe {
        // CPython never calls a slot with no object (what lets `from_ptr` skip its check).
        std::hint::assert_unchecked(!slf.is_null());
        let this = Borrowed::from_ptr(Python::assume_attached(), slf).cast_unchecked::<T>();
        if pyo3::ffi::PyLong_CheckExact(key) != 0 && this.get().quick_items() {
            return mp_subscript_quick::<T>(slf, key);
        }
        mp_subscript_guarded::<T>(slf, key)
    }
}

/// [`mp_subscript`]'s quick element: `slf` is exactly a `T`, `key` exactly an `int`. Its own
/// function, so that the slot saves no register on the way to the full subscript.
///
/// SAFETY (for callers): as `mp_subscript`'s, with `slf` a `T` and `key` an exact `int`.
#[inline(never)]
unsafe extern "C" fn mp_subscript_quick<T: SequenceSlots>(
    slf: *mut pyo3::ffi::PyObject,
    key: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the caller's contract (`slf`'s type is `T`'s own, so the unchecked cast is
    // sound; the GIL is held). For an `int`, `PyLong_AsLongLongAndOverflow` reports a value
    // out of range through `overflow` and sets no exception; one is still checked for, and
    // cleared (the full subscript then reads the key itself). `quick_item` cannot panic (its
    // contract); what it returns is a new reference or NULL with an exception set.
    unsafe {
        let mut overflow: std::os::raw::c_int = 0;
        let index = pyo3::ffi::PyLong_AsLongLongAndOverflow(key, &mut overflow);
        if overflow != 0 {
            return mp_subscript_guarded::<T>(slf, key);
        }
        if index == -1 && !pyo3::ffi::PyErr_Occurred().is_null() {
            pyo3::ffi::PyErr_Clear();
            return mp_subscript_guarded::<T>(slf, key);
        }
        let py = Python::assume_attached();
        let this = Borrowed::from_ptr(py, slf).cast_unchecked::<T>().get();
        if let Some(item) = this.quick_item(py, index) {
            return item;
        }
        // The full subscript, with the index read.
        mp_subscript_guarded_at::<T>(slf, key, index)
    }
}

/// `obj[key]` through the class's own `slot_item`, under `lean_slot`'s panic guard. An
/// `extern "C"` function (it cannot unwind), so `mp_subscript` reaches it by a tail call.
#[inline(never)]
unsafe extern "C" fn mp_subscript_guarded<T: SequenceSlots>(
    slf: *mut pyo3::ffi::PyObject,
    key: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the same contract.
    unsafe { subscript_guarded::<T>(slf, key, None) }
}

/// [`mp_subscript_guarded`] with `key`'s value read already (`mp_subscript_quick`).
#[inline(never)]
unsafe extern "C" fn mp_subscript_guarded_at<T: SequenceSlots>(
    slf: *mut pyo3::ffi::PyObject,
    key: *mut pyo3::ffi::PyObject,
    index: i64,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the same contract.
    unsafe { subscript_guarded::<T>(slf, key, Some(index)) }
}

/// The body of both guarded subscripts.
///
/// SAFETY (for callers): a slot's: the GIL is held, `slf` and `key` are live objects.
#[inline(always)]
unsafe fn subscript_guarded<T: SequenceSlots>(
    slf: *mut pyo3::ffi::PyObject,
    key: *mut pyo3::ffi::PyObject,
    index: Option<i64>,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: as `sq_length_guarded`; `key` is a live object borrowed for the call. The
    // returned new reference is handed to the caller (`into_ptr`).
    unsafe {
        lean_slot(std::ptr::null_mut(), |py| {
            let obj = Borrowed::from_ptr(py, slf);
            let Some(this) = instance::<T>(obj, T::type_addr().load(Ordering::Relaxed)) else {
                return Err(not_instance::<T>(obj));
            };
            let key = Borrowed::from_ptr(py, key);
            Ok(T::slot_item(&this, &key, index)?.into_ptr())
        })
    }
}

/// Whether the lean slots installed on `tp` (`sq_length`, `mp_subscript`, `tp_iternext`)
/// may take their object to be an instance of `tp`'s class without checking. CPython calls
/// a type's slot with an object whose type pointer is that type or a subclass that inherited
/// the slot. So it suffices that `tp` is a heap type (its slot tables lie in its own type
/// object: setting one sets it for `tp` alone), is final (no `Py_TPFLAGS_BASETYPE`: no
/// subclass can exist), and that no object of another layout can be given `tp` as its
/// `__class__`: CPython refuses that assignment (`compatible_for_assignment`) between
/// classes whose instances carry fields beyond their base's, a `__dict__`, a weak-reference
/// list and `__slots__`, which the last check below makes true of `tp`.
///
/// SAFETY (for callers): `tp` is a live type object and the GIL is held.
unsafe fn final_slot_owner(tp: *mut pyo3::ffi::PyTypeObject) -> bool {
    // SAFETY: the caller's: `tp` and its base are live type objects (a type keeps its base).
    unsafe {
        let flags = (*tp).tp_flags;
        let base = (*tp).tp_base;
        flags & pyo3::ffi::Py_TPFLAGS_HEAPTYPE != 0
            && flags & pyo3::ffi::Py_TPFLAGS_BASETYPE == 0
            && !base.is_null()
            && (*tp).tp_dictoffset == 0
            && (*tp).tp_weaklistoffset == 0
            && (*tp).tp_basicsize > (*base).tp_basicsize
    }
}

/// Replaces the `len()` and subscript slots PyO3 gave `T`'s type by the lean ones above.
/// Called once, at module initialization, before any instance exists.
pub(crate) fn install_sequence_slots<T: SequenceSlots>(py: Python<'_>) -> PyResult<()> {
    let ty = T::type_object(py);
    let tp = ty.as_type_ptr();
    // SAFETY: `tp` is the live type object PyO3 created for `T` (kept alive by `ty`), and the
    // GIL is held. PyO3 makes heap types (`PyType_FromSpec`), whose `tp_as_sequence` and
    // `tp_as_mapping` point into the type object's own writable memory; changing a slot
    // there and then calling `PyType_Modified` is what CPython does itself when a class's
    // `__getitem__` is assigned. The checks below refuse anything else. `T` is not
    // subclassable, so no other type copied the old slots.
    unsafe {
        let seq = (*tp).tp_as_sequence;
        let map = (*tp).tp_as_mapping;
        if !final_slot_owner(tp)
            || seq.is_null()
            || map.is_null()
            || (*seq).sq_length.is_none()
            || (*map).mp_subscript.is_none()
        {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "list class without the expected sequence slots",
            ));
        }
        (*seq).sq_length = Some(sq_length::<T>);
        if (*map).mp_length.is_some() {
            (*map).mp_length = Some(sq_length::<T>);
        }
        (*map).mp_subscript = Some(mp_subscript::<T>);
        pyo3::ffi::PyType_Modified(tp);
    }
    T::type_addr().store(tp as usize, Ordering::Relaxed);
    Ok(())
}

/// A frozen pyclass whose `next()` runs without PyO3's trampoline ([`install_iternext_slot`]).
/// `slot_next` is the same code as the class's `__next__`, so the two entries behave alike.
pub(crate) trait IterSlot:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync
{
    /// As [`SequenceSlots::type_addr`].
    fn type_addr() -> &'static std::sync::atomic::AtomicUsize;
    /// The next item, or `None` at the end (`StopIteration`).
    fn slot_next(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>>;
    /// The next item when it is known at once (as [`SequenceSlots::quick_item`]): a raw new
    /// reference, or NULL with an exception set when the object cannot be allocated; `None`
    /// otherwise, the end included (`slot_next` then runs). It runs outside `lean_slot`'s
    /// panic guard, so it must not panic.
    fn quick_next(&self, _py: Python<'_>) -> Option<*mut pyo3::ffi::PyObject> {
        None
    }
}

/// `tp_iternext` of an [`IterSlot`] class: NULL without an exception at the end, as
/// CPython's own iterators end.
unsafe extern "C" fn tp_iternext<T: IterSlot>(
    slf: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: as `mp_subscript`: a slot is called with the GIL held and `slf` a live object
    // whose type has this slot, which only `T`'s type has ([`final_slot_owner`]), so the
    // unchecked cast is sound. `quick_next` cannot panic (its contract); what either callee
    // returns is handed on as it is.
    unsafe {
        // CPython never calls a slot with no object (what lets `from_ptr` skip its check).
        std::hint::assert_unchecked(!slf.is_null());
        let py = Python::assume_attached();
        let this = Borrowed::from_ptr(py, slf).cast_unchecked::<T>();
        if let Some(item) = this.get().quick_next(py) {
            return item;
        }
        tp_iternext_guarded::<T>(slf)
    }
}

/// [`tp_iternext`]'s full step, under `lean_slot`'s panic guard. An `extern "C"` function (it
/// cannot unwind), so `tp_iternext` reaches it by a tail call.
#[inline(never)]
unsafe extern "C" fn tp_iternext_guarded<T: IterSlot>(
    slf: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: as `mp_subscript`: a slot is called with the GIL held and `slf` a live object
    // of a type that has this slot (`T`'s, final); the cast is checked. The returned new
    // reference is handed to the caller (`into_ptr`); the end is NULL with no exception set.
    unsafe {
        lean_slot(std::ptr::null_mut(), |py| {
            let obj = Borrowed::from_ptr(py, slf);
            let Some(this) = instance::<T>(obj, T::type_addr().load(Ordering::Relaxed)) else {
                return Err(not_instance::<T>(obj));
            };
            Ok(match this.get().slot_next(py)? {
                Some(item) => item.into_ptr(),
                None => std::ptr::null_mut(),
            })
        })
    }
}

/// Replaces the `tp_iternext` PyO3 gave `T`'s type by the lean one above. Called once, at
/// module initialization, before any instance exists.
pub(crate) fn install_iternext_slot<T: IterSlot>(py: Python<'_>) -> PyResult<()> {
    let ty = T::type_object(py);
    let tp = ty.as_type_ptr();
    // SAFETY: as `install_sequence_slots`: `tp` is the live heap type PyO3 made for `T`
    // (kept alive by `ty`), the GIL is held, and `tp_iternext` is a field of the type object
    // itself, which CPython rewrites the same way when a class's `__next__` is assigned
    // (then `PyType_Modified`). `T` is not subclassable, so no other type copied the slot.
    unsafe {
        if !final_slot_owner(tp) || (*tp).tp_iternext.is_none() {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "iterator class without the expected slot",
            ));
        }
        (*tp).tp_iternext = Some(tp_iternext::<T>);
        pyo3::ffi::PyType_Modified(tp);
    }
    T::type_addr().store(tp as usize, Ordering::Relaxed);
    Ok(())
}

/// A frozen pyclass whose attribute reads try its fields first without PyO3's trampoline
/// ([`install_getattr_slot`]); every other name goes to the slot PyO3 made (its
/// `__getattribute__` then `__getattr__`), which the class keeps in [`AttrSlot::saved`].
pub(crate) trait AttrSlot:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync
{
    /// Where the replaced slot is kept (a static per class).
    fn saved() -> &'static std::sync::OnceLock<SavedGetattro>;
    /// The class's type object's address once [`getattro`] is installed (0 before): what
    /// the quick read compares an object's type with (a plain load, where `saved` is a
    /// `OnceLock`'s state check and then a load).
    fn installed_type() -> &'static std::sync::atomic::AtomicUsize;
    /// The attribute `name` when the class resolves it itself (a field, `which`), else
    /// `Ok(None)`. `exact`: the object's type is the class itself, not a Python subclass
    /// (which may define attributes of its own).
    /// `looked`: the name cache's answer for `name` with the object's schema when the quick
    /// read already asked it (no Python code ran since), else `None`.
    fn slot_getattr(
        slf: &Bound<'_, Self>,
        name: &Bound<'_, PyString>,
        exact: bool,
        looked: Option<Option<CachedName>>,
    ) -> PyResult<Option<Py<PyAny>>>;

    /// The common read answered before anything else: `name` is a primitive field met
    /// before (`NAME_CACHE`, compared by address) and the struct's location answers at once.
    /// It runs outside the panic guard, so it must not panic: loads, comparisons and
    /// [`CachedName::prim_object_quick`] only.
    fn quick_getattr(slf: Borrowed<'_, '_, Self>, name: *mut pyo3::ffi::PyObject) -> Quick;
}

/// What [`AttrSlot::quick_getattr`] found.
pub(crate) enum Quick {
    /// The attribute: a new reference, or NULL with an exception set.
    Done(*mut pyo3::ffi::PyObject),
    /// A primitive field's bits whose object the entry does not keep: made out of line
    /// ([`CachedName::prim_object_made`]).
    Make(CachedName, capnp_dynamic::struct_::PrimSlot, u64),
    /// Not answered: the full read, with the name cache's answer (asked already).
    Full(Option<CachedName>),
}

/// The `tp_getattro` PyO3 made for a class, and the class's type object (for `exact`).
pub(crate) struct SavedGetattro {
    getattro: unsafe extern "C" fn(
        *mut pyo3::ffi::PyObject,
        *mut pyo3::ffi::PyObject,
    ) -> *mut pyo3::ffi::PyObject,
    /// Compared by address only; the type lives as long as the module (PyO3 keeps it).
    type_addr: usize,
}

/// `object.__getattribute__(obj, name)` for a lean slot body: the attribute, or `None` when
/// the lookup failed — its exception is taken and dropped inside `Python::attach` (see
/// `lean_slot`: no `Py` may be dropped while PyO3 does not count the thread as attached), so
/// the caller can hand the name to the PyO3 slot, which raises the right error.
pub(crate) fn generic_getattr_lean<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyAny>> {
    let py = obj.py();
    // SAFETY: as `generic_getattr`.
    let ptr = unsafe { pyo3::ffi::PyObject_GenericGetAttr(obj.as_ptr(), name.as_ptr()) };
    if ptr.is_null() {
        Python::attach(|py| drop(PyErr::take(py)));
        return None;
    }
    // SAFETY: a new reference returned by CPython, owned from here on.
    Some(unsafe { Bound::from_owned_ptr(py, ptr) })
}

/// A method of an [`AttrSlot`] class read as an attribute (`b.init`, `r.to_bytes`): the
/// bound method `object.__getattribute__` makes, from the class's method descriptor found
/// by the name's address ([`METHOD_CACHE`]), without the type lookup, the instance-dict check
/// or the full read's name decoding. `None` when the cache has no current entry.
///
/// SAFETY (for callers): the GIL is held, `slf` is a live object of exactly the class whose
/// type is `tp`, `name` a live object.
#[inline(always)]
unsafe fn method_quick(
    slf: *mut pyo3::ffi::PyObject,
    name: *mut pyo3::ffi::PyObject,
    tp: *mut pyo3::ffi::PyTypeObject,
) -> Option<*mut pyo3::ffi::PyObject> {
    let entry = method_entry(name, tp);
    // SAFETY: `tp` is a live type object (the caller's): reading its version tag and flags.
    // An entry whose name, type and version tag match holds (a strong reference to) the
    // method descriptor the type's own dictionary held under that name when the tag was
    // current; the tag being unchanged and non-zero, and the type's valid-tag flag as it was
    // then, the type was not modified since (on every change of the type or of a base,
    // `PyType_Modified`, CPython 3.9 to 3.12 clear that flag — 3.9 keeps the old tag until
    // the next lookup gives a new one — and 3.10 and later set the tag to 0; 3.13 no longer
    // sets the flag at all, so an entry filled there expects it clear), so the same lookup
    // would find the same descriptor, and the instance has no
    // `__dict__` (none of the classes has one) that could hide it. The descriptor is a
    // `method_descriptor` (checked when the entry was filled), whose `tp_descr_get` makes a
    // bound built-in method and runs no Python code; it returns a new reference or NULL with
    // an exception set, as this slot does.
    unsafe {
        let tag = (*tp).tp_version_tag;
        if entry.name.load(Ordering::Relaxed) != name
            || entry.ty.load(Ordering::Relaxed) != tp
            || entry.version.load(Ordering::Relaxed) != tag
            || tag == 0
            || ((*tp).tp_flags & VALID_VERSION_TAG != 0) != entry.valid_flag.load(Ordering::Relaxed)
        {
            return None;
        }
        let descr = entry.descr.load(Ordering::Relaxed);
        if bound_supported((*descr.cast::<pyo3::ffi::PyMethodDescrObject>()).d_method) {
            if let Some(bound) = bound_new(slf, descr) {
                return Some(bound);
            }
        }
        let get = (*pyo3::ffi::Py_TYPE(descr)).tp_descr_get?;
        Some(get(descr, slf, tp.cast()))
    }
}

/// Method descriptors of the [`AttrSlot`] classes by name object and type ([`method_quick`]),
/// direct-mapped by both addresses. An entry owns a strong reference to its name (an exact
/// `str`) and to its descriptor, so neither address can be reused by another object while it
/// holds them; the type lives as long as the module. Read and filled only by the attribute
/// slots, with the GIL held (the module does not declare itself free of the GIL), as
/// [`NAME_CACHE`]; the atomics only make each access well defined.
const METHOD_CACHE_SIZE: usize = 64;

struct MethodEntry {
    name: std::sync::atomic::AtomicPtr<pyo3::ffi::PyObject>,
    ty: std::sync::atomic::AtomicPtr<pyo3::ffi::PyTypeObject>,
    version: std::sync::atomic::AtomicU32,
    /// Whether the type's `VALID_VERSION_TAG` flag was set when the entry was filled.
    valid_flag: std::sync::atomic::AtomicBool,
    descr: std::sync::atomic::AtomicPtr<pyo3::ffi::PyObject>,
}

/// CPython's `Py_TPFLAGS_VALID_VERSION_TAG` (1 << 19 in 3.9-3.13).
const VALID_VERSION_TAG: std::ffi::c_ulong = 1 << 19;

#[allow(
    clippy::declare_interior_mutable_const,
    reason = "the initializer of each entry"
)]
const EMPTY_METHOD: MethodEntry = MethodEntry {
    name: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
    ty: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
    version: std::sync::atomic::AtomicU32::new(0),
    valid_flag: std::sync::atomic::AtomicBool::new(false),
    descr: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
};

static METHOD_CACHE: [MethodEntry; METHOD_CACHE_SIZE] = [EMPTY_METHOD; METHOD_CACHE_SIZE];

#[inline(always)]
fn method_entry(
    name: *mut pyo3::ffi::PyObject,
    tp: *mut pyo3::ffi::PyTypeObject,
) -> &'static MethodEntry {
    &METHOD_CACHE[cache_slot(name as usize, tp as usize) % METHOD_CACHE_SIZE]
}

/// A class attribute of `obj` (a method or property of its class), as
/// [`generic_getattr_lean`]; when `exact` (the object is exactly the class) and the class's
/// own dictionary holds a method descriptor under `name`, the descriptor is remembered for
/// [`method_quick`].
pub(crate) fn class_attr_lean<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    exact: bool,
) -> Option<Bound<'py, PyAny>> {
    let found = generic_getattr_lean(obj, name)?;
    if exact && name.is_exact_instance_of::<PyString>() {
        // SAFETY: the GIL is held (`obj`). `tp` is the live type of `obj`; a heap type's
        // `tp_dict` is its dictionary (non-null once the type is ready), read with a
        // borrowed result that is used only while the GIL is held and the dictionary keeps
        // it (its reference is taken before anything else runs). The version tag is read
        // after the lookup above, which assigns one when the type has none. The entry's old
        // references are released with `Py_DecRef`: a `str`'s and a method descriptor's
        // deallocation run no Python code (a descriptor's releases its type, name and
        // qualified name, which its class's dictionary no longer holding it leaves alive
        // elsewhere or plain).
        unsafe {
            let tp = pyo3::ffi::Py_TYPE(obj.as_ptr());
            let dict = (*tp).tp_dict;
            let tag = (*tp).tp_version_tag;
            if !dict.is_null() && tag != 0 {
                let descr = pyo3::ffi::PyDict_GetItemWithError(dict, name.as_ptr());
                if descr.is_null() {
                    pyo3::ffi::PyErr_Clear();
                } else if pyo3::ffi::Py_TYPE(descr)
                    == std::ptr::addr_of_mut!(pyo3::ffi::PyMethodDescr_Type)
                {
                    let entry = method_entry(name.as_ptr(), tp);
                    pyo3::ffi::Py_IncRef(name.as_ptr());
                    pyo3::ffi::Py_IncRef(descr);
                    let old_name = entry.name.swap(name.as_ptr(), Ordering::Relaxed);
                    let old_descr = entry.descr.swap(descr, Ordering::Relaxed);
                    entry.ty.store(tp, Ordering::Relaxed);
                    entry.version.store(tag, Ordering::Relaxed);
                    entry
                        .valid_flag
                        .store((*tp).tp_flags & VALID_VERSION_TAG != 0, Ordering::Relaxed);
                    if !old_name.is_null() {
                        pyo3::ffi::Py_DecRef(old_name);
                    }
                    if !old_descr.is_null() {
                        pyo3::ffi::Py_DecRef(old_descr);
                    }
                    // The same kind of bound method `method_quick` gives from now on.
                    if bound_supported((*descr.cast::<pyo3::ffi::PyMethodDescrObject>()).d_method) {
                        if let Some(Some(bound)) = bound_new(obj.as_ptr(), descr)
                            .map(|b| Bound::from_owned_ptr_or_opt(obj.py(), b))
                        {
                            return Some(bound);
                        }
                        pyo3::ffi::PyErr_Clear();
                    }
                }
            }
        }
    }
    Some(found)
}

/// `tp_getattro` of an [`AttrSlot`] class: the quick read ([`AttrSlot::quick_getattr`]) of
/// an object of exactly the class, else the full one, out of line (the common read sets up
/// no panic guard, checks no name type and carries none of the full read's code). A name
/// that is no field met before may be a method met before ([`method_quick`]).
unsafe extern "C" fn getattro<T: AttrSlot>(
    slf: *mut pyo3::ffi::PyObject,
    name: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: a slot is called with the GIL held and `slf` a live object whose type has this
    // slot; when its type pointer is `T`'s own type object (its address recorded at
    // installation, never 0) it is a `T` instance, so the unchecked cast is sound. `name` is
    // only compared by address here. `quick_getattr` returns a new reference or NULL with an
    // exception set, passed to the caller as they are.
    unsafe {
        let tp = pyo3::ffi::Py_TYPE(slf);
        if tp as usize == T::installed_type().load(Ordering::Relaxed) {
            let py = Python::assume_attached();
            let obj = Borrowed::from_ptr(py, slf).cast_unchecked::<T>();
            match T::quick_getattr(obj, name) {
                Quick::Done(result) => return result,
                Quick::Make(entry, slot, bits) => {
                    return entry.prim_object_made::<T>(slot, bits, slf, name)
                }
                Quick::Full(None) => {
                    if let Some(method) = method_quick(slf, name, tp) {
                        return method;
                    }
                    return getattro_full::<T>(slf, name, Some(None));
                }
                Quick::Full(looked) => return getattro_full::<T>(slf, name, Some(looked)),
            }
        }
    }
    // SAFETY: the same call, with the same arguments.
    unsafe { getattro_full::<T>(slf, name, None) }
}

/// [`getattro`]'s full read.
#[inline(never)]
unsafe fn getattro_full<T: AttrSlot>(
    slf: *mut pyo3::ffi::PyObject,
    name: *mut pyo3::ffi::PyObject,
    looked: Option<Option<CachedName>>,
) -> *mut pyo3::ffi::PyObject {
    let Some(saved) = T::saved().get() else {
        // Unreachable: installed only after saving. Refuse rather than guess.
        // SAFETY: the GIL is held (a slot call).
        return unsafe { lean_slot(std::ptr::null_mut(), |_| Err(not_installed())) };
    };
    // SAFETY: a slot is called with the GIL held, `slf` a live object whose type has this
    // slot: `T`'s own type object (its address recorded at installation, so the unchecked
    // cast is sound when the object's type pointer is that), or a Python subclass of it (the
    // cast is checked). `name` is a live object, cast to `str` only after `PyUnicode_Check`
    // (CPython passes only `str` names to `tp_getattro`; anything else goes to the saved
    // slot). A new reference is returned to the caller (`into_ptr`), or NULL with an
    // exception set. The saved slot is PyO3's own for this class, called with the same
    // arguments.
    unsafe {
        lean_slot(std::ptr::null_mut(), |py| {
            // Both casts checked without making a `Result`: moving one (an error's room
            // included) through the stack stalled the store-to-load forwarding of every read
            // (~30% of a primitive field read's time, none of its instructions).
            if pyo3::ffi::PyUnicode_Check(name) != 0 {
                let obj = Borrowed::from_ptr(py, slf);
                let exact = pyo3::ffi::Py_TYPE(slf) as usize == saved.type_addr;
                if let Some(this) = instance::<T>(obj, saved.type_addr) {
                    let key = Borrowed::from_ptr(py, name).cast_unchecked::<PyString>();
                    if let Some(value) = T::slot_getattr(&this, &key, exact, looked)? {
                        return Ok(value.into_ptr());
                    }
                }
            }
            // NULL with the exception set passes through as is.
            Ok((saved.getattro)(slf, name))
        })
    }
}

#[cold]
fn not_installed() -> PyErr {
    pyo3::exceptions::PySystemError::new_err("attribute slot used before installation")
}

/// Replaces the `tp_getattro` PyO3 gave `T`'s type by [`getattro`], keeping PyO3's for the
/// names the class does not resolve itself. Called once, at module initialization.
pub(crate) fn install_getattr_slot<T: AttrSlot>(py: Python<'_>) -> PyResult<()> {
    let ty = T::type_object(py);
    let tp = ty.as_type_ptr();
    // SAFETY: `tp` is the live type object PyO3 created for `T` (a heap type, checked), the
    // GIL is held. Changing `tp_getattro` and calling `PyType_Modified` is what CPython does
    // when a class's `__getattribute__` is assigned; subclasses made later inherit the new
    // slot (and reach PyO3's through it). No subclass exists yet at module initialization.
    unsafe {
        let heap = (*tp).tp_flags & pyo3::ffi::Py_TPFLAGS_HEAPTYPE != 0;
        let Some(current) = (*tp).tp_getattro.filter(|_| heap) else {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "struct class without the expected attribute slot",
            ));
        };
        let saved = SavedGetattro {
            getattro: current,
            type_addr: tp as usize,
        };
        if T::saved().set(saved).is_err() {
            // Installed already (the slot in place is ours).
            return Ok(());
        }
        T::installed_type().store(tp as usize, Ordering::Relaxed);
        (*tp).tp_getattro = Some(getattro::<T>);
        pyo3::ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// A frozen pyclass whose attribute writes of plain values to its fields skip PyO3's
/// trampoline ([`install_setattr_slot`]); everything else (other values, other names,
/// deletion) goes to the slot PyO3 made, which the class keeps in [`SetAttrSlot::saved_set`].
pub(crate) trait SetAttrSlot:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync
{
    /// Where the replaced slot is kept (a static per class).
    fn saved_set() -> &'static std::sync::OnceLock<SavedSetattro>;
    /// Sets `name` to `value` when the class does it itself (`Ok(true)`), exactly as PyO3's
    /// slot would; `Ok(false)` hands the write to PyO3's slot. Must drop no `Py` (see
    /// `lean_slot`).
    fn slot_setattr(
        slf: &Bound<'_, Self>,
        name: &Bound<'_, PyString>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool>;
}

type SetattroFn = unsafe extern "C" fn(
    *mut pyo3::ffi::PyObject,
    *mut pyo3::ffi::PyObject,
    *mut pyo3::ffi::PyObject,
) -> std::os::raw::c_int;

/// The `tp_setattro` PyO3 made for a class, and the class's type object.
pub(crate) struct SavedSetattro {
    setattro: SetattroFn,
    /// Compared by address only; the type lives as long as the module (PyO3 keeps it).
    type_addr: usize,
}

/// `tp_setattro` of a [`SetAttrSlot`] class.
unsafe extern "C" fn setattro<T: SetAttrSlot>(
    slf: *mut pyo3::ffi::PyObject,
    name: *mut pyo3::ffi::PyObject,
    value: *mut pyo3::ffi::PyObject,
) -> std::os::raw::c_int {
    let Some(saved) = T::saved_set().get() else {
        // Unreachable: installed only after saving. Refuse rather than guess.
        // SAFETY: the GIL is held (a slot call).
        return unsafe { lean_slot(-1, |_| Err(not_installed())) };
    };
    if value.is_null() {
        // Deletion: PyO3's slot, with the same arguments.
        // SAFETY: as below.
        return unsafe { (saved.setattro)(slf, name, value) };
    }
    // SAFETY: a slot is called with the GIL held, `slf` a live object whose type has this
    // slot (`T`'s type or a Python subclass of it: the cast is checked), `name` and `value`
    // live objects (the name is cast to `str` after `PyUnicode_Check`). Returns 0, or -1
    // with an exception set. The saved slot is PyO3's own for this class, called with the
    // same arguments.
    unsafe {
        lean_slot(-1, |py| {
            let obj = Borrowed::from_ptr(py, slf);
            // Checked without making a `Result` (see `getattro`).
            if pyo3::ffi::PyUnicode_Check(name) != 0 {
                if let Some(this) = instance::<T>(obj, saved.type_addr) {
                    let key = Borrowed::from_ptr(py, name).cast_unchecked::<PyString>();
                    let value = Borrowed::from_ptr(py, value);
                    if T::slot_setattr(&this, &key, &value)? {
                        return Ok(0);
                    }
                }
            }
            // -1 with the exception set passes through as is.
            Ok((saved.setattro)(slf, name, value))
        })
    }
}

/// Replaces the `tp_setattro` PyO3 gave `T`'s type by [`setattro`], keeping PyO3's for the
/// writes the class does not do itself. The type's `__setattr__` and `__delattr__` wrappers
/// (what `T.__setattr__(obj, ...)` and a subclass's `super().__setattr__(...)` call) wrap the
/// slot function, and CPython checks that the function they wrap is the type's slot before
/// calling it; they are re-pointed at the new slot. Called once, at module initialization.
pub(crate) fn install_setattr_slot<T: SetAttrSlot>(py: Python<'_>) -> PyResult<()> {
    let ty = T::type_object(py);
    let tp = ty.as_type_ptr();
    let broken = || {
        pyo3::exceptions::PySystemError::new_err(
            "struct class without the expected attribute-write slot",
        )
    };
    // SAFETY: `tp` is the live type object PyO3 created for `T` (a heap type, checked), the
    // GIL is held. The wrappers are read from the type's own dict (borrowed references, kept
    // alive by it), checked to be wrapper descriptors (their layout is
    // `PyWrapperDescrObject`) wrapping PyO3's slot; each was made for this type alone when
    // it was created (CPython's `add_operators`), so changing the function it wraps to one
    // of the same signature changes nothing else. Changing `tp_setattro` and calling
    // `PyType_Modified` is what CPython does when a class's `__setattr__` is assigned;
    // subclasses made later inherit the new slot. No subclass exists yet.
    unsafe {
        let heap = (*tp).tp_flags & pyo3::ffi::Py_TPFLAGS_HEAPTYPE != 0;
        let Some(current) = (*tp).tp_setattro.filter(|_| heap) else {
            return Err(broken());
        };
        let dict = (*tp).tp_dict;
        if dict.is_null() {
            return Err(broken());
        }
        let mut wrappers = Vec::with_capacity(2);
        for name in [c"__setattr__", c"__delattr__"] {
            let d = pyo3::ffi::PyDict_GetItemString(dict, name.as_ptr());
            if d.is_null()
                || pyo3::ffi::Py_TYPE(d) != std::ptr::addr_of_mut!(pyo3::ffi::PyWrapperDescr_Type)
            {
                return Err(broken());
            }
            let d = d.cast::<pyo3::ffi::PyWrapperDescrObject>();
            if (*d).d_wrapped != current as *mut std::os::raw::c_void {
                return Err(broken());
            }
            wrappers.push(d);
        }
        let saved = SavedSetattro {
            setattro: current,
            type_addr: tp as usize,
        };
        if T::saved_set().set(saved).is_err() {
            // Installed already (the slot in place is ours).
            return Ok(());
        }
        let new: SetattroFn = setattro::<T>;
        for d in wrappers {
            (*d).d_wrapped = new as *mut std::os::raw::c_void;
        }
        (*tp).tp_setattro = Some(new);
        pyo3::ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// Struct element `index` of the list object `list`, as its subscript makes it, but borrowing
/// the list's shared part (dynamic `list/lent.rs`) while the element's object keeps `list`
/// alive: one atomic reference count less each way. `Ok(None)`: not a located struct list.
pub(crate) fn lent_reader_element(
    list: &Bound<'_, crate::list::PyListReader>,
    index: i64,
) -> crate::error::MsgResult<Option<Py<PyAny>>> {
    let py = list.py();
    let this = list.get();
    // SAFETY: `this.inner` belongs to the Python object `list` (a frozen pyclass: only ever
    // borrowed, never moved out, dropped only with the object). The handle goes straight into
    // a `PyStructReader` whose `keep` holds a strong reference to `list` and which drops the
    // handle before `keep` (field order); there it is only borrowed (its clones are counted,
    // independent handles). If the object cannot be made, the handle is dropped here, while
    // the caller still borrows `list`.
    let Some(element) = (unsafe { this.inner.struct_element_lent(index) })? else {
        return Ok(None);
    };
    let registry = this.registry.clone_ref(py);
    Ok(Some(crate::struct_::PyStructReader::wrap_lent(
        py,
        element,
        registry,
        list.as_any(),
    )?))
}

/// As [`lent_reader_element`], for a builder list (`ListBuilder::struct_element_fast`).
pub(crate) fn lent_builder_element(
    list: &Bound<'_, crate::list::PyListBuilder>,
    index: i64,
) -> capnp_dynamic::Result<Option<PyResult<Py<PyAny>>>> {
    let py = list.py();
    let this = list.get();
    // SAFETY: as in `lent_reader_element`, with `PyStructBuilder` and its `keep`.
    let Some(element) = (unsafe { this.inner.struct_element_fast_lent(index) })? else {
        return Ok(None);
    };
    let registry = this.registry.clone_ref(py);
    Ok(Some(crate::struct_::PyStructBuilder::wrap_lent(
        py,
        element,
        registry,
        list.as_any(),
    )))
}

/// List field `index` of the struct object `owner`, as `StructBuilder::list_fast` reads it
/// (`size` `None`) or `init_list_fast` makes it (`Some(n)`), but borrowing the struct's base
/// (dynamic `list/lent.rs`) while the list's object keeps `owner` alive: one atomic reference
/// count less each way. `Ok(None)` when those would give none.
pub(crate) fn lent_builder_list(
    owner: &Bound<'_, crate::struct_::PyStructBuilder>,
    index: usize,
    size: Option<u32>,
) -> crate::error::MsgResult<Option<Py<PyAny>>> {
    let py = owner.py();
    let this = owner.get();
    // SAFETY: `this.inner` belongs to the Python object `owner` (a frozen pyclass: only ever
    // borrowed, never moved out, dropped only with the object). The handle goes straight into
    // a `PyListBuilder` whose `keep` holds a strong reference to `owner` and which drops the
    // handle before `keep` (field order); there it is only borrowed (its clones and children
    // are counted, independent handles). If the object cannot be made, the handle is dropped
    // here, while the caller still borrows `owner`.
    let made = unsafe {
        match size {
            None => this.inner.list_fast_lent(excluded(py).as_mut(), index)?,
            // Without the message lock when nothing else can touch the message (the proof
            // lives for this statement only, during which no Python code runs).
            Some(n) => this
                .inner
                .init_list_fast_lent(excluded(py).as_mut(), index, n)?,
        }
    };
    let Some(list) = made else {
        return Ok(None);
    };
    let list = crate::list::PyListBuilder {
        inner: list,
        registry: this.registry.clone_ref(py),
        keep: Some(owner.clone().into_any().unbind()),
    };
    Ok(Some(crate::lean_object::new_object(py, list)?.into_any()))
}

/// As [`lent_builder_list`], for a reader's list field (`StructReader::list_fast`).
pub(crate) fn lent_reader_list(
    owner: &Bound<'_, crate::struct_::PyStructReader>,
    index: usize,
) -> crate::error::MsgResult<Option<Py<PyAny>>> {
    let py = owner.py();
    let this = owner.get();
    // SAFETY: as in `lent_builder_list`, with `PyStructReader` (whose `inner` derefs to the
    // `StructReader` it holds in place) and `PyListReader`'s `keep`.
    let Some(list) = (unsafe { this.inner.list_fast_lent(index) })? else {
        return Ok(None);
    };
    let list = crate::list::PyListReader {
        inner: list,
        registry: this.registry.clone_ref(py),
        keep: Some(owner.clone().into_any().unbind()),
    };
    Ok(Some(crate::lean_object::new_object(py, list)?.into_any()))
}

/// Struct field `index` (or, `group`, group field `index`) of the struct object `owner`, as
/// `StructReader::struct_fast` / `group_fast` read it, but borrowing the struct's base
/// (dynamic `list/lent.rs`, `OwnPair`) while the child's object keeps `owner` alive: one atomic
/// reference count less each way. `Ok(None)` when those would give none.
pub(crate) fn lent_reader_child(
    owner: &Bound<'_, crate::struct_::PyStructReader>,
    index: usize,
    group: bool,
) -> crate::error::MsgResult<Option<Py<PyAny>>> {
    let py = owner.py();
    let this = owner.get();
    // SAFETY: `this.inner` belongs to the Python object `owner` (a frozen pyclass: only ever
    // borrowed, never moved out, dropped only with the object). The handle goes straight into
    // a `PyStructReader` whose `keep` holds a strong reference to `owner` and which drops the
    // handle before `keep` (field order; `lean_object.rs` releases it first too); there it is
    // only borrowed (its clones and children are counted, independent handles). If the object
    // cannot be made, the handle is dropped here, while the caller still borrows `owner`.
    let made = unsafe {
        if group {
            this.inner.group_fast_lent(index)
        } else {
            this.inner.struct_fast_lent(index)
        }
    };
    let Some(child) = made? else {
        return Ok(None);
    };
    let registry = this.registry.clone_ref(py);
    Ok(Some(crate::struct_::PyStructReader::wrap_lent(
        py,
        child,
        registry,
        owner.as_any(),
    )?))
}

/// As [`lent_reader_child`], for a builder's struct or group field
/// (`StructBuilder::struct_fast_lent`, `group_fast_excluded_lent`: a group's location read without the
/// message lock when nothing else can touch the message, the proof dropped before the object
/// is made).
pub(crate) fn lent_builder_child(
    owner: &Bound<'_, crate::struct_::PyStructBuilder>,
    index: usize,
    group: bool,
) -> crate::error::MsgResult<Option<Py<PyAny>>> {
    let py = owner.py();
    let this = owner.get();
    // SAFETY: as in `lent_reader_child`, with `PyStructBuilder` and its `keep` (a builder
    // object's handle is released before its `keep` too: `lean_object.rs`).
    let made = unsafe {
        if group {
            this.inner
                .group_fast_excluded_lent(excluded(py).as_ref(), index)
        } else {
            this.inner.struct_fast_lent(excluded(py).as_mut(), index)
        }
    };
    let Some(child) = made? else {
        return Ok(None);
    };
    let registry = this.registry.clone_ref(py);
    Ok(Some(crate::struct_::PyStructBuilder::wrap_lent(
        py,
        child,
        registry,
        owner.as_any(),
    )?))
}

/// What one step of a coroutine gave (`send_none`).
pub(crate) enum Step<'py> {
    /// It finished with this value.
    Returned(Bound<'py, PyAny>),
    /// It is suspended at an `await` and yielded this (a future).
    Yielded(Bound<'py, PyAny>),
}

/// `f(**dict(zip(names, values)))` through vectorcall with keyword names: no dict is made here
/// (a Python function with `**kwargs` makes its own, as for any keyword call). `names` is a
/// tuple of `str` as long as `values`.
pub(crate) fn call_with_keywords<'py>(
    f: &Bound<'py, PyAny>,
    values: &[Bound<'py, PyAny>],
    names: &Bound<'py, pyo3::types::PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = f.py();
    if names.len() != values.len() {
        return Err(pyo3::exceptions::PySystemError::new_err(
            "keyword names and values differ in number",
        ));
    }
    let mut small = [std::ptr::null_mut::<pyo3::ffi::PyObject>(); 8];
    let mut large = Vec::new();
    let args: &[*mut pyo3::ffi::PyObject] = if values.len() <= small.len() {
        for (slot, v) in small.iter_mut().zip(values) {
            *slot = v.as_ptr();
        }
        &small[..values.len()]
    } else {
        large.extend(values.iter().map(|v| v.as_ptr()));
        &large
    };
    // SAFETY: the GIL is held (`py`); `f`, every value and `names` are live references held by
    // their `Bound`s for the call; `args` holds `values.len()` borrowed pointers (vectorcall
    // borrows its arguments), no positional ones (`nargsf` 0, no offset flag, so the callee
    // never writes before `args`), and `names` is a tuple of exactly that many `str`, as
    // vectorcall's keyword names must be (checked above for the length; every caller passes
    // interned names). The result is a new reference or NULL with an exception set.
    unsafe {
        let out = pyo3::ffi::PyObject_Vectorcall(f.as_ptr(), args.as_ptr(), 0, names.as_ptr());
        Bound::from_owned_ptr_or_err(py, out)
    }
}

/// `coro.send(None)` for a coroutine: on 3.10 and later through `PyIter_Send`, which hands back
/// the returned value without raising (and catching) `StopIteration`; what the coroutine raises
/// is the `Err`.
pub(crate) fn send_none<'py>(coro: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    let py = coro.py();
    #[cfg(Py_3_10)]
    {
        use pyo3::ffi::{PyIter_Send, PySendResult, Py_None};
        let mut out: *mut pyo3::ffi::PyObject = std::ptr::null_mut();
        // SAFETY: `coro` is a live reference held by the `Bound` for the call, `Py_None()` is
        // the immortal-or-static `None` (borrowed, not stolen by `PyIter_Send`), `out` is a
        // valid place for the result, and the GIL is held (`py`). On RETURN and NEXT
        // `PyIter_Send` stores a new reference in `out`, which `from_owned_ptr` takes over
        // (never NULL then); on ERROR it stores NULL and sets an exception, which `fetch`
        // takes.
        unsafe {
            match PyIter_Send(coro.as_ptr(), Py_None(), &mut out) {
                PySendResult::PYGEN_RETURN => Ok(Step::Returned(Bound::from_owned_ptr(py, out))),
                PySendResult::PYGEN_NEXT => Ok(Step::Yielded(Bound::from_owned_ptr(py, out))),
                PySendResult::PYGEN_ERROR => Err(PyErr::fetch(py)),
            }
        }
    }
    #[cfg(not(Py_3_10))]
    {
        match coro.call_method1(pyo3::intern!(py, "send"), (py.None(),)) {
            Ok(first) => Ok(Step::Yielded(first)),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) => Ok(
                Step::Returned(e.value(py).getattr(pyo3::intern!(py, "value"))?),
            ),
            Err(e) => Err(e),
        }
    }
}

/// `s` as a `str`. An ASCII string (the usual Text) is made with `PyUnicode_New` and filled
/// with one copy: `PyString::new` would run CPython's UTF-8 decoder over it, a second scan
/// and a third of a short field's read. Anything else goes through `PyString::new`.
pub(crate) fn str_new<'py>(py: Python<'py>, s: &str) -> Bound<'py, PyString> {
    if s.is_ascii() {
        if let Some(obj) = ascii_str(py, s.as_bytes()) {
            return obj;
        }
    }
    PyString::new(py, s)
}

/// Text bytes as a `str`, or the UTF-8 error when they are not valid UTF-8: ASCII bytes (one
/// scan) are copied into the new `str` without Rust's UTF-8 validation, which would be a
/// second scan of them; anything else is validated and made by `str_new`.
pub(crate) fn str_from_utf8<'py>(
    py: Python<'py>,
    bytes: &[u8],
) -> Result<Bound<'py, PyString>, std::str::Utf8Error> {
    if bytes.is_ascii() {
        if let Some(obj) = ascii_str(py, bytes) {
            return Ok(obj);
        }
    }
    std::str::from_utf8(bytes).map(|s| PyString::new(py, s))
}

/// A Text (`text`) or Data element's bytes as the new `str` or `bytes` the full subscript
/// makes of them, for the quick subscript (`SequenceSlots::quick_item`): a raw new reference,
/// or NULL with an exception set when a `bytes` cannot be allocated; `None` for Text that is
/// not all ASCII (the full subscript decodes it, or raises) or a `str` that cannot be made.
/// Never panics.
#[inline(always)]
pub(crate) fn blob_object_quick(
    py: Python<'_>,
    text: bool,
    bytes: &[u8],
) -> Option<*mut pyo3::ffi::PyObject> {
    if text {
        return bytes
            .is_ascii()
            .then(|| ascii_str(py, bytes))
            .flatten()
            .map(Bound::into_ptr);
    }
    let len = isize::try_from(bytes.len()).ok()?;
    // SAFETY: the GIL is held (`py`); `PyBytes_FromStringAndSize` copies `len` bytes from a
    // live slice of that length and returns a new reference, or NULL with an exception set.
    Some(unsafe { pyo3::ffi::PyBytes_FromStringAndSize(bytes.as_ptr().cast(), len) })
}

/// A new `str` of `bytes`, which the caller checked to be ASCII; `None` when it cannot be
/// made (the caller then tries the general way, which fails as it always did).
fn ascii_str<'py>(py: Python<'py>, bytes: &[u8]) -> Option<Bound<'py, PyString>> {
    debug_assert!(bytes.is_ascii());
    let len = isize::try_from(bytes.len()).ok()?;
    // SAFETY: the GIL is held (`py`). `PyUnicode_New(len, 127)` returns a new reference to a
    // compact ASCII `str` of `len` characters (its terminating NUL already written), or NULL
    // with an exception set. Its character data is `PyUnicode_DATA`'s `len` bytes, which
    // nothing has read yet; they are filled from `bytes` (ASCII, the caller's check, so every
    // byte is a valid character of such a string) before the object is handed out. On NULL
    // the exception is cleared (no Python object is released: a MemoryError instance may be,
    // only when memory ran out) and the caller's general path tries again.
    unsafe {
        let obj = pyo3::ffi::PyUnicode_New(len, 127);
        if obj.is_null() {
            pyo3::ffi::PyErr_Clear();
            return None;
        }
        let data = pyo3::ffi::PyUnicode_DATA(obj).cast::<u8>();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        Some(Bound::from_owned_ptr(py, obj).cast_into_unchecked())
    }
}

/// Copies at least this large go into memory advised for transparent huge pages.
const HUGE_COPY: usize = 8 << 20;

/// `bytes(data)`. A large copy goes into a new `bytes` whose memory is first advised for
/// transparent huge pages (Linux, where the system leaves that to `madvise`): writing 50 MB
/// into fresh 4 KiB pages costs ~12,000 page faults, most of such a copy's time.
pub(crate) fn bytes_copy<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    if data.len() >= HUGE_COPY && cfg!(target_os = "linux") {
        return filled_bytes(py, data, &[], true);
    }
    Ok(PyBytes::new(py, data))
}

/// The globals of the frame the warnings machinery attributes a warning to when this module
/// warns with `stacklevel=1` (the innermost complete Python frame: the code that called into
/// this module), or `None` when no Python frame runs. `PyEval_GetGlobals` reads the same frame
/// as `PyThreadState_GetFrame`, which `_warnings` uses (3.9-3.13), without making a frame
/// object.
pub(crate) fn running_globals(py: Python<'_>) -> Option<Bound<'_, pyo3::types::PyDict>> {
    // SAFETY: the GIL is held (`py`). `PyEval_GetGlobals` returns a borrowed reference to the
    // running frame's globals (alive while that frame runs, which outlasts this call), or
    // NULL without an exception when no frame runs; it is turned into an owned `Bound` at
    // once (a new strong reference).
    let globals = unsafe { Bound::from_borrowed_ptr_or_opt(py, pyo3::ffi::PyEval_GetGlobals()) };
    globals.and_then(|g| g.cast_into::<pyo3::types::PyDict>().ok())
}

/// The interpreter's module dict (`sys.modules` as the interpreter's own lookups see it, not
/// the attribute, which may be rebound).
pub(crate) fn modules_dict(py: Python<'_>) -> Option<Bound<'_, pyo3::types::PyDict>> {
    // SAFETY: the GIL is held; `PyImport_GetModuleDict` returns a borrowed reference to the
    // interpreter's module dict, which lives as long as the interpreter; it is turned into an
    // owned `Bound` at once (a new strong reference).
    let modules =
        unsafe { Bound::from_borrowed_ptr_or_opt(py, pyo3::ffi::PyImport_GetModuleDict()) };
    modules.and_then(|m| m.cast_into::<pyo3::types::PyDict>().ok())
}

/// The UTF-8 text of a `str`: a compact ASCII string's characters read in place (they are
/// their own UTF-8 encoding), without `PyUnicode_AsUTF8AndSize` and PyO3's wrapping of it
/// (~30 instructions of a Text field write); any other string as `to_str` gives it (which
/// fails for lone surrogates).
#[inline(always)]
pub(crate) fn str_text<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    #[cfg(not(Py_3_14))]
    {
        let ptr = s.as_ptr();
        // SAFETY: `ptr` is a live `str` (a `PyString` `Bound`, whose type check accepts
        // subclasses, which share the layout) held for `'a`, and the GIL is held; `str` is
        // immutable once made. A compact ASCII string (CPython's public, non-limited layout,
        // which this module is built against) is a `PyASCIIObject` followed at once by its
        // `length` one-byte characters, all below 128, so valid UTF-8; the flags are read as
        // CPython's own `PyUnicode_IS_COMPACT_ASCII` reads them (a string not yet ready, of
        // the legacy API before 3.12, has neither flag set and takes `to_str`).
        unsafe {
            if pyo3::ffi::PyUnicode_IS_COMPACT_ASCII(ptr) != 0 {
                let ascii = ptr.cast::<pyo3::ffi::PyASCIIObject>();
                let len = usize::try_from((*ascii).length).unwrap_or(0);
                let bytes = std::slice::from_raw_parts(ascii.add(1).cast::<u8>(), len);
                return Ok(std::str::from_utf8_unchecked(bytes));
            }
        }
    }
    s.to_str()
}

/// A dict's identity and PEP 509 version (`ma_version_tag`, CPython 3.9-3.13; `None` on
/// later versions, which removed it): the version changes with every change of the dict, and
/// no two dicts share one (each new dict and each change takes the next value of one
/// interpreter-wide counter), so an equal pair means the same dict, unchanged. For the
/// write-once warning's check (`warning.rs`), which runs on those versions alone.
pub(crate) fn dict_state(dict: &Bound<'_, pyo3::types::PyDict>) -> Option<(usize, u64)> {
    #[cfg(not(Py_3_14))]
    {
        let ptr = dict.as_ptr();
        // SAFETY: `ptr` is a live dict (a `PyDict` `Bound`, whose type check accepts dict
        // subclasses, which share the layout) and the GIL is held, so no other thread
        // changes it while the field is read. `PyDictObject` is CPython's public
        // (non-limited) layout, which this module is built against.
        #[allow(deprecated)]
        let version = unsafe { (*ptr.cast::<pyo3::ffi::PyDictObject>()).ma_version_tag };
        Some((ptr as usize, version))
    }
    #[cfg(Py_3_14)]
    {
        let _ = dict;
        None
    }
}

/// `issubclass(sub, cls)` for a `cls` whose type is exactly `type`: what
/// `PyObject_IsSubclass` does then (the MRO walk, no `__subclasscheck__`), without its
/// dispatch.
pub(crate) fn is_subtype(
    sub: &Bound<'_, pyo3::types::PyType>,
    cls: &Bound<'_, pyo3::types::PyType>,
) -> bool {
    // SAFETY: both are live type objects held by the `Bound`s and the GIL is held;
    // `PyType_IsSubtype` only reads their MROs (or bases) and cannot fail.
    unsafe { pyo3::ffi::PyType_IsSubtype(sub.as_type_ptr(), cls.as_type_ptr()) != 0 }
}

/// `sys.modules[name]` as the interpreter's own lookups see it (the interpreter's module
/// dict, not the `sys.modules` attribute, which may be rebound), or `None` when it is missing
/// or the lookup failed (its exception dropped). `PyImport_GetModule` also waits for a module
/// another thread is still importing; `initialized` is a module it returned earlier, for which
/// that check is skipped (a module that finished importing never starts again).
pub(crate) fn imported_module<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyString>,
    initialized: Option<&Py<PyAny>>,
) -> Option<Bound<'py, PyAny>> {
    if let Some(modules) = modules_dict(py) {
        if let Ok(Some(module)) = modules.get_item(name) {
            if initialized.is_some_and(|m| m.is(&module)) {
                return Some(module);
            }
        }
    }
    // SAFETY: `name` is a live `str` held by the `Bound` and the GIL is held. The call returns
    // a new reference, or NULL with or without an exception set; the exception, if any, is
    // taken (and dropped) below.
    let module = unsafe { pyo3::ffi::PyImport_GetModule(name.as_ptr()) };
    if module.is_null() {
        drop(PyErr::take(py));
        return None;
    }
    // SAFETY: a new reference returned by CPython, owned from here on.
    Some(unsafe { Bound::from_owned_ptr(py, module) })
}

/// A new `bytes` holding `head` then each slice of `parts`, copied once: unlike
/// `PyBytes::new_with`, the object's memory is not zeroed before it is written.
pub(crate) fn bytes_concat<'py>(
    py: Python<'py>,
    head: &[u8],
    parts: &[&[u8]],
) -> PyResult<Bound<'py, PyBytes>> {
    filled_bytes(py, head, parts, false)
}

/// A new `bytes` of `head` then `parts`, written once into its fresh (not zeroed) buffer;
/// with `huge`, whole pages of that buffer are first advised for transparent huge pages
/// (Linux).
fn filled_bytes<'py>(
    py: Python<'py>,
    head: &[u8],
    parts: &[&[u8]],
    huge: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let total = parts
        .iter()
        .fold(head.len(), |n, p| n.saturating_add(p.len()));
    let (obj, written) = new_bytes_with(py, total, huge, |buf| write_parts(buf, head, parts))?;
    // Unreachable: `total` is the parts' length (a saturated sum fails the allocation).
    if !written {
        return Err(pyo3::exceptions::PyOverflowError::new_err(
            "message too large",
        ));
    }
    Ok(obj)
}

/// A new `bytes` of `len` bytes written by `fill` with the GIL released (DESIGN decision 7:
/// a large copy lets other threads run), into its fresh buffer, not zeroed first as
/// `PyBytes::new_with` does (a second pass over a large message's bytes, and the one that
/// takes the new pages' faults). `fill` returns `true` when it wrote every byte, `false`
/// when it declines: the object is then released unseen and the result is `Ok(None)`.
pub(crate) fn bytes_filled_detached<'py, F>(
    py: Python<'py>,
    len: usize,
    fill: F,
) -> PyResult<Option<Bound<'py, PyBytes>>>
where
    F: for<'b> FnOnce(&'b mut [std::mem::MaybeUninit<u8>]) -> bool + Send,
{
    let (obj, filled) = new_bytes_with(py, len, len >= HUGE_COPY, |buf| detach(py, || fill(buf)))?;
    Ok(filled.then_some(obj))
}

/// Writes `head` then each of `parts` into `buf` when their lengths add up to exactly
/// `buf.len()` (then every byte of `buf` is written: it need not be initialized before);
/// `false`, nothing written, otherwise. A copy of at least `SPLIT_COPY` bytes is split in two
/// halves, the second written by the copy helper thread while this one writes the first (see
/// `copy_helper`).
pub(crate) fn write_parts(
    buf: &mut [std::mem::MaybeUninit<u8>],
    head: &[u8],
    parts: &[&[u8]],
) -> bool {
    let total = parts
        .iter()
        .try_fold(head.len(), |n, p| n.checked_add(p.len()));
    if total != Some(buf.len()) {
        return false;
    }
    if buf.len() >= SPLIT_COPY && split_copy() {
        write_split(buf, head, parts);
        return true;
    }
    // Not `write_range(buf, 0, ..)`: its per-part offset and bounds bookkeeping cost ~30
    // instructions a small `to_bytes()` (two parts), where the lengths are already checked.
    let mut dst = buf.as_mut_ptr().cast::<u8>();
    for part in std::iter::once(head).chain(parts.iter().copied()) {
        // SAFETY: the parts' lengths add up to `buf.len()` (checked above), so each copy
        // stays inside `buf`, from where the previous one ended; a shared `&[u8]` never
        // overlaps the exclusive `buf`. Writing bytes into `MaybeUninit<u8>` storage is
        // always allowed.
        unsafe {
            std::ptr::copy_nonoverlapping(part.as_ptr(), dst, part.len());
            dst = dst.add(part.len());
        }
    }
    true
}

/// `write_parts` of a large copy (lengths checked): the first half here, the second by the
/// copy helper. Out of line, so that small copies' `write_parts` stays small enough to inline.
#[inline(never)]
fn write_split(buf: &mut [std::mem::MaybeUninit<u8>], head: &[u8], parts: &[&[u8]]) {
    // Page-aligned split point, so that no page is faulted in by both threads.
    let half = (buf.len() / 2).next_multiple_of(4096).min(buf.len());
    let (first, second) = buf.split_at_mut(half);
    if !copy_helper::write_halves(first, second, half, head, parts) {
        write_range(second, half, head, parts);
    }
}

/// Copies of at least this many bytes are split between two threads when the machine has
/// more than one CPU for this process: most of such a copy's time is the kernel's zeroing of
/// the fresh pages it writes (page faults) and the copy itself, both of which scale with
/// cores (50 MB: ~7.3 ms in one thread, ~4.4 ms in two, on the benchmark machine).
const SPLIT_COPY: usize = 8 << 20;

/// Whether large copies are split: more than one CPU is available to this process (read once:
/// `available_parallelism` reads cgroup files).
fn split_copy() -> bool {
    static SPLIT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SPLIT.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// The thread that writes the second half of a split copy (`write_parts`).
///
/// One long-lived thread rather than one per copy: the scheduler often starts a new thread on
/// its parent's CPU, where it waits ~1-1.5 ms for the parent to be preempted or for load
/// balancing (measured: half of the copies then ran one after the other, 8 ms instead of
/// 4.4), while a parked thread woken on a futex goes to an idle CPU at once (~0.06 ms).
/// It ends after `IDLE` without work (a timed wait on its channel, no polling), so a program
/// that copied once does not keep a second thread (which `fork` would warn about).
///
/// One copy uses the helper at a time (`try_lock`; a copy that finds it busy is written by
/// its own thread alone). After `fork`, the child has no helper thread although the parent's
/// record was copied: the record holds the number of forks the process had gone through when
/// it started the thread (counted by a `pthread_atfork` child handler) and its process id, and
/// a record from before a fork or from another process is abandoned (leaked, never used: its
/// channels may have been in use by the parent's threads) and a new thread started. A fork
/// while a copy held the lock leaves the lock taken in the child, whose copies then run in one
/// thread.
mod copy_helper {
    use super::write_range;
    use std::mem::MaybeUninit;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{Receiver, Sender};
    use std::sync::Mutex;
    use std::time::Duration;

    /// How long the helper thread waits for work before it ends (shorter in unit tests,
    /// which wait for it to end).
    #[cfg(not(test))]
    const IDLE: Duration = Duration::from_secs(2);
    #[cfg(test)]
    const IDLE: Duration = Duration::from_millis(100);

    /// A range to write: `write_range(dst[..len], offset, head, parts)`, as raw parts.
    #[derive(Clone, Copy)]
    struct Job {
        dst: *mut MaybeUninit<u8>,
        len: usize,
        offset: usize,
        head: *const u8,
        head_len: usize,
        parts: *const &'static [u8],
        parts_len: usize,
    }

    // SAFETY: a `Job` is sent only by `write_halves`, which does not return (nor unwind past
    // its `Wait` guard) before the helper has answered for that job or is gone, so the
    // memory it points to (an exclusive destination, shared sources) outlives every use on
    // the helper thread, and nothing else touches the destination meanwhile.
    unsafe impl Send for Job {}

    struct Helper {
        pid: u32,
        /// `FORKS` when the thread was started.
        forks: u64,
        jobs: Sender<Job>,
        /// `true`: the job's range is written; `false`: it panicked part way.
        done: Receiver<bool>,
        /// The thread (dropping it detaches the thread; unit tests take it to join it).
        #[cfg_attr(not(test), allow(dead_code))]
        thread: Option<std::thread::JoinHandle<()>>,
    }

    static HELPER: Mutex<Option<Helper>> = Mutex::new(None);

    /// Forks this process has gone through (incremented in each child), from the first
    /// helper's start on.
    static FORKS: AtomicU64 = AtomicU64::new(0);

    extern "C" fn count_fork_in_child() {
        // An atomic increment: allowed in a child of a multi-threaded fork.
        FORKS.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers `count_fork_in_child`, once per process (a child inherits the registration).
    fn count_forks() {
        #[cfg(unix)]
        {
            static REGISTERED: std::sync::Once = std::sync::Once::new();
            // SAFETY: `pthread_atfork` only records the handlers (none before or in the parent;
            // an `extern "C"` function without arguments in the child, which does one atomic
            // increment and lives as long as the process). A failure (ENOMEM) leaves forks
            // uncounted: the process id check still tells a child's record from its parent's.
            REGISTERED.call_once(|| unsafe {
                libc::pthread_atfork(None, None, Some(count_fork_in_child));
            });
        }
    }

    fn start(pid: u32) -> Option<Helper> {
        count_forks();
        let forks = FORKS.load(Ordering::Relaxed);
        let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
        let (answers, done) = std::sync::mpsc::channel::<bool>();
        let thread = std::thread::Builder::new()
            .name("capnp-copy".into())
            .spawn(move || {
                // Ends when idle for `IDLE`, or when the record is dropped; a copy waiting on
                // it then sees the answer channel close and writes its half itself.
                while let Ok(job) = inbox.recv_timeout(IDLE) {
                    let written = std::panic::catch_unwind(|| {
                        // SAFETY: see `Job`'s `Send`: the sender waits until this answer, so
                        // the destination (exclusive to this job) and the sources are alive and
                        // unchanged; the pointers and lengths come from live slices.
                        unsafe {
                            let dst = std::slice::from_raw_parts_mut(job.dst, job.len);
                            let head = std::slice::from_raw_parts(job.head, job.head_len);
                            let parts = std::slice::from_raw_parts(job.parts, job.parts_len);
                            write_range(dst, job.offset, head, parts);
                        }
                    })
                    .is_ok();
                    if answers.send(written).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Helper {
            pid,
            forks,
            jobs,
            done,
            thread: Some(thread),
        })
    }

    /// Unit tests: the recorded helper thread's id, if any.
    #[cfg(test)]
    pub(super) fn thread_id() -> Option<std::thread::ThreadId> {
        let slot = HELPER.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .and_then(|h| h.thread.as_ref())
            .map(|t| t.thread().id())
    }

    /// Unit tests: waits until the recorded helper thread has ended (joins it; it ends by
    /// itself after `IDLE`), leaving its record in place, as a copy finds it after an idle
    /// spell.
    #[cfg(test)]
    pub(super) fn join_after_idle() {
        let thread = {
            let mut slot = HELPER.lock().unwrap_or_else(|e| e.into_inner());
            slot.as_mut().and_then(|h| h.thread.take())
        };
        if let Some(thread) = thread {
            thread.join().expect("the helper thread does not panic");
        }
    }

    /// Writes `first` (offset 0) here and has the helper write `second` (offset `half`) at
    /// the same time; `false` when the helper did not write `second` (busy, unavailable, or
    /// it failed part way): the caller writes it then.
    pub(super) fn write_halves(
        first: &mut [MaybeUninit<u8>],
        second: &mut [MaybeUninit<u8>],
        half: usize,
        head: &[u8],
        parts: &[&[u8]],
    ) -> bool {
        let job = Job {
            dst: second.as_mut_ptr(),
            len: second.len(),
            offset: half,
            head: head.as_ptr(),
            head_len: head.len(),
            parts: parts.as_ptr().cast::<&'static [u8]>(),
            parts_len: parts.len(),
        };
        // Busy (another thread's copy) or poisoned: this thread writes alone.
        let Ok(mut slot) = HELPER.try_lock() else {
            write_range(first, 0, head, parts);
            return false;
        };
        let pid = std::process::id();
        let forks = FORKS.load(Ordering::Relaxed);
        if slot
            .as_ref()
            .is_some_and(|h| h.pid != pid || h.forks != forks)
        {
            std::mem::forget(slot.take());
        }
        // A recorded thread may have ended (idle) since: then one new thread, once.
        let mut sent = false;
        for _ in 0..2 {
            if slot.is_none() {
                *slot = start(pid);
            }
            let Some(helper) = slot.as_ref() else { break };
            if helper.jobs.send(job).is_ok() {
                sent = true;
                break;
            }
            *slot = None;
        }
        let Some(helper) = slot.as_ref().filter(|_| sent) else {
            write_range(first, 0, head, parts);
            return false;
        };
        /// Waits for the helper's answer, also if the first half's write unwinds (it does not:
        /// its slicing stays in bounds), so that no borrowed memory is released while the
        /// helper may still use it.
        struct Wait<'h>(&'h Receiver<bool>);
        impl Wait<'_> {
            fn answer(self) -> Option<bool> {
                let answer = self.0.recv().ok();
                std::mem::forget(self);
                answer
            }
        }
        impl Drop for Wait<'_> {
            fn drop(&mut self) {
                let _ = self.0.recv();
            }
        }
        let wait = Wait(&helper.done);
        write_range(first, 0, head, parts);
        match wait.answer() {
            Some(written) => written,
            // The thread ended without taking the job (its idle time ran out as it was sent):
            // the job was never run.
            None => {
                *slot = None;
                false
            }
        }
    }
}

/// Writes into `dst` the bytes of `head` followed by `parts` that start `offset` bytes into
/// that concatenation: `dst.len()` bytes, which the caller has checked are there.
fn write_range(
    dst: &mut [std::mem::MaybeUninit<u8>],
    mut offset: usize,
    head: &[u8],
    parts: &[&[u8]],
) {
    let mut rest = dst;
    for part in std::iter::once(head).chain(parts.iter().copied()) {
        if rest.is_empty() {
            break;
        }
        let Some(from) = part.get(offset..) else {
            offset -= part.len();
            continue;
        };
        offset = 0;
        let n = from.len().min(rest.len());
        let (now, later) = std::mem::take(&mut rest).split_at_mut(n);
        // SAFETY: `now` and `from[..n]` are both `n` bytes long; a shared `&[u8]` never
        // overlaps the exclusive `now`. Writing bytes into `MaybeUninit<u8>` storage is always
        // allowed.
        unsafe { std::ptr::copy_nonoverlapping(from.as_ptr(), now.as_mut_ptr().cast::<u8>(), n) };
        rest = later;
    }
}

/// A new `bytes` object of `len` bytes whose buffer `write` receives before the object is
/// returned, uninitialized: `write` must fill all of it unless its caller releases the
/// object unseen. With `huge`, whole pages of the buffer are first advised for transparent
/// huge pages (Linux).
fn new_bytes_with<'py, R>(
    py: Python<'py>,
    len: usize,
    huge: bool,
    write: impl FnOnce(&mut [std::mem::MaybeUninit<u8>]) -> R,
) -> PyResult<(Bound<'py, PyBytes>, R)> {
    let size = isize::try_from(len)
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("message too large"))?;
    // SAFETY: the GIL is held. `PyBytes_FromStringAndSize(NULL, size)` returns a new `bytes`
    // object with room for `size` bytes (plus the terminating NUL it sets itself), or NULL
    // with an exception set; the new reference is owned by the `Bound` at once.
    // `PyBytes_AS_STRING` is that buffer. `madvise` is given only whole pages inside it
    // (rounded inwards) and only changes how the kernel backs them (an error is ignored: the
    // contents are the same either way).
    let (obj, dst) = unsafe {
        let ptr = pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), size);
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let obj = Bound::from_owned_ptr(py, ptr).cast_into_unchecked::<PyBytes>();
        let dst = pyo3::ffi::PyBytes_AS_STRING(ptr)
            .cast::<std::mem::MaybeUninit<u8>>()
            .cast_mut();
        #[cfg(target_os = "linux")]
        if huge {
            let page = 4096usize;
            let start = (dst as usize).div_ceil(page) * page;
            let end = (dst as usize + len) / page * page;
            if end > start {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = huge;
        (obj, dst)
    };
    // SAFETY: `dst` is the new object's buffer of `len` bytes. The object is ours alone (one
    // reference, not yet visible to Python code), so writing its buffer is allowed, as
    // CPython's own constructors do. The slice covers exactly those bytes as `MaybeUninit`
    // (no claim that they are initialized) and lives only during `write`, while `obj` keeps
    // the object, and so its buffer, alive and nothing else can reach it.
    let buf = unsafe { std::slice::from_raw_parts_mut(dst, len) };
    let written = write(buf);
    Ok((obj, written))
}

/// A cache table's index (0-255) for a name object and a schema or type address, from all
/// of both addresses' bits: CPython's small-object allocator puts
/// objects of one size class in 4 KiB pools, so two names at the same offset of different
/// pools had the same low bits and took each other's entry on every use (in the address book
/// build, one rebuild of the module moved its names so that two collided: +540 instructions
/// per build, the same code).
#[inline(always)]
fn cache_slot(name: usize, owner: usize) -> usize {
    // Fibonacci hashing: the product's top byte depends on every bit of both addresses.
    ((name ^ owner.rotate_left(17)) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize
        >> (usize::BITS - 8)
}

/// Field indexes by attribute-name object: the struct slots' name lookup (decoding the
/// name, hashing it, comparing it with the schema's) answered by two pointer comparisons
/// when the same name object meets the same schema again, as `b.field = v` in a loop does
/// (a code object's names are the same interned `str` every time).
///
/// A two-way set-associative table indexed by both addresses (`name_set`). An entry owns a
/// strong reference to its
/// name (an exact, immutable `str`) and to its schema (an `Arc`), so neither address can be
/// reused by another object while the entry holds it: an address match is the same name and
/// the same schema. Entries are read and replaced only by the attribute slots, which run
/// with the GIL held (the module does not declare itself free of the GIL), so no two calls
/// touch the table at once; the atomics only make each access well defined. At most
/// `NAME_CACHE_SIZE` names and schemas are kept alive this way.
const NAME_CACHE_SIZE: usize = 256;

struct NameEntry {
    name: std::sync::atomic::AtomicPtr<pyo3::ffi::PyObject>,
    schema: std::sync::atomic::AtomicPtr<capnp_dynamic::StructSchema>,
    index: std::sync::atomic::AtomicUsize,
    /// The field's `PrimSlot` (`PrimSlot::pack`'s words; 0 when it has none), so a reader's
    /// primitive read looks at no schema.
    prim: std::sync::atomic::AtomicU64,
    prim_mask: std::sync::atomic::AtomicU64,
    /// The Python object of the field's value last read through the entry (an `int` or a
    /// `float`, or an enum field's shared object; null when none), owning one strong
    /// reference, and that value's bits (`memo_key`): a read of the same value returns it
    /// again instead of making a new one (`CachedName::prim_object`). Released when the entry
    /// is given to another field.
    memo: std::sync::atomic::AtomicPtr<pyo3::ffi::PyObject>,
    memo_key: std::sync::atomic::AtomicU64,
}

#[allow(
    clippy::declare_interior_mutable_const,
    reason = "the initializer of each entry"
)]
const EMPTY_ENTRY: NameEntry = NameEntry {
    name: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
    schema: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
    index: std::sync::atomic::AtomicUsize::new(0),
    prim: std::sync::atomic::AtomicU64::new(0),
    prim_mask: std::sync::atomic::AtomicU64::new(0),
    memo: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
    memo_key: std::sync::atomic::AtomicU64::new(0),
};

/// Two entries per set: a name and schema go into the first entry of their set, moving the
/// one there to the second (whose entry goes). Two hot names that meet in one set (a chance
/// event of where CPython put them: a rebuild of the module once made two of the address
/// book's names take each other's entry on every write, ~450 instructions per build) both
/// stay.
static NAME_CACHE: [[NameEntry; 2]; NAME_CACHE_SIZE / 2] =
    [const { [EMPTY_ENTRY; 2] }; NAME_CACHE_SIZE / 2];

/// The set of [`NAME_CACHE`] for `name` with `schema`.
#[inline(always)]
fn name_set(
    name: *mut pyo3::ffi::PyObject,
    schema: *const capnp_dynamic::StructSchema,
) -> &'static [NameEntry; 2] {
    &NAME_CACHE[(cache_slot(name as usize, schema as usize) >> 1) % (NAME_CACHE_SIZE / 2)]
}

/// The field index remembered for `name` with `schema` ([`remember_field`]), if any.
pub(crate) fn cached_field(
    name: &Bound<'_, PyString>,
    schema: &std::sync::Arc<capnp_dynamic::StructSchema>,
) -> Option<usize> {
    cached_entry(name, schema).map(|entry| entry.index.load(Ordering::Relaxed))
}

/// As [`cached_field`], the entry itself: its index, and its `PrimSlot` read only when
/// asked (a pointer field's read pays one load and one test for it).
#[inline(always)]
pub(crate) fn cached_field_entry(
    name: &Bound<'_, PyString>,
    schema: &std::sync::Arc<capnp_dynamic::StructSchema>,
) -> Option<CachedName> {
    cached_entry(name, schema).map(CachedName)
}

/// An entry of [`NAME_CACHE`] that matched (`cached_field_entry`).
#[derive(Clone, Copy)]
pub(crate) struct CachedName(&'static NameEntry);

impl CachedName {
    #[inline(always)]
    pub(crate) fn index(self) -> usize {
        self.0.index.load(Ordering::Relaxed)
    }

    /// The field's `PrimSlot`, when it has one.
    #[inline(always)]
    pub(crate) fn prim(self) -> Option<capnp_dynamic::struct_::PrimSlot> {
        // (0, an entry without one, unpacks to `None`.)
        let word = self.0.prim.load(Ordering::Relaxed);
        capnp_dynamic::struct_::PrimSlot::unpack(word, self.0.prim_mask.load(Ordering::Relaxed))
    }

    /// The value of `bits`, read through this entry's `PrimSlot` (`slot`; the default XORed
    /// in: `PrimSlot::value`), as a Python object: the object this entry made last time when
    /// the bits are the same (the entry is one field's, so equal bits are equal values; an
    /// `int` or `float` is immutable, so equal values may share one object, as CPython's
    /// small `int`s do; an enum's value is the field's shared object,
    /// `enum_::enum_field_object`), else a new one, which the entry then keeps (a Bool's
    /// `True` or `False` is returned as it is). A field read again with an unchanged value
    /// (the same message, or many messages sharing a value) allocates and decodes nothing; a
    /// changed value costs one comparison and the exchange of the kept object over a plain
    /// read. `None` for an enum value whose shared object does not exist yet (the caller then
    /// reads the field in full, which makes it when the registry allows).
    #[inline(always)]
    pub(crate) fn prim_object(
        self,
        py: Python<'_>,
        schema: &capnp_dynamic::StructSchema,
        slot: capnp_dynamic::struct_::PrimSlot,
        bits: u64,
    ) -> Option<PyResult<Py<PyAny>>> {
        use capnp_dynamic::struct_::Prim;
        use pyo3::IntoPyObjectExt;
        if slot.is_bool() {
            return Some((bits & 1 != 0).into_py_any(py));
        }
        let entry = self.0;
        let memo = entry.memo.load(Ordering::Relaxed);
        if !memo.is_null() && entry.memo_key.load(Ordering::Relaxed) == bits {
            // SAFETY: the entry owns a strong reference to `memo` (stored below), which stays
            // until the entry lets it go, and that happens only with the GIL held, as now, by
            // this module's code, which is not running meanwhile; so `memo` is a live object
            // and a new reference to it may be made.
            return Some(Ok(unsafe { Bound::from_borrowed_ptr(py, memo).unbind() }));
        }
        let made = match slot.value(bits) {
            Prim::Int(i) => i.into_py_any(py),
            Prim::UInt(u) => u.into_py_any(py),
            Prim::Float(f) => f.into_py_any(py),
            Prim::Enum(raw) => Ok(crate::enum_::shared_field_object(
                py,
                schema.fields.get(self.index())?,
                raw,
            )?),
            Prim::Bool(b) => b.into_py_any(py),
        };
        let object = match made {
            Ok(object) => object,
            Err(e) => return Some(Err(e)),
        };
        // SAFETY: the GIL is held (`py`) and no Python code ran since the caller found the
        // entry for this field (making an `int` or a `float` runs none and starts no garbage
        // collection; an enum's shared object is only looked up).
        unsafe { self.keep(object.as_ptr(), bits) };
        Some(Ok(object))
    }

    /// Makes `object` (a live value of this entry's field, for `bits`) the entry's kept
    /// value, releasing the one it kept before.
    ///
    /// SAFETY (for callers): the GIL is held, and no Python code ran since the caller found
    /// the entry for this field, so no other call reads or replaces the entry meanwhile
    /// (see `NAME_CACHE`) and the entry is still this field's.
    #[inline(always)]
    unsafe fn keep(self, object: *mut pyo3::ffi::PyObject, bits: u64) {
        let entry = self.0;
        // SAFETY: the caller's contract. The entry takes its own reference to the new object;
        // the old one it owned is an `int` or `float`, whose release runs no Python code, or
        // an enum object, which its field keeps alive too.
        unsafe {
            pyo3::ffi::Py_INCREF(object);
            let old = entry.memo.swap(object, Ordering::Relaxed);
            entry.memo_key.store(bits, Ordering::Relaxed);
            if !old.is_null() {
                pyo3::ffi::Py_DECREF(old);
            }
        }
    }

    /// [`CachedName::prim_object`] for [`AttrSlot::quick_getattr`]: the object (a raw new
    /// reference) when the entry keeps it or it is a Bool's, else what makes it. No call,
    /// never panics.
    #[inline(always)]
    pub(crate) fn prim_object_quick(
        self,
        slot: capnp_dynamic::struct_::PrimSlot,
        bits: u64,
    ) -> Quick {
        let entry = self.0;
        // SAFETY (both blocks): the caller holds the GIL (a slot call). `True`/`False` are
        // static singletons, never freed; `memo` is live while the entry owns its reference
        // (see `prim_object`). A new reference is made to the object returned.
        if slot.is_bool() {
            unsafe {
                let object = if bits & 1 != 0 {
                    pyo3::ffi::Py_True()
                } else {
                    pyo3::ffi::Py_False()
                };
                pyo3::ffi::Py_INCREF(object);
                return Quick::Done(object);
            }
        }
        let memo = entry.memo.load(Ordering::Relaxed);
        if !memo.is_null() && entry.memo_key.load(Ordering::Relaxed) == bits {
            unsafe { pyo3::ffi::Py_INCREF(memo) };
            return Quick::Done(memo);
        }
        Quick::Make(self, slot, bits)
    }

    /// [`CachedName::prim_object_quick`]'s `Make`: an `int` or `float` made by CPython and
    /// kept by the entry (as `prim_object` does), or for an enum value the full read of
    /// attribute `name` of `slf` ([`getattro`]'s arguments).
    ///
    /// SAFETY (for callers): as [`getattro`]'s, the entry found for `name` by the caller with
    /// no Python code run since.
    #[inline(never)]
    unsafe fn prim_object_made<T: AttrSlot>(
        self,
        slot: capnp_dynamic::struct_::PrimSlot,
        bits: u64,
        slf: *mut pyo3::ffi::PyObject,
        name: *mut pyo3::ffi::PyObject,
    ) -> *mut pyo3::ffi::PyObject {
        use capnp_dynamic::struct_::Prim;
        // SAFETY: the GIL is held (a slot call). Each constructor returns a new reference or
        // NULL with an exception set (passed on as it is); `keep`'s contract holds (no Python
        // code ran since the caller found the entry). The full read takes the slot's own
        // arguments.
        unsafe {
            let object = match slot.value(bits) {
                Prim::Int(i) => pyo3::ffi::PyLong_FromLongLong(i),
                Prim::UInt(u) => pyo3::ffi::PyLong_FromUnsignedLongLong(u),
                Prim::Float(f) => pyo3::ffi::PyFloat_FromDouble(f),
                Prim::Enum(_) | Prim::Bool(_) => {
                    return getattro_full::<T>(slf, name, Some(Some(self)))
                }
            };
            if object.is_null() {
                return object;
            }
            self.keep(object, bits);
            object
        }
    }
}

/// As [`cached_field_entry`], for a name known only by its address (compared, never read:
/// an entry's name is an exact `str`, so a match is that `str`).
#[inline(always)]
pub(crate) fn cached_field_entry_at(
    name: *mut pyo3::ffi::PyObject,
    schema_ptr: *const capnp_dynamic::StructSchema,
) -> Option<CachedName> {
    let [first, second] = name_set(name, schema_ptr);
    let holds = |entry: &NameEntry| {
        entry.name.load(Ordering::Relaxed) == name
            && entry.schema.load(Ordering::Relaxed).cast_const() == schema_ptr
    };
    if holds(first) {
        return Some(CachedName(first));
    }
    holds(second).then_some(CachedName(second))
}

/// The entry holding `name` with `schema`, if any.
#[inline(always)]
fn cached_entry(
    name: &Bound<'_, PyString>,
    schema: &std::sync::Arc<capnp_dynamic::StructSchema>,
) -> Option<&'static NameEntry> {
    cached_field_entry_at(name.as_ptr(), std::sync::Arc::as_ptr(schema)).map(|entry| entry.0)
}

/// Remembers that `name` is field `index` of `schema` (`schema.by_name`), for
/// [`cached_field`]. Callers pass only names the getter slot resolves as fields (not class
/// attributes); a name that is not an exact `str` is not remembered.
pub(crate) fn remember_field(
    name: &Bound<'_, PyString>,
    schema: &std::sync::Arc<capnp_dynamic::StructSchema>,
    index: usize,
) {
    if !name.is_exact_instance_of::<PyString>() {
        return;
    }
    let name_ptr = name.as_ptr();
    let [first, second] = name_set(name_ptr, std::sync::Arc::as_ptr(schema));
    let (prim, prim_mask) =
        capnp_dynamic::struct_::PrimSlot::of(schema, index).map_or((0, 0), |slot| slot.pack());
    let new_schema = std::sync::Arc::into_raw(std::sync::Arc::clone(schema)).cast_mut();
    // SAFETY: the GIL is held (`name`), so no other call reads or replaces the set's entries
    // meanwhile (see `NAME_CACHE`), and no caller holds a `CachedName` of this set across the
    // call (callers remember a name they did not find). The first entry's references move to
    // the second as they are (each owned once, by the entry holding it). The new name gets
    // the strong reference the entry owns (`Py_IncRef` on a live object); the second entry's
    // old references are the ones it took when it was filled: a `str` (released with
    // `Py_DecRef`: a `str`'s deallocation runs no Python code), an `Arc` made by `into_raw`
    // (turned back with `from_raw` once and dropped) and the kept value (`prim_object`: an
    // `int` or `float`, released likewise, or an enum object its field also keeps). Both
    // entries are fully written before the old references go, and no Python code runs in
    // between.
    unsafe {
        pyo3::ffi::Py_IncRef(name_ptr);
        let old_name = second.name.swap(
            first.name.swap(name_ptr, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let old_schema = second.schema.swap(
            first.schema.swap(new_schema, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let old_memo = second.memo.swap(
            first.memo.swap(std::ptr::null_mut(), Ordering::Relaxed),
            Ordering::Relaxed,
        );
        second
            .index
            .store(first.index.load(Ordering::Relaxed), Ordering::Relaxed);
        second
            .prim
            .store(first.prim.load(Ordering::Relaxed), Ordering::Relaxed);
        second
            .prim_mask
            .store(first.prim_mask.load(Ordering::Relaxed), Ordering::Relaxed);
        second
            .memo_key
            .store(first.memo_key.load(Ordering::Relaxed), Ordering::Relaxed);
        first.index.store(index, Ordering::Relaxed);
        first.prim.store(prim, Ordering::Relaxed);
        first.prim_mask.store(prim_mask, Ordering::Relaxed);
        if !old_memo.is_null() {
            pyo3::ffi::Py_DecRef(old_memo);
        }
        if !old_name.is_null() {
            pyo3::ffi::Py_DecRef(old_name);
        }
        if !old_schema.is_null() {
            drop(std::sync::Arc::from_raw(old_schema.cast_const()));
        }
    }
}

/// A `PyMethodDef` in a static: CPython keeps a pointer to it in every function object
/// made from it, so it must never move or go.
struct StaticMethodDef(std::cell::UnsafeCell<pyo3::ffi::PyMethodDef>);

// SAFETY: a definition is written at compile time (and `BUILDER_INIT`'s doc pointer once
// more, at module initialization under the GIL, before any function object refers to it)
// and only read afterwards (by CPython, through the pointer `PyCFunction_NewEx` and
// `PyDescr_NewMethod` keep); its pointers are to static C strings and a function.
unsafe impl Sync for StaticMethodDef {}

static ENTRY_NEW_MESSAGE: StaticMethodDef =
    StaticMethodDef(std::cell::UnsafeCell::new(pyo3::ffi::PyMethodDef {
        ml_name: c"new_message".as_ptr(),
        ml_meth: pyo3::ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: entry_new_message,
        },
        ml_flags: pyo3::ffi::METH_FASTCALL | pyo3::ffi::METH_KEYWORDS,
        ml_doc: c"new_message(num_first_segment_words=None, allocate_seg_callable=None, **kwargs)\n--\n\nA new message whose root is this struct; keyword arguments set fields.".as_ptr(),
    }));

/// `entry.new_message` as a built-in method called with CPython's vector convention
/// (`_StructModule._specialize` puts it in the module's slot): PyO3 gives a method taking
/// `**kwargs` the tuple-and-dict convention, whose call (`_PyObject_MakeTpCall`, the
/// arguments' tuple, PyO3's parsing) was ~10% of an empty `new_message()`. A call without
/// arguments makes the message here; any other goes to the PyO3 method, unchanged.
pub(crate) fn entry_new_message_function(
    entry: &Bound<'_, crate::registry::PyStructEntry>,
) -> PyResult<Py<PyAny>> {
    let py = entry.py();
    // SAFETY: the GIL is held (`entry`). The definition is a static (`StaticMethodDef`) of a
    // `METH_FASTCALL | METH_KEYWORDS` function of that signature; the new function object
    // keeps its own reference to `entry`, its `self`. A new reference or NULL with an
    // exception set comes back.
    unsafe {
        let f = pyo3::ffi::PyCFunction_NewEx(
            ENTRY_NEW_MESSAGE.0.get(),
            entry.as_ptr(),
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(py, f).map(Bound::unbind)
    }
}

/// A raw call result for CPython: the new reference (or NULL with the exception set, as a
/// raw call returns it), or NULL with `error` set.
trait IntoRaw {
    fn into_raw(self) -> *mut pyo3::ffi::PyObject;
}

impl IntoRaw for Py<PyAny> {
    fn into_raw(self) -> *mut pyo3::ffi::PyObject {
        self.into_ptr()
    }
}

impl IntoRaw for *mut pyo3::ffi::PyObject {
    fn into_raw(self) -> *mut pyo3::ffi::PyObject {
        self
    }
}

fn raw_result(py: Python<'_>, result: PyResult<impl IntoRaw>) -> *mut pyo3::ffi::PyObject {
    match result {
        Ok(made) => made.into_raw(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// The function of [`ENTRY_NEW_MESSAGE`].
unsafe extern "C" fn entry_new_message(
    slf: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargs: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: CPython calls a built-in function with the GIL held, `slf` the function's
    // `self` (a live `_StructEntry`: see the quick call), `args` its `nargs`
    // positional arguments followed by one per name in `kwnames` (a tuple, or NULL for
    // none), all live for the call; the result is a new reference or NULL with an exception
    // set. The call without arguments drops no `Py` on its way to success (`lean_slot`): its
    // objects are handed out or owned by the new handle; any other call is made inside
    // `Python::attach`, as PyO3's trampoline would. Skipping up to two positional `None`s
    // (`given <= nargs`) leaves `fields` at the first keyword's value, inside the array.
    unsafe {
        // Positional `None`s are the defaults (`Foo(**fields)` passes one).
        let given = usize::try_from(nargs).unwrap_or(usize::MAX);
        let (quick_nargs, fields) =
            if given <= 2 && (0..given).all(|i| *args.add(i) == pyo3::ffi::Py_None()) {
                (0, args.add(given))
            } else {
                (nargs, args)
            };
        if quick_nargs == 0 && kwnames.is_null() {
            return lean_slot(std::ptr::null_mut(), |py| {
                // `slf` is the function's `self`: the `_StructEntry` given to
                // `PyCFunction_NewEx` in `entry_new_message_function`, the only maker of
                // functions over `ENTRY_NEW_MESSAGE` (a built-in function's `self` is fixed).
                let entry =
                    Borrowed::from_ptr(py, slf).cast_unchecked::<crate::registry::PyStructEntry>();
                Ok(entry.get().new_message_plain(py)?.into_ptr())
            });
        }
        lean_slot(std::ptr::null_mut(), |_| {
            Ok(Python::attach(|py| {
                let entry = Borrowed::from_ptr(py, slf);
                // Fields only, by keyword: set from the arguments as they lie (no dict).
                if quick_nargs == 0 {
                    let names =
                        Borrowed::from_ptr(py, kwnames).cast_unchecked::<pyo3::types::PyTuple>();
                    let own = [
                        pyo3::intern!(py, "num_first_segment_words"),
                        pyo3::intern!(py, "allocate_seg_callable"),
                    ];
                    let fields_only = names
                        .iter_borrowed()
                        .all(|n| own.iter().all(|o| !n.eq(o.as_any()).unwrap_or(true)));
                    if let (true, Ok(entry)) =
                        (fields_only, entry.cast::<crate::registry::PyStructEntry>())
                    {
                        let values = std::slice::from_raw_parts(fields, names.len());
                        let items = names
                            .iter()
                            .zip(values.iter().map(|&v| Bound::from_borrowed_ptr(py, v)));
                        return raw_result(py, entry.get().new_message_fields(py, items));
                    }
                }
                let method = entry.getattr(pyo3::intern!(py, "new_message"));
                raw_result(
                    py,
                    method.map(|m| {
                        pyo3::ffi::PyObject_Vectorcall(m.as_ptr(), args, nargs as usize, kwnames)
                    }),
                )
            }))
        })
    }
}

/// `_DynamicStructBuilder.init` as a method of CPython's vector call written here
/// ([`install_builder_methods`]): PyO3's own method parses its arguments through a general
/// description (an `Option<u32>` extraction, keyword matching) and runs under its trampoline,
/// ~300 instructions of a list field's `init`. Its definition's doc (with the text signature)
/// is PyO3's, copied at installation.
static BUILDER_INIT: StaticMethodDef =
    StaticMethodDef(std::cell::UnsafeCell::new(pyo3::ffi::PyMethodDef {
        ml_name: c"init".as_ptr(),
        ml_meth: pyo3::ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: builder_init,
        },
        ml_flags: pyo3::ffi::METH_FASTCALL | pyo3::ffi::METH_KEYWORDS,
        ml_doc: std::ptr::null(),
    }));

/// PyO3's method descriptor for `init`, which [`builder_init`] calls for what it does not
/// answer itself.
static PYO3_BUILDER_INIT: std::sync::OnceLock<Py<PyAny>> = std::sync::OnceLock::new();

/// Replaces `init` in `_DynamicStructBuilder`'s dictionary by a method descriptor over
/// [`BUILDER_INIT`], keeping PyO3's; and `to_bytes` by one over [`BUILDER_TO_BYTES`]. Called
/// once, at module initialization, before any instance or subclass exists.
pub(crate) fn install_builder_methods(py: Python<'_>) -> PyResult<()> {
    replace_builder_method(py, "init", &BUILDER_INIT, &PYO3_BUILDER_INIT)?;
    replace_builder_method(py, "to_bytes", &BUILDER_TO_BYTES, &PYO3_BUILDER_TO_BYTES)
}

/// Replaces method `name` in `_DynamicStructBuilder`'s dictionary by a method descriptor
/// over `def` (given the doc, with the text signature, of PyO3's), keeping PyO3's descriptor
/// in `original`. A second call for the same name finds it kept and changes nothing.
fn replace_builder_method(
    py: Python<'_>,
    name: &str,
    def: &'static StaticMethodDef,
    original: &'static std::sync::OnceLock<Py<PyAny>>,
) -> PyResult<()> {
    let ty = <crate::struct_::PyStructBuilder as pyo3::PyTypeInfo>::type_object(py);
    let tp = ty.as_type_ptr();
    let name = PyString::intern(py, name);
    // SAFETY: the GIL is held; `tp` is the live heap type PyO3 made for the class (its
    // dictionary non-null once ready). The entry read is checked to be a
    // `method_descriptor`, whose layout is `PyMethodDescrObject`; its `PyMethodDef` is
    // PyO3's static, so its doc pointer stays valid for the program's life. `def` is written
    // here once, before `PyDescr_NewMethod` takes its address and before any call can read
    // it (only this installation, under the GIL, writes it; a second call finds `original`
    // set and returns). Setting a class attribute and calling `PyType_Modified` is what
    // CPython does for `cls.name = f`.
    unsafe {
        let dict = (*tp).tp_dict;
        if dict.is_null() {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "struct builder class without a dictionary",
            ));
        }
        let found = pyo3::ffi::PyDict_GetItemWithError(dict, name.as_ptr());
        if found.is_null()
            || pyo3::ffi::Py_TYPE(found) != std::ptr::addr_of_mut!(pyo3::ffi::PyMethodDescr_Type)
        {
            return Err(PyErr::take(py).unwrap_or_else(|| {
                pyo3::exceptions::PySystemError::new_err(format!(
                    "struct builder without its {name} method"
                ))
            }));
        }
        let found = Bound::from_borrowed_ptr(py, found);
        let pyo3_def = (*found.as_ptr().cast::<pyo3::ffi::PyMethodDescrObject>()).d_method;
        if original.set(found.unbind()).is_err() {
            return Ok(());
        }
        (*def.0.get()).ml_doc = (*pyo3_def).ml_doc;
        let descr =
            Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyDescr_NewMethod(tp, def.0.get()))?;
        if pyo3::ffi::PyDict_SetItem(dict, name.as_ptr(), descr.as_ptr()) != 0 {
            return Err(PyErr::fetch(py));
        }
        pyo3::ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// `_DynamicStructBuilder.to_bytes` as a `METH_NOARGS` method written here
/// ([`install_builder_methods`]): PyO3's method runs under its trampoline (the thread counted
/// as attached in PyO3's thread-local, a reference-pool check: ~110 instructions of a call).
static BUILDER_TO_BYTES: StaticMethodDef =
    StaticMethodDef(std::cell::UnsafeCell::new(pyo3::ffi::PyMethodDef {
        ml_name: c"to_bytes".as_ptr(),
        ml_meth: pyo3::ffi::PyMethodDefPointer {
            PyCFunction: builder_to_bytes,
        },
        ml_flags: pyo3::ffi::METH_NOARGS,
        ml_doc: std::ptr::null(),
    }));

/// PyO3's method descriptor for `to_bytes`, which [`builder_to_bytes`] calls for what it
/// does not answer itself.
static PYO3_BUILDER_TO_BYTES: std::sync::OnceLock<Py<PyAny>> = std::sync::OnceLock::new();

/// The function of [`BUILDER_TO_BYTES`]: `b.to_bytes()` of a root builder of exactly the
/// class not written before runs the method's body at once; any other (a message written
/// already, which warns: Python code) goes to PyO3's method.
unsafe extern "C" fn builder_to_bytes(
    slf: *mut pyo3::ffi::PyObject,
    _unused: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: CPython calls a method descriptor's `METH_NOARGS` function with the GIL held
    // and `slf` an instance of the class or a subclass (the descriptor checked it); the
    // pointer comparison with the class's recorded type makes the unchecked cast sound. The
    // quick call drops no `Py` on its way to success (`lean_slot`): the body marks the
    // message written (no warning: it was not) and hands out the `bytes` it makes. The other
    // calls go to PyO3's descriptor with `self` only (`call_pyo3_method`).
    unsafe {
        let type_addr = <crate::struct_::PyStructBuilder as AttrSlot>::saved()
            .get()
            .map_or(0, |saved| saved.type_addr);
        if pyo3::ffi::Py_TYPE(slf) as usize == type_addr && type_addr != 0 {
            let py = Python::assume_attached();
            let this =
                Borrowed::from_ptr(py, slf).cast_unchecked::<crate::struct_::PyStructBuilder>();
            if this.get().quick_write_ok() {
                return lean_slot(std::ptr::null_mut(), |py| {
                    Ok(this.get().to_bytes(py)?.into_ptr())
                });
            }
        }
        call_pyo3_method(
            &PYO3_BUILDER_TO_BYTES,
            slf,
            std::ptr::null(),
            0,
            std::ptr::null_mut(),
        )
    }
}

/// The function of [`BUILDER_INIT`]: `b.init(name)` and `b.init(name, size)` with a `str`
/// name and an `int` size within `u32` (or `None`) call the method's body at once; any other
/// call (keywords, another name type, another size) goes to PyO3's method as it is, so its
/// conversions and errors are PyO3's.
unsafe extern "C" fn builder_init(
    slf: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargs: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: CPython calls a method descriptor's function with the GIL held, `slf` an
    // instance of the class or a subclass (the descriptor checked it; the cast below checks
    // again), `args` its `nargs` positional arguments followed by one per name in `kwnames`,
    // all live for the call; the result is a new reference or NULL with an exception set.
    // `PyLong_AsLongLongAndOverflow` on an exact `int` raises nothing. The quick call drops
    // no `Py` on its way to success (`lean_slot`): the method's body hands out or owns every
    // object it makes. The other calls run inside `Python::attach`, as PyO3's trampoline
    // would (`call_pyo3_method`).
    unsafe {
        if kwnames.is_null() && (nargs == 1 || nargs == 2) {
            let field = *args;
            let size = if nargs == 1 || *args.add(1) == pyo3::ffi::Py_None() {
                Some(None)
            } else if pyo3::ffi::PyLong_CheckExact(*args.add(1)) != 0 {
                let mut overflow = 0;
                let v = pyo3::ffi::PyLong_AsLongLongAndOverflow(*args.add(1), &mut overflow);
                u32::try_from(v).ok().filter(|_| overflow == 0).map(Some)
            } else {
                None
            };
            if let (Some(size), true) = (size, pyo3::ffi::PyUnicode_CheckExact(field) != 0) {
                return lean_slot(std::ptr::null_mut(), |py| {
                    let this =
                        Borrowed::from_ptr(py, slf).cast::<crate::struct_::PyStructBuilder>()?;
                    let field = Borrowed::from_ptr(py, field);
                    Ok(
                        crate::struct_::PyStructBuilder::init_field(&this, &field, size)?
                            .into_ptr(),
                    )
                });
            }
        }
        call_pyo3_method(&PYO3_BUILDER_INIT, slf, args, nargs, kwnames)
    }
}

/// A call of PyO3's method descriptor `original` (kept by `replace_builder_method`) with
/// `slf` first, then a vector call's arguments as given, inside `Python::attach` (as PyO3's
/// trampoline would run it): what the replaced methods do not answer themselves.
///
/// SAFETY (for callers): the GIL is held; `slf` is live; `args`, `nargs` and `kwnames` are a
/// vector call's (`args` may be null when there are none).
unsafe fn call_pyo3_method(
    original: &std::sync::OnceLock<Py<PyAny>>,
    slf: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargs: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the caller's contract; the vector made for the descriptor borrows the caller's
    // references for the call, `self` first.
    unsafe {
        lean_slot(std::ptr::null_mut(), |_| {
            Ok(Python::attach(|py| {
                let Some(original) = original.get() else {
                    pyo3::exceptions::PySystemError::new_err("method used before installation")
                        .restore(py);
                    return std::ptr::null_mut();
                };
                let keywords = if kwnames.is_null() {
                    0
                } else {
                    pyo3::ffi::PyTuple_GET_SIZE(kwnames)
                };
                let count = usize::try_from(nargs + keywords).unwrap_or(0);
                let mut vector = Vec::with_capacity(count + 1);
                vector.push(slf);
                if count > 0 {
                    vector.extend_from_slice(std::slice::from_raw_parts(args, count));
                }
                pyo3::ffi::PyObject_Vectorcall(
                    original.as_ptr(),
                    vector.as_ptr(),
                    (nargs + 1) as usize,
                    kwnames,
                )
            }))
        })
    }
}

// Bound methods of the attribute-slot classes.

/// A method of a struct handle read as an attribute (`b.init`, `r.to_bytes`): the handle
/// and the class's method descriptor, called with CPython's vector convention. What
/// `method_descriptor.__get__` makes instead (a `builtin_function_or_method`) is allocated
/// through the collector's allocator and released through its trash can (~300 instructions
/// of a `b.init(...)` call); these come from a short free list. They answer as CPython's
/// bound built-in methods do: the same name, qualified name, doc, text signature (so
/// `inspect.signature` works), `__self__`, repr, equality and hash (equal to CPython's own
/// bound method of the same object and method), pickling by `getattr`, and the same errors.
///
/// A bound method is tracked by the cyclic collector only when its handle is (a Python
/// subclass's instance): a handle of our own classes is untracked and its `tp_traverse`
/// visits nothing (lean_object.rs: the collector could see no cycle through it even if it
/// were tracked), and the other references are the descriptor (reaching only its class,
/// which lives as long as the module) and this immutable type, so no cycle the collector
/// could free runs through the method.
#[repr(C)]
struct BoundMethod {
    ob_base: pyo3::ffi::PyObject,
    /// `bound_vectorcall` (the type's `__vectorcalloffset__`).
    vectorcall: Option<pyo3::ffi::vectorcallfunc>,
    /// The handle (a strong reference; null only in a block on the free list).
    this: *mut pyo3::ffi::PyObject,
    /// The `method_descriptor` (a strong reference), which keeps `def` alive.
    descr: *mut pyo3::ffi::PyObject,
    /// The descriptor's method definition: `METH_FASTCALL | METH_KEYWORDS` or `METH_NOARGS`.
    def: *mut pyo3::ffi::PyMethodDef,
}

/// The bound-method type (made at module initialization; null before).
static BOUND_TYPE: std::sync::atomic::AtomicPtr<pyo3::ffi::PyTypeObject> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// How many released bound methods are kept for reuse (a method is usually called at once
/// and dropped, so one or two are in use at a time).
const BOUND_KEPT: usize = 16;

/// Released bound methods' memory, untracked, their references released.
struct BoundFreeList {
    slots: std::cell::UnsafeCell<[*mut pyo3::ffi::PyObject; BOUND_KEPT]>,
    len: std::cell::UnsafeCell<usize>,
}

// SAFETY: read and written only by `bound_new` and `bound_dealloc`, which run with the GIL
// held (the module does not declare itself free of the GIL) and run no Python code while
// they use the list; the pointers are memory blocks the list owns.
unsafe impl Sync for BoundFreeList {}

static BOUND_FREE: BoundFreeList = BoundFreeList {
    slots: std::cell::UnsafeCell::new([std::ptr::null_mut(); BOUND_KEPT]),
    len: std::cell::UnsafeCell::new(0),
};

const FASTCALL_KEYWORDS: std::ffi::c_int = pyo3::ffi::METH_FASTCALL | pyo3::ffi::METH_KEYWORDS;

/// Whether a method definition's convention is one `bound_vectorcall` calls.
///
/// SAFETY (for callers): `def` points at a live `PyMethodDef`.
#[inline(always)]
unsafe fn bound_supported(def: *const pyo3::ffi::PyMethodDef) -> bool {
    // SAFETY: the caller's contract.
    let flags = unsafe { (*def).ml_flags };
    flags == FASTCALL_KEYWORDS || flags == pyo3::ffi::METH_NOARGS
}

/// A new bound method of `descr` (a `method_descriptor` whose definition
/// `bound_supported` accepts) for `this`; `None` before the type exists (the caller then
/// binds as CPython does). A new reference, or NULL with an exception set.
///
/// SAFETY (for callers): the GIL is held; `this` and `descr` are live objects, `descr` a
/// `method_descriptor` whose definition `bound_supported` accepts.
#[inline(always)]
unsafe fn bound_new(
    this: *mut pyo3::ffi::PyObject,
    descr: *mut pyo3::ffi::PyObject,
) -> Option<*mut pyo3::ffi::PyObject> {
    let tp = BOUND_TYPE.load(Ordering::Relaxed);
    if tp.is_null() {
        return None;
    }
    // SAFETY: the GIL is held, so the free list is this thread's alone (`BoundFreeList`).
    // A kept block is the memory of a bound method `bound_dealloc` released (untracked, its
    // references gone); `PyObject_Init` gives it its type (a new reference to the heap type,
    // as allocation takes) and a count of one. A new block from `PyType_GenericAlloc` is
    // zeroed and already tracked; the fields are written before anything can run a
    // collection, and `bound_traverse` skips null ones anyway. The references to `this` and
    // `descr` are the object's own.
    unsafe {
        let len = &mut *BOUND_FREE.len.get();
        let (obj, kept) = if *len > 0 {
            *len -= 1;
            let block = (*BOUND_FREE.slots.get())[*len];
            (pyo3::ffi::PyObject_Init(block, tp), true)
        } else {
            (pyo3::ffi::PyType_GenericAlloc(tp, 0), false)
        };
        if obj.is_null() {
            return Some(obj);
        }
        let bound = obj.cast::<BoundMethod>();
        pyo3::ffi::Py_INCREF(this);
        pyo3::ffi::Py_INCREF(descr);
        (*bound).vectorcall = Some(bound_vectorcall);
        (*bound).this = this;
        (*bound).descr = descr;
        (*bound).def = (*descr.cast::<pyo3::ffi::PyMethodDescrObject>()).d_method;
        // Tracked only when the handle is (see `BoundMethod`): never for an object of exactly
        // the method's class (a handle class: the lean allocator never tracks those), without
        // a call into CPython.
        let descr_type = (*descr.cast::<pyo3::ffi::PyDescrObject>()).d_type;
        let track =
            pyo3::ffi::Py_TYPE(this) != descr_type && pyo3::ffi::PyObject_GC_IsTracked(this) != 0;
        if kept && track {
            pyo3::ffi::PyObject_GC_Track(obj.cast());
        } else if !kept && !track {
            pyo3::ffi::PyObject_GC_UnTrack(obj.cast());
        }
        Some(obj)
    }
}

/// `tp_dealloc`: the references released, the memory kept while the free list has room.
unsafe extern "C" fn bound_dealloc(obj: *mut pyo3::ffi::PyObject) {
    // SAFETY: CPython calls `tp_dealloc` once, with the GIL held, on a bound method whose
    // last reference went. The free list is updated before the references are released
    // (their release may run Python code, which may make and release bound methods);
    // instances of heap types hold a reference to their type, released last.
    unsafe {
        pyo3::ffi::PyObject_GC_UnTrack(obj.cast());
        let bound = obj.cast::<BoundMethod>();
        let this = std::mem::replace(&mut (*bound).this, std::ptr::null_mut());
        let descr = std::mem::replace(&mut (*bound).descr, std::ptr::null_mut());
        let tp = pyo3::ffi::Py_TYPE(obj);
        let len = &mut *BOUND_FREE.len.get();
        if *len < BOUND_KEPT && tp == BOUND_TYPE.load(Ordering::Relaxed) {
            (*BOUND_FREE.slots.get())[*len] = obj;
            *len += 1;
        } else {
            pyo3::ffi::PyObject_GC_Del(obj.cast());
        }
        pyo3::ffi::Py_XDECREF(this);
        pyo3::ffi::Py_XDECREF(descr);
        pyo3::ffi::Py_DECREF(tp.cast());
    }
}

/// `tp_traverse`: the handle, the descriptor and (as for every heap type's instance, 3.9+)
/// the type.
unsafe extern "C" fn bound_traverse(
    obj: *mut pyo3::ffi::PyObject,
    visit: pyo3::ffi::visitproc,
    arg: *mut std::ffi::c_void,
) -> std::ffi::c_int {
    // SAFETY: the collector calls this with the GIL held on a live bound method.
    unsafe {
        let bound = obj.cast::<BoundMethod>();
        let ty = pyo3::ffi::Py_TYPE(obj).cast::<pyo3::ffi::PyObject>();
        for member in [(*bound).this, (*bound).descr, ty] {
            if !member.is_null() {
                let r = visit(member, arg);
                if r != 0 {
                    return r;
                }
            }
        }
        0
    }
}

/// The call, as CPython's `cfunction_vectorcall_FASTCALL_KEYWORDS` and
/// `cfunction_vectorcall_NOARGS` make it.
unsafe extern "C" fn bound_vectorcall(
    callable: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargsf: usize,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held on a live bound method (its
    // `__vectorcalloffset__` function), with `nargsf` positional arguments at `args` followed
    // by the keyword values named by `kwnames` (a tuple, or null). `def` is alive while the
    // descriptor is, which the object holds; its function is called with the convention its
    // flags name (`bound_new` made only those two), with the handle as `self`.
    unsafe {
        let bound = callable.cast::<BoundMethod>();
        let def = (*bound).def;
        let nargs = pyo3::ffi::PyVectorcall_NARGS(nargsf);
        if (*def).ml_flags == FASTCALL_KEYWORDS {
            return ((*def).ml_meth.PyCFunctionFastWithKeywords)(
                (*bound).this,
                args,
                nargs,
                kwnames,
            );
        }
        if !kwnames.is_null() && pyo3::ffi::PyTuple_GET_SIZE(kwnames) != 0 {
            return bound_arity_error(callable, "takes no keyword arguments".to_owned());
        }
        if nargs != 0 {
            return bound_arity_error(callable, format!("takes no arguments ({nargs} given)"));
        }
        ((*def).ml_meth.PyCFunction)((*bound).this, std::ptr::null_mut())
    }
}

/// Raises CPython's `TypeError` for a bad call of a bound built-in method: its qualified
/// name, `()`, then `what`. Returns NULL.
#[cold]
unsafe fn bound_arity_error(
    callable: *mut pyo3::ffi::PyObject,
    what: String,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the GIL is held (the caller's slot call); `callable` is a live bound method.
    unsafe {
        let py = Python::assume_attached();
        let qualname = Bound::from_borrowed_ptr(py, callable)
            .getattr(pyo3::intern!(py, "__qualname__"))
            .and_then(|q| q.extract::<String>());
        match qualname {
            Ok(q) => pyo3::exceptions::PyTypeError::new_err(format!("{q}() {what}")).restore(py),
            Err(e) => e.restore(py),
        }
        std::ptr::null_mut()
    }
}

/// The handle, the definition and the function of `obj` when it is one of these bound
/// methods or a CPython bound built-in method (for equality and hashing).
///
/// SAFETY (for callers): the GIL is held; `obj` is a live object.
unsafe fn bound_parts(obj: *mut pyo3::ffi::PyObject) -> Option<(usize, usize)> {
    // SAFETY: the caller's contract; each layout is read only after its type is checked.
    unsafe {
        if pyo3::ffi::Py_TYPE(obj) == BOUND_TYPE.load(Ordering::Relaxed) {
            let bound = obj.cast::<BoundMethod>();
            return Some((
                (*bound).this as usize,
                (*(*bound).def).ml_meth.PyCFunction as usize,
            ));
        }
        if pyo3::ffi::PyCFunction_Check(obj) != 0 {
            let f = obj.cast::<pyo3::ffi::PyCFunctionObject>();
            return Some((
                (*f).m_self as usize,
                (*(*f).m_ml).ml_meth.PyCFunction as usize,
            ));
        }
        None
    }
}

/// CPython's pointer hash (`_Py_HashPointer`): the address rotated by 4 bits.
fn pointer_hash(p: usize) -> pyo3::ffi::Py_hash_t {
    match p.rotate_right(4) as pyo3::ffi::Py_hash_t {
        -1 => -2,
        h => h,
    }
}

/// `tp_hash`, as `meth_hash`: the handle's address hash XOR the function's.
unsafe extern "C" fn bound_hash(obj: *mut pyo3::ffi::PyObject) -> pyo3::ffi::Py_hash_t {
    // SAFETY: called with the GIL held on a live bound method.
    let Some((this, meth)) = (unsafe { bound_parts(obj) }) else {
        return -2;
    };
    match pointer_hash(this) ^ pointer_hash(meth) {
        -1 => -2,
        h => h,
    }
}

/// `tp_richcompare`, as `meth_richcompare`: equal when both are bound methods (these or
/// CPython's) of the same object and function.
unsafe extern "C" fn bound_richcompare(
    a: *mut pyo3::ffi::PyObject,
    b: *mut pyo3::ffi::PyObject,
    op: std::ffi::c_int,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on live objects; the result is a new reference.
    unsafe {
        let parts = bound_parts(a).zip(bound_parts(b));
        let result = match (parts, op) {
            (Some((x, y)), pyo3::ffi::Py_EQ) => x == y,
            (Some((x, y)), pyo3::ffi::Py_NE) => x != y,
            _ => {
                let r = pyo3::ffi::Py_NotImplemented();
                pyo3::ffi::Py_INCREF(r);
                return r;
            }
        };
        pyo3::ffi::PyBool_FromLong(result.into())
    }
}

/// Runs `body` on a live bound method for one of its Python-level slots (repr, getters,
/// `__reduce__`), with the GIL held.
///
/// SAFETY (for callers): the GIL is held; `obj` is a live bound method.
unsafe fn bound_slot(
    obj: *mut pyo3::ffi::PyObject,
    body: impl FnOnce(Python<'_>, &BoundMethod) -> PyResult<Py<PyAny>>,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the caller's contract; `lean_slot` turns errors and panics into exceptions.
    unsafe {
        lean_slot(std::ptr::null_mut(), |py| {
            Ok(body(py, &*obj.cast::<BoundMethod>())?.into_ptr())
        })
    }
}

impl BoundMethod {
    /// The method's name (`ml_name`).
    fn name(&self) -> std::borrow::Cow<'_, str> {
        // SAFETY: `def` is alive while the object holds the descriptor; `ml_name` is a
        // NUL-terminated static string.
        unsafe { std::ffi::CStr::from_ptr((*self.def).ml_name) }.to_string_lossy()
    }

    /// The handle.
    fn this<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: the object holds a strong reference to its handle while it is alive.
        unsafe { Bound::from_borrowed_ptr(py, self.this) }
    }

    /// The method descriptor.
    fn descr<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: the object holds a strong reference to its descriptor while it is alive.
        unsafe { Bound::from_borrowed_ptr(py, self.descr) }
    }
}

unsafe extern "C" fn bound_repr(obj: *mut pyo3::ffi::PyObject) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on a live bound method.
    unsafe {
        bound_slot(obj, |py, b| {
            let this = b.this(py);
            let type_name = std::ffi::CStr::from_ptr((*pyo3::ffi::Py_TYPE(b.this)).tp_name)
                .to_string_lossy()
                .into_owned();
            let text = format!(
                "<built-in method {} of {} object at {:#x}>",
                b.name(),
                type_name,
                this.as_ptr() as usize
            );
            Ok(PyString::new(py, &text).into_any().unbind())
        })
    }
}

unsafe extern "C" fn bound_get_name(
    obj: *mut pyo3::ffi::PyObject,
    _closure: *mut std::ffi::c_void,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on a live bound method.
    unsafe {
        bound_slot(obj, |py, b| {
            Ok(PyString::new(py, &b.name()).into_any().unbind())
        })
    }
}

unsafe extern "C" fn bound_get_qualname(
    obj: *mut pyo3::ffi::PyObject,
    _closure: *mut std::ffi::c_void,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on a live bound method.
    unsafe {
        bound_slot(obj, |py, b| {
            let owner = b.this(py).get_type();
            let qualname: String = owner
                .getattr(pyo3::intern!(py, "__qualname__"))?
                .extract()?;
            Ok(PyString::new(py, &format!("{qualname}.{}", b.name()))
                .into_any()
                .unbind())
        })
    }
}

unsafe extern "C" fn bound_get_self(
    obj: *mut pyo3::ffi::PyObject,
    _closure: *mut std::ffi::c_void,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on a live bound method.
    unsafe { bound_slot(obj, |py, b| Ok(b.this(py).unbind())) }
}

unsafe extern "C" fn bound_get_module(
    _obj: *mut pyo3::ffi::PyObject,
    _closure: *mut std::ffi::c_void,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held; `None` is immortal or kept by the interpreter.
    unsafe {
        let none = pyo3::ffi::Py_None();
        pyo3::ffi::Py_INCREF(none);
        none
    }
}

/// `__doc__` and `__text_signature__`: the descriptor's (CPython derives both the same way
/// for the descriptor and its bound methods).
unsafe extern "C" fn bound_get_from_descr(
    obj: *mut pyo3::ffi::PyObject,
    closure: *mut std::ffi::c_void,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on a live bound method; `closure` is one of the two
    // static C strings of `bound_type`'s getter table.
    unsafe {
        let attr = std::ffi::CStr::from_ptr(closure.cast::<std::ffi::c_char>());
        bound_slot(obj, |py, b| {
            Ok(b.descr(py)
                .getattr(attr.to_string_lossy().as_ref())?
                .unbind())
        })
    }
}

/// `__reduce__`: `getattr(handle, name)`, as for CPython's bound built-in methods.
unsafe extern "C" fn bound_reduce(
    obj: *mut pyo3::ffi::PyObject,
    _unused: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on a live bound method.
    unsafe {
        bound_slot(obj, |py, b| {
            let getattr = py.import("builtins")?.getattr("getattr")?;
            Ok((getattr, (b.this(py), b.name().into_owned()))
                .into_pyobject(py)?
                .into_any()
                .unbind())
        })
    }
}

/// `tp_descr_get`: the object itself, so that `inspect` counts it as a method descriptor
/// (a routine whose signature comes from `__text_signature__`), as it counts CPython's
/// bound built-in methods as built-ins.
unsafe extern "C" fn bound_descr_get(
    obj: *mut pyo3::ffi::PyObject,
    _instance: *mut pyo3::ffi::PyObject,
    _owner: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: called with the GIL held on a live object; a new reference is returned.
    unsafe {
        pyo3::ffi::Py_INCREF(obj);
        obj
    }
}

/// Makes the bound-method type (module initialization); `method_quick` binds as CPython
/// does until it exists.
pub(crate) fn install_bound_methods(py: Python<'_>) -> PyResult<()> {
    if !BOUND_TYPE.load(Ordering::Relaxed).is_null() {
        return Ok(());
    }
    macro_rules! getter {
        ($name:expr, $get:expr, $closure:expr) => {
            pyo3::ffi::PyGetSetDef {
                name: $name.as_ptr(),
                get: Some($get),
                set: None,
                doc: std::ptr::null(),
                closure: $closure,
            }
        };
    }
    let none = std::ptr::null_mut();
    // Leaked on purpose: CPython keeps pointers into the tables for the type's life, which
    // is the program's.
    let getset: &'static mut [pyo3::ffi::PyGetSetDef] = Box::leak(Box::new([
        getter!(c"__name__", bound_get_name, none),
        getter!(c"__qualname__", bound_get_qualname, none),
        getter!(c"__self__", bound_get_self, none),
        getter!(c"__module__", bound_get_module, none),
        getter!(
            c"__doc__",
            bound_get_from_descr,
            c"__doc__".as_ptr().cast_mut().cast()
        ),
        getter!(
            c"__text_signature__",
            bound_get_from_descr,
            c"__text_signature__".as_ptr().cast_mut().cast()
        ),
        pyo3::ffi::PyGetSetDef::default(),
    ]));
    let methods: &'static mut [pyo3::ffi::PyMethodDef] = Box::leak(Box::new([
        pyo3::ffi::PyMethodDef {
            ml_name: c"__reduce__".as_ptr(),
            ml_meth: pyo3::ffi::PyMethodDefPointer {
                PyCFunction: bound_reduce,
            },
            ml_flags: pyo3::ffi::METH_NOARGS,
            ml_doc: std::ptr::null(),
        },
        pyo3::ffi::PyMethodDef::zeroed(),
    ]));
    let members: &'static mut [pyo3::ffi::PyMemberDef] = Box::leak(Box::new([
        pyo3::ffi::PyMemberDef {
            name: c"__vectorcalloffset__".as_ptr(),
            type_code: pyo3::ffi::Py_T_PYSSIZET,
            offset: std::mem::offset_of!(BoundMethod, vectorcall) as pyo3::ffi::Py_ssize_t,
            flags: pyo3::ffi::Py_READONLY,
            doc: std::ptr::null(),
        },
        pyo3::ffi::PyMemberDef::default(),
    ]));
    macro_rules! slot {
        ($id:expr, $f:expr) => {
            pyo3::ffi::PyType_Slot {
                slot: $id,
                pfunc: $f as *mut std::ffi::c_void,
            }
        };
    }
    let slots: &'static mut [pyo3::ffi::PyType_Slot] = Box::leak(Box::new([
        slot!(
            pyo3::ffi::Py_tp_dealloc,
            bound_dealloc as unsafe extern "C" fn(_)
        ),
        slot!(
            pyo3::ffi::Py_tp_traverse,
            bound_traverse as unsafe extern "C" fn(_, _, _) -> _
        ),
        slot!(
            pyo3::ffi::Py_tp_call,
            pyo3::ffi::PyVectorcall_Call as unsafe extern "C" fn(_, _, _) -> _
        ),
        slot!(
            pyo3::ffi::Py_tp_repr,
            bound_repr as unsafe extern "C" fn(_) -> _
        ),
        slot!(
            pyo3::ffi::Py_tp_hash,
            bound_hash as unsafe extern "C" fn(_) -> _
        ),
        slot!(
            pyo3::ffi::Py_tp_richcompare,
            bound_richcompare as unsafe extern "C" fn(_, _, _) -> _
        ),
        slot!(
            pyo3::ffi::Py_tp_descr_get,
            bound_descr_get as unsafe extern "C" fn(_, _, _) -> _
        ),
        slot!(pyo3::ffi::Py_tp_getset, getset.as_mut_ptr()),
        slot!(pyo3::ffi::Py_tp_methods, methods.as_mut_ptr()),
        slot!(pyo3::ffi::Py_tp_members, members.as_mut_ptr()),
        slot!(0, std::ptr::null_mut::<std::ffi::c_void>()),
    ]));
    #[cfg(Py_3_10)]
    let immutable = pyo3::ffi::Py_TPFLAGS_IMMUTABLETYPE;
    #[cfg(not(Py_3_10))]
    let immutable = 0;
    let spec: &'static mut pyo3::ffi::PyType_Spec = Box::leak(Box::new(pyo3::ffi::PyType_Spec {
        name: c"capnp.lib.capnp._BoundMethod".as_ptr(),
        basicsize: std::mem::size_of::<BoundMethod>() as std::ffi::c_int,
        itemsize: 0,
        flags: (pyo3::ffi::Py_TPFLAGS_DEFAULT
            | pyo3::ffi::Py_TPFLAGS_HAVE_GC
            | pyo3::ffi::Py_TPFLAGS_HAVE_VECTORCALL
            | immutable) as std::ffi::c_uint,
        slots: slots.as_mut_ptr(),
    }));
    // SAFETY: the GIL is held; the spec and its tables are leaked statics, valid for the
    // program's life as CPython requires. The new type is kept (one strong reference, never
    // released) for the same life.
    let tp = unsafe { pyo3::ffi::PyType_FromSpec(spec) };
    if tp.is_null() {
        return Err(PyErr::fetch(py));
    }
    let tp = tp.cast::<pyo3::ffi::PyTypeObject>();
    // The offset member only tells `PyType_FromSpec` where the function is (the type keeps
    // it in `tp_vectorcall_offset`); taken out of the dictionary so that `dir()` of a bound
    // method lists what CPython's list.
    // SAFETY: the GIL is held; `tp` is the new, ready heap type, whose dictionary is a dict.
    unsafe {
        let dict = (*tp).tp_dict;
        if !dict.is_null()
            && pyo3::ffi::PyDict_DelItemString(dict, c"__vectorcalloffset__".as_ptr()) != 0
        {
            pyo3::ffi::PyErr_Clear();
        }
        pyo3::ffi::PyType_Modified(tp);
    }
    BOUND_TYPE.store(tp, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    fn concatenation(head: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut all = head.to_vec();
        parts.iter().for_each(|p| all.extend_from_slice(p));
        all
    }

    #[test]
    fn every_range_of_the_parts_is_written_from_its_offset() {
        let data: Vec<u8> = (0..64u8).collect();
        let shapes: [(usize, &[usize]); 5] = [
            (0, &[]),
            (8, &[]),
            (8, &[0, 16, 0, 5]),
            (0, &[1, 1, 30]),
            (3, &[20, 0, 0, 17]),
        ];
        for (head_len, lens) in shapes {
            let mut at = head_len;
            let head = &data[..head_len];
            let parts: Vec<&[u8]> = lens
                .iter()
                .map(|&n| {
                    at += n;
                    &data[at - n..at]
                })
                .collect();
            let all = concatenation(head, &parts);
            for start in 0..=all.len() {
                for end in start..=all.len() {
                    let mut dst = vec![MaybeUninit::new(0xEEu8); end - start];
                    write_range(&mut dst, start, head, &parts);
                    // SAFETY: every element was initialized (with 0xEE) above.
                    let got: Vec<u8> = dst.iter().map(|b| unsafe { b.assume_init() }).collect();
                    assert_eq!(got, all[start..end], "{head_len} {lens:?} {start}..{end}");
                }
            }
        }
    }

    #[test]
    fn a_split_copy_writes_both_halves() {
        // Over `SPLIT_COPY`, with part boundaries on both sides of the split point and one
        // part across it.
        let n = SPLIT_COPY + 12_345;
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let cuts = [7, n / 2 - 100, n / 2 + 4096 + 3, n - 1];
        let head = &data[..cuts[0]];
        let parts: Vec<&[u8]> = cuts
            .windows(2)
            .map(|w| &data[w[0]..w[1]])
            .chain(std::iter::once(&data[cuts[3]..]))
            .collect();
        let mut dst = vec![MaybeUninit::new(0u8); n];
        assert!(write_parts(&mut dst, head, &parts));
        // SAFETY: every element was initialized (with 0) above.
        assert!(dst
            .iter()
            .zip(&data)
            .all(|(b, d)| unsafe { b.assume_init() } == *d));
        let mut short = vec![MaybeUninit::new(0u8); n - 1];
        assert!(!write_parts(&mut short, head, &parts));
    }

    #[test]
    fn a_helper_that_ended_when_idle_is_replaced_by_a_new_one() {
        if !split_copy() {
            return;
        }
        let n = SPLIT_COPY + 4096 * 3 + 17;
        let data: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        let copy = || {
            let mut dst = vec![MaybeUninit::new(0u8); n];
            assert!(write_parts(&mut dst, &data[..5], &[&data[5..]]));
            // SAFETY: every element was initialized (with 0) above.
            assert!(dst
                .iter()
                .zip(&data)
                .all(|(b, d)| unsafe { b.assume_init() } == *d));
        };
        // Other tests split copies too (one helper for the process): each step below holds
        // whatever helper is recorded at the time.
        copy();
        let first = copy_helper::thread_id().expect("a helper thread was started");
        copy_helper::join_after_idle();
        // The record names a thread that has ended: the next copy starts another one and is
        // still written whole.
        copy();
        let second = copy_helper::thread_id().expect("a new helper thread was started");
        assert_ne!(first, second);
    }
}
