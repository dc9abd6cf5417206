//! End to end on pages drawn by the project's own renderer: known signals in, SNR out.
//! Thresholds sit a few dB under what the pipeline reaches, so a regression fails them.

use ecg_digitizer::eval::{score_page, Table};
use ecg_digitizer::render::{render, synthetic_ecg, Fold, Glare, RenderOptions, Rendered};
use ecg_digitizer::{digitize_image, Digitization, Options, StageOptions};

/// Digitizes the image `edit` makes of a rendered page (the page itself, or a crop, say) and
/// returns (mean raw SNR dB, aligned dB) with the digitization. The truth keeps every
/// sample, so whatever the edit cuts away counts as missed.
fn score_edited(
    opts: RenderOptions,
    edit: impl Fn(&Rendered) -> image::RgbImage,
) -> ((f64, f64), Digitization) {
    let ecg = synthetic_ecg(7 + opts.seed, 72.0, 10.0, 500.0);
    let page = render(&ecg, &opts);
    let d = digitize_image(&edit(&page), &Options::default(), &StageOptions::default())
        .unwrap_or_else(|e| panic!("digitize failed: {e}"));
    (score(&page, &d), d)
}

/// (mean raw SNR dB, aligned dB) of a digitization against its rendered page's truth.
fn score(page: &Rendered, d: &Digitization) -> (f64, f64) {
    let pred = Table {
        leads: ecg_digitizer::Lead::ALL
            .iter()
            .map(|&l| {
                (0..d.n_samples)
                    .map(|n| d.lead(l).and_then(|s| s.at(n)).map(f64::from))
                    .collect()
            })
            .collect(),
        fs_hz: d.fs_hz as f64,
    };
    let s = score_page(&page.truth, &pred, 0.2);
    (s.mean_raw_db(), 10.0 * s.aligned_ratio().log10())
}

/// Checks a rendered page's scores and returns its digitization, for further checks.
fn check(name: &str, opts: RenderOptions, min_raw: f64, min_aligned: f64) -> Digitization {
    check_edited(name, opts, |page| page.image.clone(), min_raw, min_aligned)
}

/// Like [`check`], on the image `edit` makes of the page (see [`score_edited`]).
fn check_edited(
    name: &str,
    opts: RenderOptions,
    edit: impl Fn(&Rendered) -> image::RgbImage,
    min_raw: f64,
    min_aligned: f64,
) -> Digitization {
    let ((raw, aligned), d) = score_edited(opts, edit);
    eprintln!("{name}: raw {raw:.2} dB, aligned {aligned:.2} dB");
    assert!(
        raw >= min_raw && aligned >= min_aligned,
        "{name}: raw {raw:.2} dB (min {min_raw}), aligned {aligned:.2} dB (min {min_aligned})"
    );
    d
}

#[test]
fn clean_200_dpi_page_is_read_almost_exactly() {
    check("clean", RenderOptions::default(), 25.0, 24.0);
}

#[test]
fn page_rotated_8_degrees_either_way_is_deskewed() {
    for deg in [-8.0, 8.0] {
        let o = RenderOptions {
            rotation_deg: deg,
            seed: 1,
            ..Default::default()
        };
        // At +8° a QRS meets a separator bar, whose columns must come from the other rows.
        check(&format!("rot {deg}"), o, 18.0, 18.0);
    }
}

#[test]
fn strong_pixel_noise_is_tolerated() {
    let o = RenderOptions {
        noise_sigma: 25.0,
        seed: 2,
        ..Default::default()
    };
    check("noise 25", o, 23.0, 20.0);
}

#[test]
fn noise_as_strong_as_sigma_50_is_smoothed_before_reading() {
    // ECG-Image-Kit's strongest default noise; before smoothing and hysteresis the pulses
    // and QRS strokes broke up and the page read at a few dB.
    for (dpi, min) in [(200.0, 21.0), (150.0, 18.0)] {
        let o = RenderOptions {
            noise_sigma: 50.0,
            dpi,
            seed: 12,
            ..Default::default()
        };
        check(&format!("noise 50 at {dpi} dpi"), o, min, min);
    }
}

