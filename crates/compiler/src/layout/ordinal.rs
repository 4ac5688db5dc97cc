//! The sequential-ordinal check of SCHEMA-COMPILER.md 6.5 step 1, shared by fields, enumerants and methods.

use crate::ast::Ordinal;
use crate::diag::Span;

/// Checks ordinals fed in sorted order (ties in declaration order): each must
/// be exactly the next one. The state mirrors the reference so that the
/// "originally used here" note appears once per accepted ordinal.
#[derive(Clone, Debug, Default)]
pub struct OrdinalChecker {
    /// The next ordinal that would be accepted; `u32` because it may reach 65536.
    expected: u32,
    /// The last accepted ordinal, until a duplicate of it has pointed at it.
    last_accepted: Option<Ordinal>,
}

impl OrdinalChecker {
    pub fn new() -> OrdinalChecker {
        OrdinalChecker::default()
    }

    pub fn check(&mut self, ord: Ordinal, errors: &mut Vec<(Span, String)>) {
        let value = u32::from(ord.value);
        if value < self.expected {
            errors.push((ord.span, "Duplicate ordinal number.".to_owned()));
            if let Some(last) = self.last_accepted.take() {
                errors.push((
                    last.span,
                    format!("Ordinal @{} originally used here.", last.value),
                ));
            }
        } else if value > self.expected {
            errors.push((
                ord.span,
                format!(
                    "Skipped ordinal @{}.  Ordinals must be sequential with no holes.",
                    self.expected
                ),
            ));
            // A skip is not an acceptance: a later duplicate still points at
            // the ordinal accepted before the gap (if not already reported).
            self.expected = value + 1;
        } else {
            self.expected += 1;
            self.last_accepted = Some(ord);
        }
    }
}
