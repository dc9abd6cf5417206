//! Any bytes through the public entry point: every input must give `Ok` or a typed error.
#![no_main]

use ecg_digitizer::{digitize, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A panic, abort, timeout or out-of-memory here is the bug libFuzzer reports.
    let _ = digitize(data, &Options::default());
});
