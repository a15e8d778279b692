#![no_main]
//! Fuzz target `rfc3339`: see `waylog::fuzzing::rfc3339`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::rfc3339(data));
