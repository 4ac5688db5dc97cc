//! Struct handle objects made and released without PyO3's per-object bookkeeping: a
//! `tp_dealloc` that releases a struct list element's object without PyO3's trampoline, and
//! a short free list of object memory per class (`tp_alloc`/`tp_free`). Audited unsafe code;
//! the argument is in docs/ARCHITECTURE.md ("Unsafe code", "Lean objects").
//!
//! A struct list subscript makes one object and the caller soon drops it; its allocation
//! (CPython's `PyType_GenericAlloc`: `malloc`, zeroing, the collector's link) and its
//! release (PyO3's `tp_dealloc` under a trampoline that counts the thread as attached, the
//! `Py` fields' own thread-local checks, `free`) were half of `lst[i]`.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::PyClass;

/// How many released objects a class keeps for reuse: a list of up to this many elements
/// iterated again and again takes them all from the list (CPython keeps 80 lists, 100
/// floats); a few tens of KiB per class.
const KEPT: usize = 128;

/// A frozen pyclass whose objects are released by [`tp_dealloc`] when they keep their list
/// object (lent elements), and whose memory goes through a free list ([`install`]). Its
/// objects are never tracked by the cyclic collector ([`tp_alloc`]), so the class must not
/// implement `__traverse__`: references it could visit would hide cycles from the collector.
pub(crate) trait LeanObject:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Send + Sync + InPlace
{
    /// The slots PyO3 made for the class and its free list (a static per class).
    fn saved() -> &'static OnceLock<Saved>;
    /// Whether dropping the value can release no Python object but the references
    /// [`InPlace::release_in_place`] hands back: a lent element (it keeps its
    /// list's object, which holds the message), or a list handle whose base another handle
    /// shares (so its drop does not drop the message either).
    fn lean_release(&self) -> bool;