#[test]
fn grey_and_green_and_brown_grids_are_separated_from_the_trace() {
    for (name, major, minor) in [
        ("grey", [102, 102, 102], [191, 191, 191]),
        ("green", [0, 76, 0], [0, 204, 76]),
        ("brown", [109, 50, 47], [150, 107, 101]),
    ] {
        let o = RenderOptions {
            grid_major_rgb: major,
            grid_minor_rgb: Some(minor),
            ink_rgb: [0, 0, 0],
            seed: 3,
            ..Default::default()
        };
        check(name, o, 22.0, 22.0);
    }
}

#[test]
fn scans_from_100_to_300_dpi_are_scaled_by_the_grid() {
    // 88 DPI: the resolution of the coarsest real scans seen, ECG PDFs rasterised for the web.
    for (dpi, min) in [(88.0, 18.0), (100.0, 21.0), (150.0, 22.0), (300.0, 18.0)] {
        let o = RenderOptions {
            dpi,
            seed: 4,
            ..Default::default()
        };
        check(&format!("{dpi} dpi"), o, min, min);
    }
}

#[test]
fn page_without_pulse_assumes_10_mm_per_mv() {
    let o = RenderOptions {
        pulse: false,
        seed: 5,
        ..Default::default()
    };
    check("no pulse", o, 25.0, 23.0);
}

#[test]
fn pulse_height_sets_the_gain() {
    for gain in [5.0, 20.0] {
        let o = RenderOptions {
            gain_mm_per_mv: gain,
            seed: 6,
            ..Default::default()
        };
        check(&format!("gain {gain}"), o, 25.0, 23.0);
    }
}

#[test]
fn paper_speed_option_rescales_time() {
    let o = RenderOptions {
        speed_mm_per_s: 50.0,
        duration_s: 5.0,
        seed: 8,
        ..Default::default()
    };
    let options = Options {
        speed_mm_per_s: Some(50.0),
        ..Options::default()
    };
    let ecg = synthetic_ecg(15, 72.0, 5.0, 500.0);
    let page = render(&ecg, &o);
    let d = digitize_image(&page.image, &options, &StageOptions::default()).unwrap();
    // Five seconds of paper at 50 mm/s fill the same width as ten at 25 mm/s.
    assert!(
        (d.duration_s() - 5.0).abs() < 0.01,
        "duration {}",
        d.duration_s()
    );
}

#[test]
fn six_by_two_and_twelve_by_one_pages_are_laid_out() {
    use ecg_digitizer::{LayoutSpec, Lead};
    for (name, layout, min) in [
        ("6x2", LayoutSpec::six_by_two(&[Lead::II]), 22.0),
        ("12x1", LayoutSpec::twelve_by_one(&[]), 18.0),
    ] {
        let o = RenderOptions {
            layout,
            seed: 9,
            ..Default::default()
        };
        check(name, o, min, min);
    }
}

#[test]
fn unlabelled_pages_in_another_lead_order_are_named_by_einthovens_law() {
    use ecg_digitizer::{LayoutSpec, Lead};
    // ECG-Image-Kit's order, bottom row up; the renderer prints no labels to read.
    for (name, layout, min) in [
        ("6x2 bottom-up", LayoutSpec::bottom_up(2, &[Lead::II]), 22.0),
        ("12x1 bottom-up", LayoutSpec::bottom_up(1, &[]), 18.0),
        // Cabrera's order prints -aVR: read upright, aVR would come out inverted.
        ("6x2 Cabrera", LayoutSpec::cabrera_6x2(&[Lead::II]), 22.0),
        ("12x1 Cabrera", LayoutSpec::cabrera_12x1(&[]), 18.0),
    ] {
        let o = RenderOptions {
            layout,
            seed: 11,
            ..Default::default()
        };
        check(name, o, min, min);
    }
}

#[test]
fn v1_rhythm_strip_is_recognised_by_its_short_panel() {
    use ecg_digitizer::{LayoutSpec, Lead};
    let o = RenderOptions {
        layout: LayoutSpec::standard_3x4(&[Lead::V1]),
        seed: 10,
        ..Default::default()
    };
    let d = check("rhythm V1", o, 22.0, 22.0);
    assert_eq!(d.layout, "3x4+V1");
}

