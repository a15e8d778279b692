#![no_main]
//! Fuzz target `alert_payload`: see `waylog::fuzzing::alert_payload`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::alert_payload(data));
