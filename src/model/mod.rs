//! Domain types shared by every layer: the normalized wide event and its validation.
//!
//! Invariant: an [`Event`] only exists in normalized form (spec events §1.8). Everything that
//! reaches the writer has passed [`validate::validate_item`].

pub mod event;
pub mod validate;

pub use event::{
    Anchor, Downstream, ErrorRef, Event, EventKind, EventStatus, Log, LogLevel, SchemaVersion,
    Step, StepError, StepStatus, UnknownValue, status_is_failed,
};
pub use validate::{ItemReject, RejectReason, validate_item, validate_item_owned};
