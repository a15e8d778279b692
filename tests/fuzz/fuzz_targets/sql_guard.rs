#![no_main]
//! Fuzz target `sql_guard`: see `waylog::fuzzing::sql_guard`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::sql_guard(data));