#[test]
fn upside_down_page_is_turned_over() {
    let o = RenderOptions {
        rotation_deg: 180.0,
        seed: 11,
        ..Default::default()
    };
    let d = check("upside down", o, 21.0, 18.0);
    assert!(
        (d.rotation_deg - 180.0).abs() < 0.5,
        "rotation {}",
        d.rotation_deg
    );
    assert!(d.warnings.iter().any(|w| w.contains("upside down")));
}

#[test]
fn page_scanned_sideways_is_turned_a_quarter_turn() {
    let o = RenderOptions {
        seed: 13,
        ..Default::default()
    };
    for (name, turn) in [
        (
            "a quarter turn clockwise",
            image::imageops::rotate90 as fn(&_) -> _,
        ),
        ("a quarter turn anticlockwise", image::imageops::rotate270),
    ] {
        check_edited(name, o.clone(), |p| turn(&p.image), 30.0, 25.0);
    }
}

#[test]
fn page_cropped_through_its_pulses_keeps_its_time_origin() {
    // Cut through the pulses' tops (their rising edges gone): what is left of them still
    // calibrates and is not read as trace. Then past the time origin, so that the first 0.1 s
    // of the left-hand leads is off the page (and counts as missed): the origin comes from
    // the separator bars alone, a sample early since nothing shows that pulses were printed.
    for (name, cut_s, min_raw, min_aligned) in [
        ("through the pulses", -0.1, 28.0, 24.0),
        ("past the origin", 0.1, 15.0, 19.0),
    ] {
        let o = RenderOptions {
            seed: 12,
            ..Default::default()
        };
        let crop = |page: &Rendered| {
            let g = &page.geometry;
            let x = (g.x0_px + cut_s * g.px_per_s).round() as u32;
            image::imageops::crop_imm(&page.image, x, 0, g.width_px - x, g.height_px).to_image()
        };
        check_edited(&format!("cropped {name}"), o, crop, min_raw, min_aligned);
    }
}

/// Draws a line of blocky pseudo-text centred on `y`, over the share `span` of the page's
/// width: glyphs 2 mm wide and 2.5 mm tall, each a stem and some of three bars, varied the
/// way letters are (a dead-level line of ink would pass for a ruler), in words of five.
fn draw_text_line(image: &mut image::RgbImage, px_per_mm: f32, y: f32, span: (f32, f32)) {
    let w = image.width() as f32;
    let mm = |v: f32| (v * px_per_mm).round() as i64;
    let (glyph, gap, word_gap, half_h, stroke) = (mm(2.0), mm(0.5), mm(2.0), mm(1.25), mm(0.3));
    let mut fill = |x0: i64, y0: i64, x1: i64, y1: i64| {
        for yy in y0.max(0)..y1.min(image.height() as i64) {
            for xx in x0.max(0)..x1.min(image.width() as i64) {
                image.put_pixel(xx as u32, yy as u32, image::Rgb([0, 0, 0]));
            }
        }
    };
    let (yc, mut x, x_end) = (y.round() as i64, (span.0 * w) as i64, (span.1 * w) as i64);
    let mut k = 0u32;
    while x + glyph <= x_end {
        // A fixed sequence of shapes: which bars (top, middle, bottom) and where the stem.
        let shape = k.wrapping_mul(2_654_435_761) >> 27;
        let (top, bottom) = (yc - half_h, yc + half_h);
        let stem = [x, x + glyph / 2, x + glyph - stroke][(shape % 3) as usize];
        fill(stem, top, stem + stroke, bottom);
        for (bit, yy) in [top, yc, bottom - stroke].into_iter().enumerate() {
            if shape & (2 << bit) != 0 {
                fill(x, yy, x + glyph, yy + stroke);
            }
        }
        k += 1;
        x += glyph + if k.is_multiple_of(5) { word_gap } else { gap };
    }
}

