#![no_main]
//! Fuzz target `manifest_json`: see `waylog::fuzzing::manifest_json`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::manifest_json(data));
