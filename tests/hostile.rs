//! Hostile and broken input: what a clinic's archive holds besides clean ECG pages.
//!
//! - the bad-file corpus in `tests/fixtures/bad/` (made by `scripts/make-bad-corpus.py`),
//!   each file with its message and the CLI's exit status;
//! - format variants of a real page (16-bit, grey, alpha, palette, CMYK, progressive, EXIF
//!   rotated, multi-page TIFF, animated GIF, oversized), made here from `dev002.png`;
//! - pathological pages (noise, all ink, huge, strips) in bounded time;
//! - a batch of fifty files with ten bad ones, atomic outputs and resuming;
//! - property tests: random bytes, mutated images, random small images. None may panic.

use ecg_digitizer::decode::decode;
use ecg_digitizer::eval::{parse_csv, score_page};
use ecg_digitizer::options::DecodeLimits;
use ecg_digitizer::{digitize, export, Digitization, Error, Options};
use image::{DynamicImage, ImageFormat, RgbImage};
use proptest::prelude::*;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;
use common::{fixture, run, stderr};

fn bad(name: &str) -> PathBuf {
    fixture("bad").join(name)
}

/// The time a pathological input may take: generous, and far more in the unoptimised test
/// profile than the 5 s a release build must meet.
fn time_bound() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(5)
    }
}