#[test]
fn header_and_footer_text_lines_are_not_taken_for_trace_rows() {
    // A printed report's lines of text above the first row and below the last, closer to
    // them than the row pitch. Before text lines were told from trace rows by how much of
    // the page they cover, the header became the first row and every lead moved down one.
    let o = RenderOptions {
        seed: 13,
        ..Default::default()
    };
    let add_text = |page: &Rendered| {
        let g = &page.geometry;
        let (first, last) = (
            g.baseline_y_px[0],
            g.baseline_y_px[g.baseline_y_px.len() - 1],
        );
        let pitch = g.baseline_y_px[1] - first;
        let mut image = page.image.clone();
        draw_text_line(&mut image, g.px_per_mm, first - 0.6 * pitch, (0.25, 0.95));
        draw_text_line(&mut image, g.px_per_mm, last + 0.6 * pitch, (0.05, 0.75));
        image
    };
    check_edited("header and footer text", o, add_text, 20.0, 20.0);
}

#[test]
fn pulses_printed_after_the_traces_set_the_gain() {
    // Some devices print the 1 mV pulse at each row's right end. At 20 mm/mV, an assumed
    // 10 mm/mV would halve every lead (6 dB aligned at best).
    let o = RenderOptions {
        pulse: false,
        gain_mm_per_mv: 20.0,
        seed: 15,
        ..Default::default()
    };
    let add_pulses = |page: &Rendered| {
        let g = &page.geometry;
        let mut image = page.image.clone();
        let line = (0.25 * g.px_per_mm).round().max(1.0) as u32;
        let mut fill = |x0: f32, y0: f32, x1: f32, y1: f32| {
            for y in y0.round() as u32..=y1.round() as u32 {
                for x in x0.round() as u32..=x1.round() as u32 {
                    image.put_pixel(x, y, image::Rgb([20, 20, 20]));
                }
            }
        };
        let end_s = page.truth.leads[0].len() as f32 / 500.0;
        for row in 0..g.baseline_y_px.len() {
            let (x_rise, x_fall) = (g.x_of(end_s + 0.04), g.x_of(end_s + 0.24));
            let (base, top) = (g.y_of(row, 0.0), g.y_of(row, 1.0));
            let l = line as f32;
            fill(x_rise, top, x_rise + l, base);
            fill(x_rise, top, x_fall + l, top + l);
            fill(x_fall, top, x_fall + l, base);
        }
        image
    };
    check_edited("pulses after the traces", o, add_pulses, 20.0, 20.0);
}

#[test]
fn page_without_a_grid_is_scaled_by_its_pulses() {
    // No grid to measure: the 0.2 s, 1 mV pulses give the scale, checked against the paper
    // sizes (A4 is 297 mm long, not the letter length assumed without pulses), and alone on
    // a page cropped to no paper size (its right 15% cut off, and counted as missed).
    let keep = |share: f32| {
        move |page: &Rendered| {
            let g = &page.geometry;
            let w = (g.width_px as f32 * share) as u32;
            image::imageops::crop_imm(&page.image, 0, 0, w, g.height_px).to_image()
        }
    };
    for (name, page_mm, share, min_raw, min_aligned) in [
        ("letter", (279.4, 215.9), 1.0, 15.0, 23.0),
        ("A4", (297.0, 210.0), 1.0, 15.0, 21.0),
        ("cropped", (279.4, 215.9), 0.85, 9.0, 6.0),
    ] {
        let o = RenderOptions {
            grid: false,
            page_mm,
            seed: 12,
            ..Default::default()
        };
        check_edited(
            &format!("no grid, {name}"),
            o,
            keep(share),
            min_raw,
            min_aligned,
        );
    }
}

