//! Domain types shared by every layer: the normalized wide event and its validation, the
//! error family, signals, and [`rejection::Rejection`] (a refusal in the spec's words, without
//! transport). No I/O; depends on nothing but `config`-free leaf modules.
//!
//! Invariant: an [`Event`] only exists in normalized form (spec events §1.8). Everything that
//! reaches the writer has passed [`validate::validate_item`].

pub mod event;
pub mod family;
pub mod rejection;
pub mod signal;
pub mod validate;

pub use event::{Anchor, Downstream, ErrorRef, Event, Log, Step, StepError};
pub use validate::{ItemReject, RejectReason, validate_item, validate_item_owned};