/// Runs `digitize` and turns a panic into a test failure that names a saved copy of the input.
fn digitize_or_fail(bytes: &[u8], what: &str) -> Result<Digitization, Error> {
    match std::panic::catch_unwind(|| digitize(bytes, &Options::default())) {
        Ok(r) => r,
        Err(_) => {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-panics");
            std::fs::create_dir_all(&dir).unwrap();
            let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            let path = dir.join(format!("{hash:016x}.bin"));
            std::fs::write(&path, bytes).unwrap();
            panic!(
                "digitize panicked on {what}; input saved as {}",
                path.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The bad-file corpus through the CLI

#[test]
fn every_bad_file_gets_its_message_and_exit_status_1() {
    let cases = [
        ("empty.jpg", "the file is empty"),
        (
            "truncated.png",
            "the PNG image could not be decoded: the file ends before the image does (truncated?)",
        ),
        (
            "truncated.jpg",
            "the JPEG image could not be decoded: the file ends before the image does (truncated?)",
        ),
        (
            "report-pdf.jpg",
            "PDF files are not supported: open the PDF and export or screenshot the ECG page as PNG or JPEG",
        ),
        (
            "photo.heic",
            "HEIC files are not supported: export the photo as JPEG",
        ),
        (
            "one-pixel.png",
            "the image is 1×1 px: too small to hold an ECG",
        ),
        (
            "random-bytes.png",
            "not an image: the file is not PNG, JPEG, BMP, TIFF, WebP or GIF",
        ),
        (
            "claims-20000x30000.png",
            "the image is 20000×30000 px, above the limit of 100 megapixels",
        ),
        (
            "claims-20000x30000.tif",
            "the image is 20000×30000 px, above the limit of 100 megapixels",
        ),
        (
            "strip-1x100000.png",
            "the image is 1×100000 px, above the limit of 65000 px per side",
        ),
        (
            "strip-250x20000.png",
            "the image is 250×20000 px: too long and narrow to hold an ECG page",
        ),
        // Pictures that decode but are no printout: the later stages say so.
        ("black-page.png", "is this an ECG printout?"),
        ("white-100mp.png", "is this an ECG printout?"),
        ("gradient.png", "is this an ECG printout?"),
        ("photo-like.jpg", "is this an ECG printout?"),
        ("screenshot.png", "is this an ECG printout?"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (name, message) in cases {
        let path = bad(name);
        let started = Instant::now();
        let o = run(&[path.as_os_str(), "--out-dir".as_ref(), out.as_os_str()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        let line = err.lines().next().unwrap_or_default();
        assert!(
            line.starts_with(&format!("error: {}: ", path.display())) && line.contains(message),
            "{name}: expected '{message}', got: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("0×0"),
            "{name}: {err}"
        );
        assert!(err.contains("1 of 1 files failed"), "{name}: {err}");
        assert!(
            started.elapsed() < time_bound(),
            "{name} took {:?}",
            started.elapsed()
        );
    }
    let written: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(written.is_empty(), "outputs for bad files: {written:?}");
}

#[test]
fn odd_but_valid_formats_decode_with_their_warnings() {
    // (file, working size, warning expected)
    let cases = [
        ("grey16.png", (300, 240), None),
        ("palette.png", (400, 300), None),
        ("cmyk.jpg", (400, 300), None),
        ("progressive.jpg", (400, 300), None),
        (
            "three-pages.tif",
            (300, 240),
            Some("the TIFF has 3 pages; only the first was read"),
        ),
        (
            "three-frames.gif",
            (300, 240),
            Some("the GIF has 3 frames; only the first was read"),
        ),
        (
            "three-frames.webp",
            (300, 240),
            Some("the WebP has 3 frames; only the first was read"),
        ),
        (
            "exif-rotated.jpg",
            (300, 400),
            Some("applied the EXIF orientation stored in the file"),
        ),
    ];
    for (name, size, warning) in cases {
        let bytes = std::fs::read(bad(name)).unwrap();
        let d = decode(&bytes, &DecodeLimits::default(), 4000)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.image.dimensions(), size, "{name}");
        assert_eq!(d.original_size, size, "{name}");
        match warning {
            Some(w) => assert_eq!(d.warnings, vec![w.to_string()], "{name}"),
            None => assert!(d.warnings.is_empty(), "{name}: {:?}", d.warnings),
        }
        // White paper stays white: no inverted CMYK, no black where alpha was. The 16-bit
        // file is a ramp from black to white instead.
        let (first, last) = (
            d.image.get_pixel(2, 2).0,
            d.image.as_raw()[d.image.len() - 1],
        );
        if name == "grey16.png" {
            assert!(first[0] < 10 && last == 255, "{name}: {first:?} … {last}");
        } else {
            assert!(first.iter().all(|&c| c > 200), "{name}: corner {first:?}");
        }
        // Whatever the later stages make of a small synthetic page, it is not a panic.
        let _ = digitize_or_fail(&bytes, name);
    }
}

#[test]
fn reported_sizes_never_read_0x0() {
    let huge = std::fs::read(bad("claims-20000x30000.png")).unwrap();
    for limits in [
        DecodeLimits::default(),
        DecodeLimits {
            max_alloc_bytes: 1 << 20,
            ..DecodeLimits::default()
        },
        DecodeLimits {
            max_pixels: u64::MAX,
            max_alloc_bytes: 1 << 20,
            ..DecodeLimits::default()
        },
    ] {
        let err = decode(&huge, &limits, 4000).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooLarge {
                    width: 20000,
                    height: 30000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("the image is 20000×30000 px, above the limit of"));
    }
}

// ---------------------------------------------------------------------------------------
// Format variants of a real page: they must decode and digitize as well as the original.

fn dev002() -> &'static RgbImage {
    static PAGE: OnceLock<RgbImage> = OnceLock::new();
    PAGE.get_or_init(|| {
        image::load_from_memory(&std::fs::read(fixture("dev002.png")).unwrap())
            .unwrap()
            .into_rgb8()
    })
}

fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// Digitizes `bytes`, which must hold dev002 in some form, and checks it against the truth.
fn check_variant(bytes: &[u8], what: &str, warning: Option<&str>) -> Digitization {
    let d = digitize_or_fail(bytes, what).unwrap_or_else(|e| panic!("{what}: {e}"));
    let pred = parse_csv(&export::csv::to_csv(&d)).unwrap();
    let truth = parse_csv(&std::fs::read_to_string(fixture("dev002.csv")).unwrap()).unwrap();
    let score = score_page(&truth, &pred, 0.2);
    let aligned_db = 10.0 * score.aligned_ratio().log10();
    eprintln!(
        "{what}: raw {:.2} dB, aligned {aligned_db:.2} dB",
        score.mean_raw_db()
    );
    // The original scores about 16 dB aligned (tests/dev_fixtures.rs).
    assert!(aligned_db > 12.0, "{what}: aligned {aligned_db:.2} dB");
    if let Some(w) = warning {
        assert!(
            d.warnings.iter().any(|x| x == w),
            "{what}: {:?}",
            d.warnings
        );
    }
    d
}

#[test]
fn sixteen_bit_and_alpha_pngs_of_a_page_digitize() {
    let page = dev002();
    let rgb16 = DynamicImage::ImageRgb8(page.clone()).into_rgb16();
    check_variant(
        &encode(DynamicImage::ImageRgb16(rgb16), ImageFormat::Png),
        "16-bit RGB PNG",
        None,
    );
    // Transparent paper: white pixels become fully transparent *black*, which only reads as
    // paper if alpha is composited over white.
    let rgba = image::RgbaImage::from_fn(page.width(), page.height(), |x, y| {
        let p = page.get_pixel(x, y).0;
        if p == [255, 255, 255] {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([p[0], p[1], p[2], 255])
        }
    });
    check_variant(
        &encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
        "RGBA PNG",
        None,
    );
}

#[test]
fn grey_pngs_of_a_grey_grid_page_digitize() {
    let bytes = std::fs::read(fixture("dev012.png")).unwrap();
    let page = image::load_from_memory(&bytes).unwrap();
    for (what, img) in [
        ("8-bit grey PNG", DynamicImage::ImageLuma8(page.to_luma8())),
        (
            "16-bit grey PNG",
            DynamicImage::ImageLuma16(page.to_luma16()),
        ),
    ] {
        let d = digitize_or_fail(&encode(img, ImageFormat::Png), what)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let pred = parse_csv(&export::csv::to_csv(&d)).unwrap();
        let truth = parse_csv(&std::fs::read_to_string(fixture("dev012.csv")).unwrap()).unwrap();
        let aligned_db = 10.0 * score_page(&truth, &pred, 0.2).aligned_ratio().log10();
        eprintln!("{what}: aligned {aligned_db:.2} dB");
        // The original scores about 12 dB aligned (tests/dev_fixtures.rs).
        assert!(aligned_db > 9.0, "{what}: aligned {aligned_db:.2} dB");
    }
}

#[test]
#[ignore = "fails today: in grey, the red grid's major lines are as dark as the trace, and grid ink is not yet told from trace by line shape"]
fn grey_scan_of_a_red_grid_page_digitizes() {
    let grey = DynamicImage::ImageRgb8(dev002().clone()).to_luma8();
    check_variant(
        &encode(DynamicImage::ImageLuma8(grey), ImageFormat::Png),
        "grey PNG of a red-grid page",
        None,
    );
}

#[test]
fn palette_png_of_a_page_digitizes() {
    // 6 levels per channel: a 216-colour palette, as a scanner's "indexed colour" mode gives.
    let page = dev002();
    let level = |v: u8| (v as u32 * 5 + 127) / 255;
    let indices: Vec<u8> = page
        .pixels()
        .map(|p| (level(p[0]) * 36 + level(p[1]) * 6 + level(p[2])) as u8)
        .collect();
    let palette: Vec<u8> = (0..216u32)
        .flat_map(|i| [i / 36, (i / 6) % 6, i % 6].map(|l| (l * 51) as u8))
        .collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, page.width(), page.height());
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(palette);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&indices).unwrap();
    }
    assert_eq!(&out[25], &3, "colour type 3 (indexed) in IHDR");
    check_variant(&out, "palette PNG", None);
}

fn jpeg(
    data: &[u8],
    color: jpeg_encoder::ColorType,
    progressive: bool,
    exif: Option<&[u8]>,
    w: u32,
    h: u32,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 92);
    enc.set_progressive(progressive);
    if let Some(e) = exif {
        enc.add_exif_metadata(e).unwrap();
    }
    enc.encode(data, w as u16, h as u16, color).unwrap();
    out
}

#[test]
fn cmyk_and_progressive_jpegs_of_a_page_digitize() {
    let page = dev002();
    let (w, h) = page.dimensions();
    let cmyk: Vec<u8> = page
        .pixels()
        .flat_map(|p| {
            let k = 255 - *p.0.iter().max().unwrap();
            let ink = |c: u8| {
                if k == 255 {
                    0
                } else {
                    ((255 - c - k) as u32 * 255 / (255 - k) as u32) as u8
                }
            };
            [ink(p[0]), ink(p[1]), ink(p[2]), k]
        })
        .collect();
    let bytes = jpeg(&cmyk, jpeg_encoder::ColorType::Cmyk, false, None, w, h);
    check_variant(&bytes, "CMYK JPEG", None);
    let bytes = jpeg(
        page.as_raw(),
        jpeg_encoder::ColorType::Rgb,
        true,
        None,
        w,
        h,
    );
    assert!(
        bytes.windows(2).any(|m| m == [0xFF, 0xC2]),
        "SOF2 (progressive) marker"
    );
    check_variant(&bytes, "progressive JPEG", None);
}

#[test]
fn exif_rotated_photo_of_a_page_is_turned_upright() {
    // Stored turned 90° anticlockwise, with orientation 6 ("rotate 90° clockwise to view").
    let stored = image::imageops::rotate270(dev002());
    let exif: Vec<u8> = [
        b"II*\0\x08\0\0\0".as_slice(),
        &[1, 0],                         // one entry
        &[0x12, 0x01, 3, 0, 1, 0, 0, 0], // Orientation, SHORT, count 1
        &[6, 0, 0, 0],                   // value 6
        &[0, 0, 0, 0],                   // no next IFD
    ]
    .concat();
    let (w, h) = stored.dimensions();
    let bytes = jpeg(
        stored.as_raw(),
        jpeg_encoder::ColorType::Rgb,
        false,
        Some(&exif),
        w,
        h,
    );
    let d = check_variant(
        &bytes,
        "EXIF-rotated JPEG",
        Some("applied the EXIF orientation stored in the file"),
    );
    assert_eq!(d.image_size, [2200, 1700]);
}

#[test]
fn multi_page_tiff_and_animated_gif_give_their_first_page() {
    let page = dev002();
    let (w, h) = page.dimensions();
    let mut tif = Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut tif).unwrap();
        enc.write_image::<tiff::encoder::colortype::RGB8>(w, h, page.as_raw())
            .unwrap();
        let blank = vec![255u8; 300 * 200 * 3];
        for _ in 0..2 {
            enc.write_image::<tiff::encoder::colortype::RGB8>(300, 200, &blank)
                .unwrap();
        }
    }
    check_variant(
        tif.get_ref(),
        "3-page TIFF",
        Some("the TIFF has 3 pages; only the first was read"),
    );

    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut gif, 30);
        let first = DynamicImage::ImageRgb8(page.clone()).into_rgba8();
        let second = image::RgbaImage::from_pixel(w, h, image::Rgba([0, 0, 0, 255]));
        enc.encode_frames([first, second].map(image::Frame::new))
            .unwrap();
    }
    check_variant(
        &gif,
        "animated GIF",
        Some("the GIF has 2 frames; only the first was read"),
    );
}