    /// `Py::new(py, self)` (what [`new_object`] does when it cannot do better).
    fn made_by_pyo3(self, py: Python<'_>) -> PyResult<Py<Self>>;
}

/// Whether dropping a handle's message, should the handle hold its last reference, can
/// release no Python object ([`LeanObject::lean_release`]): a builder's message with heap
/// segments and no capability context (`MessageBuilder::holds_no_host_objects`: a root
/// builder of `new_message()` dropped, a list outliving its root). A reader's message may
/// hold the Python buffer it reads.
pub(crate) trait HostFree {
    fn host_free(&self) -> bool;
}

impl HostFree for capnp_dynamic::StructBuilder {
    fn host_free(&self) -> bool {
        self.message().holds_no_host_objects()
    }
}

impl HostFree for capnp_dynamic::ListBuilder {
    fn host_free(&self) -> bool {
        self.message().holds_no_host_objects()
    }
}

impl HostFree for capnp_dynamic::LocatedReader {
    fn host_free(&self) -> bool {
        false
    }
}

impl HostFree for capnp_dynamic::ListReader {
    fn host_free(&self) -> bool {
        false
    }
}

/// A [`LeanObject`]'s value taken apart where it lies (here, for every class: unsafe code
/// stays in this module).
pub(crate) trait InPlace {
    /// Its Rust parts dropped, the Python references it held (its registry, and its list if
    /// kept) read out and returned for the caller to release. Not moved out first: a
    /// handle's value is a few hundred bytes, and copying it (a `memcpy` call) cost more
    /// than the drop.
    ///
    /// SAFETY (for callers): `this` points at a live value the caller may write, which no one
    /// else drops or uses afterwards (its memory is left holding a dropped value).
    unsafe fn release_in_place(this: *mut Self) -> (Py<PyAny>, Option<Py<PyAny>>);
}

/// [`InPlace`] for a handle class of fields `inner`, `registry` and, when `keep` is given,
/// `keep`: every field that owns anything (the classes' modules list every field in a
/// pattern, so a field added fails to compile there until it is released here too).
macro_rules! in_place {
    ($ty:ty) => {
        impl InPlace for $ty {
            unsafe fn release_in_place(this: *mut Self) -> (Py<PyAny>, Option<Py<PyAny>>) {
                // SAFETY: the caller's contract; each field is read out or dropped once.
                unsafe {
                    let registry = std::ptr::read(std::ptr::addr_of!((*this).registry));
                    std::ptr::drop_in_place(std::ptr::addr_of_mut!((*this).inner));
                    (registry.into_any(), None)
                }
            }
        }
    };
    ($ty:ty, keep) => {
        impl InPlace for $ty {
            unsafe fn release_in_place(this: *mut Self) -> (Py<PyAny>, Option<Py<PyAny>>) {
                // SAFETY: the caller's contract; each field is read out or dropped once.
                unsafe {
                    let registry = std::ptr::read(std::ptr::addr_of!((*this).registry));
                    let keep = std::ptr::read(std::ptr::addr_of!((*this).keep));
                    std::ptr::drop_in_place(std::ptr::addr_of_mut!((*this).inner));
                    (registry.into_any(), keep)
                }
            }
        }
    };
}

in_place!(crate::list::PyListBuilder, keep);
in_place!(crate::list::PyListReader, keep);
in_place!(crate::struct_::PyStructReader, keep);

impl InPlace for crate::struct_::PyStructBuilder {
    unsafe fn release_in_place(this: *mut Self) -> (Py<PyAny>, Option<Py<PyAny>>) {
        // SAFETY: the caller's contract; each field is read out or dropped once. A root
        // handle with a base of its own is moved out (a copy of the value) and released
        // through `StructBuilder::release`, which may keep its base as the thread's spare
        // root; any other handle is dropped where it lies.
        unsafe {
            let registry = std::ptr::read(std::ptr::addr_of!((*this).registry));
            let keep = std::ptr::read(std::ptr::addr_of!((*this).keep));
            let inner = std::ptr::addr_of_mut!((*this).inner);
            if (*inner).is_own_root() {
                std::ptr::read(inner).release();
            } else {
                std::ptr::drop_in_place(inner);
            }
            (registry.into_any(), keep)
        }
    }
}

/// The two items of a [`LeanObject`] impl that are the same for every class: the class's
/// own [`Saved`] static and `Py::new`.
macro_rules! lean_object_common {
    () => {
        fn saved() -> &'static std::sync::OnceLock<crate::lean_object::Saved> {
            static SAVED: std::sync::OnceLock<crate::lean_object::Saved> =
                std::sync::OnceLock::new();
            &SAVED
        }

        fn made_by_pyo3(self, py: Python<'_>) -> PyResult<Py<Self>> {
            Py::new(py, self)
        }
    };
}
pub(crate) use lean_object_common;

/// What [`install`] replaced, and the class's free list.
pub(crate) struct Saved {
    /// Compared by address only; the type lives as long as the module (PyO3 keeps it).
    type_addr: usize,
    dealloc: ffi::destructor,
    alloc: ffi::allocfunc,
    free: ffi::freefunc,
    kept: FreeList,
    /// Where the value lies in an object of the class ([`new_object`]): 0 until the first
    /// object made by PyO3 shows it, `usize::MAX` when PyO3's contents hold more than the
    /// value (then every object is made by PyO3).
    contents_at: AtomicUsize,
}

/// Released objects' memory (with the collector's header before each), untracked, whose
/// contents were dropped: blocks `tp_alloc` of the class's own type made.
struct FreeList {
    slots: UnsafeCell<[*mut ffi::PyObject; KEPT]>,
    len: UnsafeCell<usize>,
}

// SAFETY: the list is read and written only by this module's slot functions, which CPython
// calls with the GIL held (the module does not declare itself free of the GIL), and none of
// which runs Python code while it uses the list; so no two threads touch it at once. The
// pointers are memory blocks owned by the list, not shared objects.
unsafe impl Sync for FreeList {}
// SAFETY: as for `Sync`: the blocks are plain memory owned by the list.
unsafe impl Send for FreeList {}

