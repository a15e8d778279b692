#![no_main]
//! Fuzz target `otlp_proto`: see `waylog::fuzzing::otlp_proto`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::otlp_proto(data));