#[test]
fn oversized_scan_of_a_page_is_downscaled_and_digitized() {
    // 2.5× the page: 5500×4250 px, 23 MP, reduced to the 4000 px working size.
    let page = dev002();
    let big = image::imageops::resize(page, 5500, 4250, image::imageops::FilterType::Triangle);
    let bytes = encode(DynamicImage::ImageRgb8(big), ImageFormat::Png);
    let d = check_variant(
        &bytes,
        "5500×4250 PNG",
        Some("the 5500×4250 px page was downscaled to 4000×3091 px before digitizing"),
    );
    assert_eq!(d.image_size, [5500, 4250]);
    // Panel outlines are reported in the file's pixels, not the working ones.
    let right = d
        .panels
        .iter()
        .map(|p| p.corners[1][0])
        .fold(0.0f32, f32::max);
    assert!(
        right > 4500.0 && right < 5500.0,
        "rightmost panel edge at {right} px"
    );
}

// ---------------------------------------------------------------------------------------
// Pathological pages: bounded time, never a panic.

/// Deterministic noise, so that a failure can be reproduced.
fn noise_page(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut s = seed | 1;
    RgbImage::from_fn(w, h, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        image::Rgb([s as u8, (s >> 8) as u8, (s >> 16) as u8])
    })
}