/// `tp_dealloc` of a [`LeanObject`] class. An object of exactly the class whose value can be
/// dropped without releasing its message ([`LeanObject::lean_release`]) is released here; any
/// other (a Python subclass's, which reaches this slot from its own deallocation, or an object
/// that may own its message) goes to PyO3's.
unsafe extern "C" fn tp_dealloc<T: LeanObject>(obj: *mut ffi::PyObject) {
    let Some(saved) = T::saved().get() else {
        // Unreachable: installed only after saving; leaking is the safe way out.
        return;
    };
    // SAFETY: CPython calls `tp_dealloc` with the GIL held, once, on an object whose last
    // reference went, of a type that has this slot: `T`'s or a Python subclass of it, so the
    // cast to `T` is sound (a subclass object starts with `T`'s layout).
    unsafe {
        let ty = ffi::Py_TYPE(obj);
        let py = Python::assume_attached();
        let this = pyo3::Borrowed::from_ptr(py, obj).cast_unchecked::<T>();
        if ty as usize != saved.type_addr || !this.get().lean_release() {
            return (saved.dealloc)(obj);
        }
        ffi::PyObject_GC_UnTrack(obj.cast());
        // Should another thread drop its share of a list's base meanwhile (`base_shared` is
        // read unsynchronized), the message goes with this drop: its Python objects are then
        // released through PyO3's own `Py` drop, which queues them for the next attach when
        // it does not count this thread as attached (late, never unsound).
        // The value is taken apart where it lies, in the object's memory, which is freed below
        // without PyO3 dropping it again. The class has no `__dict__`, weak references or
        // thread checker (checked at installation: the value is all of PyO3's contents that
        // needs dropping). The pointer is made from the object's own (as `new_object` writes
        // the value) when its offset is known; else the value is moved out first.
        let at = saved.contents_at.load(Ordering::Relaxed);
        let release = || {
            if at != 0 && at != usize::MAX {
                T::release_in_place(obj.cast::<u8>().add(at).cast::<T>())
            } else {
                let mut value = std::mem::ManuallyDrop::new(std::ptr::read(this.get()));
                T::release_in_place(&mut *value)
            }
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(release)) {
            // Released at once: `Py_DECREF` needs no thread-local count (`Py`'s drop would
            // queue them in PyO3's pool, which this slot does not enter).
            Ok((registry, keep)) => {
                ffi::Py_DECREF(registry.into_ptr());
                if let Some(keep) = keep {
                    ffi::Py_DECREF(keep.into_ptr());
                }
            }
            Err(payload) => Python::attach(|py| {
                crate::ffi::panic_error(payload).write_unraisable(py, None);
            }),
        }
        free(saved, obj);
        // Instances of heap types hold a reference to their type.
        ffi::Py_DECREF(ty.cast());
    }
}