#[test]
fn page_without_grid_or_pulses_is_scaled_by_the_resolution_its_file_states() {
    use ecg_digitizer::render::{to_png, to_png_at_dpi};
    // An A4 page at 150 DPI: without a grid or pulses, only the file's resolution tells its
    // scale; without it the page is taken for letter size, 6 % off in time.
    let o = RenderOptions {
        grid: false,
        pulse: false,
        page_mm: (297.0, 210.0),
        dpi: 150.0,
        seed: 13,
        ..Default::default()
    };
    let ecg = synthetic_ecg(7 + o.seed, 72.0, 10.0, 500.0);
    let page = render(&ecg, &o);
    let score = |bytes: &[u8], options: &Options| {
        score(&page, &ecg_digitizer::digitize(bytes, options).unwrap())
    };
    let defaults = Options::default();
    let stated = score(&to_png_at_dpi(&page.image, 150.0), &defaults);
    let bare = score(&to_png(&page.image), &defaults);
    let given = score(
        &to_png(&page.image),
        &Options {
            dpi: Some(150.0),
            ..Options::default()
        },
    );
    // A default a file states (72 dpi makes this page 1.2 m long) is not believed.
    let implausible = score(&to_png_at_dpi(&page.image, 72.0), &defaults);
    eprintln!("stated {stated:?}, given {given:?}, none {bare:?}, 72 dpi {implausible:?}");
    // (A pHYs chunk holds whole pixels per metre: 150 dpi is stored as 150.01.)
    for (name, s) in [("stated", stated), ("given", given)] {
        assert!(s.0 >= 24.0 && s.1 >= 24.0, "{name} {s:?}");
    }
    assert_eq!(implausible, bare);
    assert!(bare.1 < stated.1 - 3.0, "letter assumption {bare:?}");
}

#[test]
fn photographed_page_is_made_square_again() {
    // Top edge 8 % short; then the left edge short and the top long, tilted 4° as well.
    // Left as photographed, these pages score 0–4 dB: every row slopes and shears.
    for (name, keystone, rotation_deg, seed) in [
        ("keystone top", (0.08, 0.0), 0.0, 20),
        ("keystone both ways", (-0.06, 0.05), 0.0, 22),
        ("keystone and 4°", (0.05, 0.05), 4.0, 20),
    ] {
        let o = RenderOptions {
            keystone,
            rotation_deg,
            seed,
            ..Default::default()
        };
        let d = check(name, o, 29.0, 24.0);
        assert!(
            d.warnings.iter().any(|w| w.contains("perspective")),
            "{name}: {:?}",
            d.warnings
        );
    }
}

#[test]
fn uneven_light_and_lens_blur_are_tolerated() {
    for (name, shading, blur_px, seed, min_raw) in [
        ("shaded 40 % and blurred 1 px", 0.4, 1.0, 20, 25.0),
        ("shaded 60 %", 0.6, 0.0, 22, 30.0),
        ("blurred 1.5 px", 0.0, 1.5, 22, 23.0),
    ] {
        let o = RenderOptions {
            shading,
            blur_px,
            seed,
            ..Default::default()
        };
        check(name, o, min_raw, 23.0);
    }
}

#[test]
fn phone_photo_at_an_angle_in_uneven_light_is_read() {
    let o = RenderOptions {
        keystone: (0.06, -0.03),
        rotation_deg: -3.0,
        shading: 0.4,
        blur_px: 1.0,
        noise_sigma: 6.0,
        seed: 22,
        ..Default::default()
    };
    check("photo", o, 26.0, 23.0);
}

#[test]
fn a_hard_edged_shadow_across_the_page_divides_out() {
    // The shadow of a phone held over the page: everything right of a slanted edge (soft
    // over about 1 mm) is 45 % darker, through traces, pulses and labels alike. The paper
    // level is taken per block, so it divides out: 26.6 / 25.3 dB, unshadowed 26.5 / 25.5.
    let o = RenderOptions {
        seed: 23,
        ..Default::default()
    };
    check_edited(
        "shadow",
        o,
        |page| {
            let mut image = page.image.clone();
            let (w, h) = (image.width() as f32, image.height() as f32);
            for (x, y, p) in image.enumerate_pixels_mut() {
                let edge = 0.45 * w + 0.3 * (y as f32 - h / 2.0);
                let inside = ((x as f32 - edge) / 8.0).clamp(0.0, 1.0);
                let k = 1.0 - 0.45 * inside;
                for c in p.0.iter_mut() {
                    *c = (f32::from(*c) * k).round() as u8;
                }
            }
            image
        },
        23.0,
        23.0,
    );
}