#[test]
fn pathological_pages_end_in_bounded_time() {
    let noise = encode(
        DynamicImage::ImageRgb8(noise_page(2200, 1700, 7)),
        ImageFormat::Png,
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("all-noise 2200×1700", noise),
        (
            "all-black 2200×1700",
            std::fs::read(bad("black-page.png")).unwrap(),
        ),
        (
            "1×100000 strip",
            std::fs::read(bad("strip-1x100000.png")).unwrap(),
        ),
        (
            "100 MP white page",
            std::fs::read(bad("white-100mp.png")).unwrap(),
        ),
    ];
    for (what, bytes) in cases {
        let started = Instant::now();
        let r = digitize_or_fail(&bytes, what);
        let took = started.elapsed();
        eprintln!(
            "{what}: {:?} in {took:.2?}",
            r.as_ref().map(|_| "digitized")
        );
        assert!(took < time_bound(), "{what} took {took:?}");
    }
}

#[test]
fn all_noise_page_is_refused_as_not_an_ecg() {
    let noise = encode(
        DynamicImage::ImageRgb8(noise_page(2200, 1700, 7)),
        ImageFormat::Png,
    );
    let r = digitize_or_fail(&noise, "all-noise page");
    assert!(
        r.is_err(),
        "noise digitized, as {} rows",
        r.map(|d| d.rows.len()).unwrap_or_default()
    );
}

