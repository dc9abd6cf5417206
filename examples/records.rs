//! Writes synthetic 12-lead records as CSV (`time_s,I,...,V6`, 10 s at 500 Hz, every lead
//! complete), for page generators outside this crate such as `scripts/kit_style_pages.py`:
//! `cargo run --release --example records -- <out-dir> [count]`.

use ecg_digitizer::render::{synthetic_ecg_with, SyntheticOptions};
use ecg_digitizer::Lead;
use std::fmt::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).cloned().unwrap_or_else(|| "records".into());
    let count: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(40);
    std::fs::create_dir_all(&out).expect("create output directory");
    for seed in 1..=count {
        let ecg = synthetic_ecg_with(
            seed,
            &SyntheticOptions {
                heart_rate_bpm: 50.0 + ((seed * 37) % 100) as f32,
                duration_s: 10.0,
                fs_hz: 500.0,
                // Some high-frequency content, as real records have.
                noise_mv: 0.015,
                ..SyntheticOptions::default()
            },
        );
        let names: Vec<&str> = Lead::ALL.iter().map(|l| l.name()).collect();
        let mut csv = format!("time_s,{}\n", names.join(","));
        for i in 0..ecg.n_samples() {
            let _ = write!(csv, "{:.3}", i as f32 / ecg.fs_hz);
            for l in Lead::ALL {
                let _ = write!(csv, ",{:.4}", ecg.lead(l)[i]);
            }
            csv.push('\n');
        }
        std::fs::write(format!("{out}/r{seed:03}.csv"), csv).expect("write record");
    }
}
