//! Dev-set pages (ECG-Image-Kit renderings of real records) and a phone photo of a printed
//! page, checked against their truth.

use ecg_digitizer::eval::{parse_csv, score_page};
use ecg_digitizer::{digitize, export, Options};

mod common;
use common::fixture;

/// (mean raw SNR dB, aligned dB) of one fixture page.
fn score(image: &str, truth: &str) -> (f64, f64) {
    let bytes = std::fs::read(fixture(image)).unwrap();
    let d = digitize(&bytes, &Options::default()).unwrap_or_else(|e| panic!("{image}: {e}"));
    let pred = parse_csv(&export::csv::to_csv(&d)).unwrap();
    let truth = parse_csv(&std::fs::read_to_string(fixture(truth)).unwrap()).unwrap();
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

#[test]
fn noisy_100_dpi_page_keeps_its_qrs_strokes() {
    // White noise broke the one-pixel QRS strokes up, and the paths cut across them: 4.4 dB
    // aligned before the stroke plane, 11.8 dB with it.
    check("kit100_noise35.jpg", "kit100_noise35.csv", 9.0, 9.0);
}

#[test]
fn phone_photo_of_a_wrinkled_sheet_is_laid_flat_and_read() {
    // A phone photo of a printed page (Paper2Pulse's ECG-Paper-1K preview): no output at
    // all before the sheet was laid flat along its grid, 9.5 / 11.1 dB with it, 11.5 / 12.8
    // with its lines followed in whichever of colour and darkness shows them better.
    check("photo_ph002.jpg", "photo_ph002.csv", 11.0, 12.5);
}

#[test]
fn printed_lead_labels_are_read_where_the_layout_puts_them() {
    use ecg_digitizer::{grid, ink, labels, Lead};
    let bytes = std::fs::read(fixture("dev002.png")).unwrap();
    let image = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let planes = ink::separate(&image, &ink::InkOptions::default());
    let g = grid::measure(&planes, &grid::GridOptions::default());
    let runs = ink::ColumnRuns::build(&planes.ink, g.levels.threshold, |v| g.levels.weight(v));
    let weight = |v: f32| g.levels.weight(v);
    let view = ink::InkView {
        plane: &planes.ink,
        weight: &weight,
    };
    let reads = labels::read(
        &runs,
        &view,
        g.px_per_mm_y,
        &labels::LabelOptions::default(),
    );
    // Most labels are read, none is misread: each read sits at its panel's start.
    assert!(reads.len() >= 10, "only {} labels read", reads.len());
    let expected = [
        [Lead::I, Lead::AVR, Lead::V1, Lead::V4],
        [Lead::II, Lead::AVL, Lead::V2, Lead::V5],
        [Lead::III, Lead::AVF, Lead::V3, Lead::V6],
    ];
    for r in &reads {
        // Panels start every 2.5 s (196.85 px at 200 DPI) after x = 118; rows every 283 px.
        let col = ((r.x_left - 118.0) / 196.85 / 2.5).round() as usize;
        let row = ((r.y_center - 750.0) / 283.3).round() as usize;
        let want = if row < 3 {
            expected[row][col]
        } else {
            Lead::II
        };
        assert_eq!(r.lead, want, "label at x {} y {}", r.x_left, r.y_center);
    }
}
