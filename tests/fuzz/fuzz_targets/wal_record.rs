#![no_main]
//! Fuzz target `wal_record`: see `waylog::fuzzing::wal_records`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::wal_records(data));
