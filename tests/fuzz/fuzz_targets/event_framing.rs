#![no_main]
//! Fuzz target `event_framing`: see `waylog::fuzzing::event_items`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waylog::fuzzing::event_items(data));
