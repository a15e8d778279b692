#![no_main]
//! Fuzz target `id_log`: see `waylog::fuzzing::id_log`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::id_log(data));