/// `tp_alloc` of a [`LeanObject`] class: a kept block when there is one, else CPython's.
unsafe extern "C" fn tp_alloc<T: LeanObject>(
    ty: *mut ffi::PyTypeObject,
    nitems: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    let Some(saved) = T::saved().get() else {
        // SAFETY: the caller's arguments passed on to CPython's allocator.
        return unsafe { ffi::PyType_GenericAlloc(ty, nitems) };
    };
    // SAFETY: called with the GIL held (by `object_new` under PyO3's `Py::new`, or by
    // `new_object`), so the free list is this thread's alone (`FreeList`'s `Sync`). A kept
    // block was made by `saved.alloc` for exactly this type (blocks of other types are never
    // kept) and its object was released, untracked, with its contents dropped.
    // `PyObject_Init` gives it its type (taking a reference to the heap type, as allocation
    // does) and a reference count. It is not zeroed as `PyType_GenericAlloc` leaves new
    // memory: both callers, PyO3's `Py::new` (through `object_new`) and `new_object`, write
    // the whole contents before anything reads them, and read nothing there first (PyO3
    // would read a `__dict__` slot, which the class has not: checked at installation).
    unsafe {
        if ty as usize == saved.type_addr && nitems == 0 {
            let len = &mut *saved.kept.len.get();
            if *len > 0 {
                *len -= 1;
                let obj = (*saved.kept.slots.get())[*len];
                // Left untracked by the collector, as every object of the class (below).
                return ffi::PyObject_Init(obj, ty);
            }
        }
        let obj = (saved.alloc)(ty, nitems);
        if ty as usize == saved.type_addr && !obj.is_null() {
            // Untracked: the class's `tp_traverse` (PyO3's, with no `__traverse__`) visits
            // none of the object's references, so the collector can find no cycle through
            // it, tracked or not; untracked, collections do not visit it and making and
            // releasing it skip two calls. (`PyType_GenericAlloc` tracked it; its contents
            // are not written yet, which untracking does not read.)
            ffi::PyObject_GC_UnTrack(obj.cast());
        }
        obj
    }
}

/// `tp_free` of a [`LeanObject`] class: the block kept while there is room, else freed.
unsafe extern "C" fn tp_free<T: LeanObject>(block: *mut std::ffi::c_void) {
    let Some(saved) = T::saved().get() else {
        // SAFETY: a GC object's memory, as every pyclass's (freed as PyO3 frees it).
        return unsafe { ffi::PyObject_GC_Del(block) };
    };
    // SAFETY: `tp_free` is called with the GIL held on the memory of an object of a type
    // whose `tp_free` this is (`T`'s own: Python subclasses get CPython's), whose
    // deallocation untracked it and dropped its contents.
    unsafe { free(saved, block.cast()) }
}

/// Keeps the memory of `obj` while there is room, else frees it.
///
/// SAFETY (for callers): the GIL is held; `obj` is the memory of an object whose type has
/// `saved`'s slots, untracked, its contents dropped, not used afterwards.
#[inline(always)]
unsafe fn free(saved: &Saved, obj: *mut ffi::PyObject) {
    // SAFETY: the caller's contract; only blocks of exactly the class's type are kept (the
    // ones `tp_alloc` may hand out again for it), anything else goes to the saved function.
    unsafe {
        if ffi::Py_TYPE(obj) as usize == saved.type_addr {
            let len = &mut *saved.kept.len.get();
            if *len < KEPT {
                (*saved.kept.slots.get())[*len] = obj;
                *len += 1;
                return;
            }
        }
        (saved.free)(obj.cast())
    }
}

/// A new object of exactly `T`'s class holding `value`: as `Py::new`, without PyO3's
/// construction (the base type's `tp_new` found and called with an empty tuple, which checks
/// its arguments and calls `tp_alloc`; the contents assembled and moved in). The object's
/// memory comes from [`tp_alloc`] and `value` is written where PyO3 keeps it, learnt from the
/// first object PyO3 makes (a class not installed, or whose contents hold more than the value,
/// is always made by PyO3).
#[inline]
pub(crate) fn new_object<T: LeanObject>(py: Python<'_>, value: T) -> PyResult<Py<T>> {
    let Some(saved) = T::saved().get() else {
        return value.made_by_pyo3(py);
    };
    let at = saved.contents_at.load(Ordering::Relaxed);
    if at == 0 || at == usize::MAX {
        return first_object(py, saved, value);
    }
    let ty = saved.type_addr as *mut ffi::PyTypeObject;
    // SAFETY: the GIL is held (`py`). `ty` is `T`'s live heap type (PyO3 keeps it for the
    // module's life; installation saved its address), whose `tp_alloc` is ours: an object of
    // the class with its type reference and count, untracked, contents not initialized (or
    // null with an exception set). `at` was measured on an object PyO3 made for this type
    // (`first_object`): the value starts there, and the rest of PyO3's contents after it has
    // no size (checked there against the type's size), so there is nothing else to
    // initialize: the borrow flag of a frozen class, the thread checker of a `Send` class
    // and the absent `__dict__`/weak-reference slots are empty types. Writing the value is
    // all `Py::new` does after allocating; nothing runs in between that could start a
    // collection or look at the contents.
    unsafe {
        let obj = tp_alloc::<T>(ty, 0);
        if obj.is_null() {
            drop(value);
            return Err(PyErr::fetch(py));
        }
        std::ptr::write(obj.cast::<u8>().add(at).cast::<T>(), value);
        Ok(Bound::from_owned_ptr(py, obj)
            .cast_into_unchecked::<T>()
            .unbind())
    }
}

