//! Domain types shared by every layer, with no I/O and no transport types:
//! - [`event`]: the normalized wide event ([`Event`] and its parts), its JSON form (derived
//!   `Serialize`, spec events §1.8) and the typed values of its members ([`EventKind`],
//!   [`EventStatus`] with the one failed-status rule, [`StepStatus`], [`LogLevel`]);
//! - [`validate`]: one ingest item → a normalized [`Event`] or an [`ItemReject`] (spec events
//!   §1, §2.4 stages 2-5);
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

pub mod deployment;
pub mod event;
pub mod family;
pub mod rejection;
pub mod signal;
pub mod validate;

pub use event::{
    Anchor, Downstream, ErrorRef, Event, EventKind, EventStatus, Log, LogLevel, SchemaVersion,
    Step, StepError, StepStatus, UnknownValue, status_is_failed,
};
pub use validate::{ItemReject, RejectReason, validate_item, validate_item_owned};
