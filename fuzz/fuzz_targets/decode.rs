//! Stage 1 alone, many times faster than the whole pipeline: any bytes must decode to a page
//! within the limits, or give a typed error.
#![no_main]

use ecg_digitizer::decode::decode;
use ecg_digitizer::options::DecodeLimits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = decode(data, &DecodeLimits::default(), 4000) {
        let (w, h) = d.image.dimensions();
        assert!(w.min(h) >= ecg_digitizer::decode::MIN_SIDE_PX && w.max(h) <= 4000);
    }
});
