//! Domain types shared by every layer, with no I/O and no transport types:
//! - [`event`]: the normalized wide event ([`Event`] and its parts), its JSON form (derived
//!   `Serialize`, spec events §1.8) and the typed values of its members ([`EventKind`],
//!   [`EventStatus`] with the one failed-status rule, [`StepStatus`], [`LogLevel`]);
//! - [`validate`]: one ingest item → a normalized [`Event`] or an [`ItemReject`] (spec events
//!   §1, §2.4 stages 2-5);
//! - [`fast`]: the typed, borrowing fast path of the same validation ([`fast::EventView`]),
//!   which accepts exactly what [`validate`] accepts and leaves every rejection to it;
//! - [`signal`]: the one validated [`signal::Signal`] with its typed type and severity;
//! - [`family`]: the error family and its display form;
//! - [`deployment`]: the latest state of one deployment;
//! - [`rejection`]: a refusal in the spec's words ([`rejection::Rejection`]: an error class and
//!   the `{code, message, detail}` object), which the edge maps to a status or gRPC code.
//!
//! Timestamps in these types are unix ns; their text form lives in [`crate::rfc3339`].
//! Arrow conversions of these types live in `storage::schema` (write) and `query::rows` (read).
//!
//! Invariant: an [`Event`] only exists in normalized form (spec events §1.8). Everything that
//! reaches the writer has passed [`validate::validate_item`].

/// A string-valued enum with a fixed wire string per variant: `as_str`, `parse`, `ALL` (spec
/// order), `FromStr`, `Display` and serde (`rename` = the wire string) from one table.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every value, in spec order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// Exact match on the wire string (case-sensitive, no trimming).
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::UnknownValue;

            fn from_str(s: &str) -> Result<$name, $crate::model::UnknownValue> {
                $name::parse(s).ok_or_else(|| $crate::model::UnknownValue {
                    what: $what,
                    value: s.to_owned(),
                })
            }
        }

        /// Compares with the wire string, as `http::Method` does (`kind == "rpc"`).
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod deployment;
pub mod event;
pub mod family;
pub mod fast;
pub mod rejection;
pub mod signal;
pub mod validate;

pub use event::{
    Anchor, Downstream, ErrorRef, Event, EventKind, EventStatus, Log, LogLevel, SchemaVersion,
    Step, StepError, StepStatus, UnknownValue, status_is_failed,
};
pub use validate::{ItemReject, RejectReason, validate_item, validate_item_owned};
