#![no_main]
//! Fuzz target `otlp_json`: see `waylog::fuzzing::otlp_json`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::otlp_json(data));
