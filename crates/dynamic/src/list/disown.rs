//! `disown(i)` on list builders: an element's content detached into an orphan.

use capnp::private::layout::StructSize;

use super::{resolve, ListBuilder};
use crate::copy::Snapshot;
use crate::error::{Error, Result};
use crate::message::BLoc;
use crate::orphan::Orphan;
use crate::raw::{RawPtrBuilder, RawStructReader};
use crate::value::{StructValue, Value};

impl ListBuilder {
    /// Detaches element `index` into an orphan. A pointer element is left null; a struct
    /// element (stored inline, so it cannot be null) is copied out and zeroed, as the
    /// reference does.
    pub fn disown(&self, index: i64) -> Result<Orphan> {
        if !self.elem.is_pointer() {
            return Err(Error::TypeMismatch);
        }
        if let Value::Struct(StructValue::Builder(element)) = self.get(index)? {
            let snapshot = Snapshot::of_struct(&element.as_reader())?;
            let orphan = Orphan::from_snapshot(
                Some(&snapshot),
                self.elem.clone(),
                self.base.registry.clone(),
            )?;
            // An empty struct copied over the element zeroes its data and clears its pointers.
            let mut empty_message = capnp::message::Builder::new_default();
            let empty = empty_message
                .init_root::<RawPtrBuilder<'_>>()
                .0
                .init_struct(StructSize {
                    data: 0,
                    pointers: 0,
                });
            self.with_loc(|loc| match loc {
                BLoc::StructList(mut l) => {
                    let i = resolve(index, l.len())?;
                    l.set_with_caveats(i, RawStructReader(empty.as_reader()))?;
                    Ok(())
                }
                _ => Err(Error::TypeMismatch),
            })?;
            return Ok(orphan);
        }
        self.with_loc(|loc| match loc {
            BLoc::PtrList(l) => {
                let i = resolve(index, l.len())?;
                let mut pointer = l.get(i).get_as::<RawPtrBuilder<'_>>()?.0;
                let snapshot = Snapshot::of_pointer(pointer.as_reader())?;
                let orphan = Orphan::from_snapshot(
                    Some(&snapshot),
                    self.elem.clone(),
                    self.base.registry.clone(),
                )?;
                pointer.clear();
                Ok(orphan)
            }
            _ => Err(Error::TypeMismatch),
        })
    }
}