#[test]
fn coarse_page_without_a_grid_is_not_given_a_grid_by_its_rows_and_beats() {
    // At 100 DPI a gridless page's beats (lined up down the rows) and rows looked periodic
    // on both axes: a false grid of 16 px/mm made the page 67 mm long, four times too small.
    let o = RenderOptions {
        grid: false,
        dpi: 100.0,
        seed: 12,
        ..Default::default()
    };
    let d = check("no grid, 100 DPI", o, 15.0, 20.0);
    assert!(!d.grid_found);
    assert!(
        (d.px_per_mm_x - 100.0 / 25.4).abs() < 0.05,
        "{}",
        d.px_per_mm_x
    );
}

/// DejaVu Sans, in which ECG-Image-Kit prints its settings text, cut to those characters.
fn settings_font() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fonts/DejaVuSans-settings.ttf"
    );
    std::fs::read(path).expect("the settings font fixture")
}

#[test]
fn paper_speed_and_gain_printed_under_the_traces_are_read() {
    use ecg_digitizer::calibration::Source;
    // Without pulses only the text gives the speed and gain: the assumed 25 mm/s and
    // 10 mm/mV would halve time, and halve or double amplitude.
    for (dpi, gain, seed, text) in [
        (200.0, 5.0, 16, ["{speed}mm/s", "{gain}mm/mV"]),
        (100.0, 20.0, 17, ["{speed}mm/s", "{gain}mm/mV"]),
        (
            150.0,
            5.0,
            18,
            ["Speed: {speed} mm/s", "Gain: {gain} mm/mV"],
        ),
    ] {
        let o = RenderOptions {
            speed_mm_per_s: 50.0,
            duration_s: 5.0,
            gain_mm_per_mv: gain,
            pulse: false,
            settings_font: Some(settings_font()),
            settings_text: text.map(String::from).to_vec(),
            dpi,
            seed,
            ..Default::default()
        };
        let name = format!("settings text at {dpi} dpi");
        let d = check(&name, o, 21.0, 21.0);
        assert_eq!(
            (
                d.speed_mm_per_s,
                d.speed_source,
                d.gain_mm_per_mv,
                d.gain_source
            ),
            (50.0, Source::Text, gain, Source::Text),
            "{name}"
        );
    }
}

#[test]
fn printed_settings_that_the_pulses_contradict_are_reported() {
    use ecg_digitizer::calibration::Source;
    // The pulses measure 10 mm/mV and 25 mm/s; the text says otherwise. The gain follows
    // the pulses, the speed the text, and both disagreements are told.
    let o = RenderOptions {
        settings_font: Some(settings_font()),
        settings_text: vec!["50mm/s".into(), "20mm/mV".into()],
        seed: 19,
        ..Default::default()
    };
    let ecg = synthetic_ecg(7 + o.seed, 72.0, 10.0, 500.0);
    let page = render(&ecg, &o);
    let d = digitize_image(&page.image, &Options::default(), &StageOptions::default()).unwrap();
    assert_eq!((d.gain_mm_per_mv, d.gain_source), (10.0, Source::Pulse));
    assert_eq!((d.speed_mm_per_s, d.speed_source), (50.0, Source::Text));
    for told in ["says 20 mm/mV", "says 50 mm/s"] {
        assert!(
            d.warnings.iter().any(|w| w.contains(told)),
            "{told}: {:?}",
            d.warnings
        );
    }
}

// Phone photos of printed pages: the sheet lies curled, folded or flat on a desk, with only
// its 5 mm grid lines, and is laid flat along its own grid before it is read.

/// A photographed sheet: major grid lines only, as the photos' printer draws them.
fn photographed(seed: u64) -> RenderOptions {
    RenderOptions {
        grid_minor_rgb: None,
        seed,
        ..Default::default()
    }
}

