//! Dev-set pages (ECG-Image-Kit renderings of real records) checked against their truth.

use ecg_digitizer::eval::{parse_csv, score_page};
use ecg_digitizer::{digitize, export, Options};
use std::path::Path;

/// (mean raw SNR dB, aligned dB) of one fixture page.
fn score(image: &str, truth: &str) -> (f64, f64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let bytes = std::fs::read(dir.join(image)).unwrap();
    let d = digitize(&bytes, &Options::default()).unwrap_or_else(|e| panic!("{image}: {e}"));
    let pred = parse_csv(&export::csv::to_csv(&d)).unwrap();
    let truth = parse_csv(&std::fs::read_to_string(dir.join(truth)).unwrap()).unwrap();
    let s = score_page(&truth, &pred, 0.2);
    (s.mean_raw_db(), 10.0 * s.aligned_ratio().log10())
}

fn check(image: &str, truth: &str, min_raw: f64, min_aligned: f64) {
    let (raw, aligned) = score(image, truth);
    eprintln!("{image}: raw {raw:.2} dB, aligned {aligned:.2} dB");
    assert!(
        raw >= min_raw && aligned >= min_aligned,
        "{image}: raw {raw:.2} dB (min {min_raw}), aligned {aligned:.2} dB (min {min_aligned})"
    );
}

#[test]
fn clean_page_matches_its_truth() {
    check("dev002.png", "dev002.csv", 14.0, 16.0);
}

#[test]
fn grey_grid_page_matches_its_truth() {
    check("dev012.png", "dev012.csv", 11.5, 12.0);
}

#[test]
fn page_without_pulse_matches_its_truth() {
    check("dev014.png", "dev014.csv", 19.0, 22.0);
}

#[test]
fn rotated_noisy_jpeg_matches_its_truth() {
    check("dev028.jpg", "dev028.csv", 13.5, 15.0);
}
