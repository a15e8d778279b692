//! Writes into the tables, without transport: the `/v1/events` pipeline ([`events`],
//! [`framing`]), OpenTelemetry spans as wide events ([`otlp`], [`otlp_json`]), production
//! signals ([`signals`]), external alerts ([`alerts`]) and deployments ([`deployments`]).
//! Each validates its input into rows and appends them through the storage writer (dedup,
//! WAL, hot tier); the routes that call these live in `src/api/`.

pub mod alert_intake;
pub mod alerts;
pub mod deployments;
pub mod events;
pub mod framing;
pub mod otlp;
pub mod otlp_json;
pub mod otlp_limits;
pub mod signals;