/// The class's object made by PyO3, from which [`new_object`] learns where the value lies:
/// its offset in the object, kept when the value is all of PyO3's contents (the object's size,
/// the type's basic size, ends right after it).
#[cold]
#[inline(never)]
fn first_object<T: LeanObject>(py: Python<'_>, saved: &Saved, value: T) -> PyResult<Py<T>> {
    let obj = value.made_by_pyo3(py)?;
    if saved.contents_at.load(Ordering::Relaxed) == 0 {
        let start = obj.as_ptr() as usize;
        let at = (obj.get() as *const T as usize).wrapping_sub(start);
        // SAFETY: reading the basic size of the object's live type (`T`'s: made by PyO3).
        let size = unsafe { (*ffi::Py_TYPE(obj.as_ptr())).tp_basicsize };
        let exact = at >= std::mem::size_of::<ffi::PyObject>()
            && usize::try_from(size).is_ok_and(|size| at + std::mem::size_of::<T>() == size);
        saved
            .contents_at
            .store(if exact { at } else { usize::MAX }, Ordering::Relaxed);
    }
    Ok(obj)
}

/// Replaces `tp_dealloc`, `tp_alloc` and `tp_free` of `T`'s type by the ones above. Called
/// once, at module initialization, before any instance exists.
pub(crate) fn install<T: LeanObject>(py: Python<'_>) -> PyResult<()> {
    let ty = T::type_object(py);
    let tp = ty.as_type_ptr();
    // SAFETY: `tp` is the live heap type PyO3 made for `T` (kept alive by `ty`), the GIL is
    // held, and no instance or subclass exists yet: every object is then allocated and freed
    // by the new pair. The slots are fields of the type object itself; subclasses made later
    // copy `tp_dealloc` as their base's (reached from their own deallocation) and get
    // CPython's `tp_alloc`/`tp_free` of their own.
    unsafe {
        let heap = (*tp).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE != 0;
        let gc = (*tp).tp_flags & ffi::Py_TPFLAGS_HAVE_GC != 0;
        let plain = (*tp).tp_dictoffset == 0 && (*tp).tp_weaklistoffset == 0;
        let (Some(dealloc), Some(alloc), Some(free)) =
            ((*tp).tp_dealloc, (*tp).tp_alloc, (*tp).tp_free)
        else {
            return Err(not_expected());
        };
        if !heap || !gc || !plain || (*tp).tp_itemsize != 0 {
            return Err(not_expected());
        }
        let saved = Saved {
            type_addr: tp as usize,
            dealloc,
            alloc,
            free,
            kept: FreeList {
                slots: UnsafeCell::new([std::ptr::null_mut(); KEPT]),
                len: UnsafeCell::new(0),
            },
            contents_at: AtomicUsize::new(0),
        };
        if T::saved().set(saved).is_err() {
            return Ok(());
        }
        (*tp).tp_dealloc = Some(tp_dealloc::<T>);
        (*tp).tp_alloc = Some(tp_alloc::<T>);
        (*tp).tp_free = Some(tp_free::<T>);
        ffi::PyType_Modified(tp);
    }
    Ok(())
}

#[cold]
fn not_expected() -> PyErr {
    pyo3::exceptions::PySystemError::new_err("struct class without the expected layout")
}