#[test]
fn a_curled_page_is_laid_flat_along_its_grid() {
    let o = RenderOptions {
        curl: 0.02,
        ..photographed(3)
    };
    // Raw SNR feels the time origin to a tenth of a pixel: it comes from the pulses' rising
    // edges, which on this page's flat copy stand a pixel apart between the upper and the
    // lower rows (19.4 dB raw with the upper two alone, 16.7 with all four).
    let d = check("curl", o, 16.0, 17.0);
    assert!(d.warnings.iter().any(|w| w.contains("laid flat")));
}

#[test]
fn a_page_on_a_desk_at_any_angle_is_read() {
    let o = RenderOptions {
        desk_margin: 0.15,
        rotation_deg: 20.0,
        ..photographed(4)
    };
    check("desk, 20°", o, 28.0, 23.0);
}

#[test]
fn a_grid_of_5_mm_lines_alone_gives_the_scale() {
    let d = check("major-only grid", photographed(7), 34.0, 24.0);
    assert!((d.px_per_mm_x / (200.0 / 25.4) - 1.0).abs() < 0.01);
}

#[test]
fn glare_on_the_sheet_is_tolerated() {
    let o = RenderOptions {
        glare: Some(Glare {
            x: 0.6,
            y: 0.4,
            radius: 0.25,
            strength: 0.8,
        }),
        desk_margin: 0.1,
        rotation_deg: 5.0,
        ..photographed(5)
    };
    check("glare", o, 28.0, 13.0);
}

#[test]
fn a_fold_across_the_sheet_is_followed() {
    let o = RenderOptions {
        fold: Some(Fold {
            position: 0.5,
            angle_deg: 10.0,
            shade: 0.2,
            kink_deg: 3.0,
        }),
        desk_margin: 0.1,
        ..photographed(6)
    };
    let d = check("fold", o, 14.0, 14.0);
    assert!(d.warnings.iter().any(|w| w.contains("laid flat")));
}

#[test]
fn a_phone_photo_of_a_curled_folded_sheet_in_glare_is_read() {
    let o = RenderOptions {
        curl: 0.015,
        desk_margin: 0.15,
        rotation_deg: 12.0,
        glare: Some(Glare {
            x: 0.7,
            y: 0.3,
            radius: 0.2,
            strength: 0.7,
        }),
        fold: Some(Fold {
            position: 0.45,
            angle_deg: 5.0,
            shade: 0.15,
            kink_deg: 1.0,
        }),
        shading: 0.3,
        blur_px: 1.0,
        noise_sigma: 6.0,
        ..photographed(8)
    };
    check("phone photo", o, 11.0, 15.0);
}

#[test]
fn a_curled_sheet_whose_grid_printed_greyish_is_followed_by_its_darkness() {
    // The photos' printer can leave the red grid nearly grey: too little tint to follow a
    // curl by, but its lines still stand out dark (raw 8.7 dB when followed by tint alone).
    let o = RenderOptions {
        curl: 0.02,
        grid_major_rgb: [185, 160, 160],
        ..photographed(3)
    };
    check("curl, greyish grid", o, 11.0, 16.0);
}

/// The page as a phone saves it: a JPEG at `quality`, its colour at half resolution (4:2:0).
fn phone_jpeg(page: &Rendered, quality: u8) -> image::RgbImage {
    let (w, h) = page.image.dimensions();
    let mut bytes = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut bytes, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    enc.encode(
        page.image.as_raw(),
        w as u16,
        h as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

#[test]
fn strokes_beside_the_lines_of_a_dark_grey_grid_are_kept() {
    // A darkish, barely red grid on a curled sheet, saved as a phone's JPEG: its colour is
    // blurred over twice the pixels its brightness is, so a QRS stroke running up just
    // beside a vertical line takes on the line's faint tint, and was taken out with the
    // line (raw 6.9 dB, aligned 12.1, before the lines' own cross-sections bounded what
    // they take; 7.3 / 12.8 after).
    let o = RenderOptions {
        grid_major_rgb: [160, 140, 140],
        curl: 0.02,
        blur_px: 0.8,
        ..photographed(9)
    };
    check_edited("dark grey grid", o, |page| phone_jpeg(page, 70), 7.0, 12.4);
}
