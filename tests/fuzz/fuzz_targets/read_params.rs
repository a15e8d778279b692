#![no_main]
//! Fuzz target `read_params`: see `waylog::fuzzing::read_params`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::read_params(data));