#[test]
fn noise_at_the_full_working_size_ends_in_bounded_time() {
    // The 5 s bound is meant for release builds; debug builds get the generous bound.
    let noise = encode(
        DynamicImage::ImageRgb8(noise_page(4000, 3090, 11)),
        ImageFormat::Png,
    );
    let started = Instant::now();
    let _ = digitize_or_fail(&noise, "4000×3090 noise page");
    assert!(
        started.elapsed() < time_bound(),
        "took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Batches: fifty files, atomic outputs, resuming

#[test]
fn batch_of_fifty_with_ten_bad_files_writes_forty_outputs_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for i in 0..40 {
        std::fs::copy(
            fixture("dev014.png"),
            inputs.join(format!("good-{i:02}.png")),
        )
        .unwrap();
    }
    let bad_files = [
        ("empty.jpg", "bad-00.jpg"),
        ("truncated.png", "bad-01.png"),
        ("truncated.jpg", "bad-02.jpg"),
        ("report-pdf.jpg", "bad-03.jpg"),
        ("photo.heic", "bad-04.jpg"),
        ("one-pixel.png", "bad-05.png"),
        ("random-bytes.png", "bad-06.png"),
        ("claims-20000x30000.tif", "bad-07.tif"),
        ("strip-1x100000.png", "bad-08.png"),
        ("gradient.png", "bad-09.png"),
    ];
    for (from, to) in bad_files {
        std::fs::copy(bad(from), inputs.join(to)).unwrap();
    }
    let out = dir.path().join("out");
    let o = run(&[
        inputs.as_os_str(),
        "--out-dir".as_ref(),
        out.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(error_lines.len(), 10, "{err}");
    for (_, name) in bad_files {
        let path = inputs.join(name);
        assert!(
            error_lines
                .iter()
                .any(|l| l.starts_with(&format!("error: {}: ", path.display()))),
            "no error line for {name}: {err}"
        );
    }
    assert!(err.contains("10 of 50 files failed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("good-{i:02}.csv")).collect();
    assert_eq!(
        written, expected,
        "exactly the forty outputs, and no temporary files"
    );
    for name in &expected {
        let csv = std::fs::read_to_string(out.join(name)).unwrap();
        assert_eq!(csv.lines().count(), 5001, "{name}");
    }
}

fn dev014_args<'a>(out: &'a Path, formats: &'a str, extra: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    let img = IMG.get_or_init(|| fixture("dev014.png"));
    let mut args = vec![
        img.as_os_str(),
        "--out-dir".as_ref(),
        out.as_os_str(),
        "--format".as_ref(),
        formats.as_ref(),
        "--jobs".as_ref(),
        "1".as_ref(),
    ];
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    args
}

#[test]
fn leftover_temp_file_of_an_interrupted_run_is_not_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // What a run killed in the middle of writing leaves: half a CSV under the temporary name.
    let leftover = out.join(".dev014.csv.tmp-4242");
    std::fs::write(&leftover, "time_s,I,II\n0.000,0.1").unwrap();
    let o = run(&dev014_args(&out, "csv", &["--skip-existing"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("dev014.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        5001,
        "the page was digitized, not skipped"
    );
    // The stale file is another run's and is left alone; this run left none of its own.
    let temps: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert_eq!(temps, vec![".dev014.csv.tmp-4242".to_string()]);
}

#[test]
fn resuming_redoes_a_page_whose_formats_were_only_partly_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Interrupted after the CSV, before the JSON: the page is not complete, so it is redone.
    std::fs::write(out.join("dev014.csv"), "from the interrupted run").unwrap();
    let o = run(&dev014_args(&out, "csv,json", &["--skip-existing"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("dev014.json").exists());
    let csv = std::fs::read_to_string(out.join("dev014.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5001);
    // That a complete page is left alone is tested in tests/cli.rs.
}

#[test]
fn failed_write_reports_the_path_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A directory where the CSV should go: the rename onto it fails.
    std::fs::create_dir_all(out.join("dev014.csv")).unwrap();
    let o = run(&dev014_args(&out, "csv", &[]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot write {}",
            out.join("dev014.csv").display()
        )),
        "{err}"
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["dev014.csv".to_string()],
        "no temporary file left"
    );
}

// ---------------------------------------------------------------------------------------
// Property tests

/// Small valid pages in each decoded format, for mutation.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let page =
            image::imageops::resize(dev002(), 440, 340, image::imageops::FilterType::Triangle);
        let img = DynamicImage::ImageRgb8(page);
        let mut v: Vec<Vec<u8>> = [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::Bmp,
            ImageFormat::Tiff,
            ImageFormat::WebP,
        ]
        .into_iter()
        .map(|f| encode(img.clone(), f))
        .collect();
        for name in [
            "three-pages.tif",
            "three-frames.gif",
            "three-frames.webp",
            "progressive.jpg",
            "cmyk.jpg",
            "palette.png",
            "exif-rotated.jpg",
        ] {
            v.push(std::fs::read(bad(name)).unwrap());
        }
        v
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..32)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1..64usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
    ]
}

fn mutate(mut b: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if b.is_empty() {
            break;
        }
        match m {
            Mutation::Flip { at, mask } => {
                let i = at % b.len();
                b[i] ^= mask;
            }
            // Keep the header more often than not: cut in the second half.
            Mutation::Truncate { at } => b.truncate(b.len() / 2 + at % (b.len() / 2 + 1)),
            Mutation::Insert { at, bytes } => {
                let i = at % (b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let i = at % b.len();
                b.drain(i..(i + len).min(b.len()));
            }
        }
    }
    b
}

const MAGICS: [&[u8]; 7] = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"II*\0",
    b"MM\0*",
    b"BM",
    b"RIFF\0\0\0\0WEBPVP8 ",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_give_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(digitize_or_fail(&bytes, "random bytes").is_err());
    }

    #[test]
    fn random_bytes_behind_a_format_signature_give_a_typed_error(
        magic in 0..MAGICS.len(),
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let bytes = [MAGICS[magic], &tail].concat();
        prop_assert!(digitize_or_fail(&bytes, "signature + random bytes").is_err());
    }

    #[test]
    fn mutated_images_never_panic(
        seed in 0..13usize,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let seeds = seeds();
        let bytes = mutate(seeds[seed % seeds.len()].clone(), &mutations);
        let _ = digitize_or_fail(&bytes, "mutated image");
    }

    #[test]
    fn random_small_images_never_panic(
        w in 1..400u32,
        h in 1..400u32,
        style in 0..4u8,
        seed in any::<u64>(),
    ) {
        let noise = noise_page(w, h, seed);
        let img = RgbImage::from_fn(w, h, |x, y| match style {
            0 => *noise.get_pixel(x, y),
            1 => image::Rgb([seed as u8; 3]),
            // Thin dark lines on light paper: the closest random thing to a trace.
            2 if (x + y * (seed as u32 % 7 + 1)).is_multiple_of(23) => image::Rgb([0; 3]),
            2 => image::Rgb([250, 235, 235]),
            _ if noise.get_pixel(x, y)[0] < 8 => image::Rgb([0; 3]),
            _ => image::Rgb([255; 3]),
        });
        let bytes = encode(DynamicImage::ImageRgb8(img), ImageFormat::Png);
        match digitize_or_fail(&bytes, "random small image") {
            Err(Error::TooSmall { width, height }) => {
                prop_assert!(width < 200 || height < 200);
                prop_assert_eq!((width, height), (w, h));
            }
            _ => prop_assert!(w >= 200 && h >= 200),
        }
    }
}
