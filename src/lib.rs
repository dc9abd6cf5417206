//! Paper ECG digitizer: a photo or scan of a 12-lead printout in, calibrated leads out.
//!
//! The pipeline is a fixed sequence of stages, each a module with typed input and output:
//!
//! 1. [`decode`]: bytes → RGB raster at working resolution
//! 2. [`geometry`]: rotation and perspective estimate → upright, square page
//! 3. [`ink`] + [`grid`]: paper flattening, trace/grid separation, px per mm
//! 4. [`layout`]: trace rows, pulses, separators, time origin, lead panels
//! 5. [`calibration`]: gain (mm/mV) and each row's baseline
//! 6. [`traces`]: one sub-pixel y per column along each row, then [`einthoven`]: the lead
//!    order checked against the limb-lead relations, and [`rhythm`]: rhythm strips named by
//!    the short panel they repeat
//! 7. [`signal`]: millivolts on a common 500 Hz timeline
//! 8. [`export`]: CSV, WFDB and JSON
//!
//! [`digitize`] runs them all. The core has no browser types; `wasm` holds the thin binding.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod calibration;
pub mod decode;
pub mod dewarp;
pub mod einthoven;
pub mod error;
pub mod eval;
pub mod export;
pub mod geometry;
pub mod grid;
pub mod ink;
pub mod labels;
pub mod lattice;
pub mod layout;
pub mod lead;
pub mod options;
pub mod page;
pub mod raster;
pub mod render;
pub mod rhythm;
pub mod signal;
pub mod traces;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use error::Error;
pub use lead::Lead;
pub use options::{Gain, LayoutSpec, Options};
pub use page::Digitization;

use calibration::Source;
use page::{PanelView, RowView};

/// Tuning of every stage; [`Default`] is what the CLI and the web page use.
#[derive(Debug, Clone)]
pub struct StageOptions {
    /// Grid lattice of photographed pages.
    pub lattice: lattice::LatticeOptions,
    /// Photographed pages laid flat.
    pub dewarp: dewarp::DewarpOptions,
    /// A page whose grid crossings stray at least this far (see [`lattice::Lattice`], in
    /// grid periods) from the best single perspective is curled or folded: it is laid flat
    /// along its lattice. Flat scans and renders stray under 0.04.
    pub min_bend_periods: f32,
    /// ... and whose grid covers at least this share of the image: a few cells of
    /// something periodic are no page.
    pub min_photo_coverage: f32,
    /// ... and whose lattice holds at most this many cells: 8000 cells of 5 mm are 0.2 m²,
    /// more than any printout (A3 is about 5000). A finer periodic pattern is no ECG grid,
    /// and laying it flat would cost gigabytes.
    pub max_photo_cells: usize,
    /// On a page laid flat, a candidate row whose ink moves less than this in four columns
    /// of five (absolute deviation, pixels) is a remnant of a grid line, not a trace.
    pub flat_rule_deviation_px: f32,
    /// Rhythm strip naming on a page laid flat. A photo's strip matches its own short panel
    /// at a score anywhere from 0.7 to 0.99 (reading noise), and leads of a similar
    /// shape (aVF, V5, V6 beside II) often as well, so renaming takes a wide margin.
    pub flat_rhythm: rhythm::RhythmOptions,
    /// The signal's low-pass cut-off on a page laid flat, in cycles per flat-page column
    /// (see [`signal::SignalOptions::band_limit_cycles_per_px`]). The flat page is a photo
    /// resampled at about its own resolution, through the lens's and JPEG's blur: less of
    /// its finest detail is the trace's than on a scan at the same pixels per mm.
    pub flat_band_limit_cycles_per_px: f32,
    /// Deskew search.
    pub geometry: geometry::GeometryOptions,
    /// Paper flattening.
    pub ink: ink::InkOptions,
    /// Grid period search.
    pub grid: grid::GridOptions,
    /// Row, pulse and separator detection.
    pub layout: layout::LayoutOptions,
    /// Pulse measurement.
    pub calibration: calibration::CalibrationOptions,
    /// Trace path search.
    pub traces: traces::TraceOptions,
    /// Lead order check from the limb-lead relations.
    pub einthoven: einthoven::EinthovenOptions,
    /// Rhythm strip naming.
    pub rhythm: rhythm::RhythmOptions,
    /// Conversion of traces to millivolts.
    pub signal: signal::SignalOptions,
    /// Pages with more of their pixels read as trace ink than this share are refused.
    pub max_ink_share: f64,
    /// Paper speed assumed when neither the user nor a pulse gives it, in mm/s.
    pub default_speed_mm_per_s: f32,
    /// Pages scanned coarser than this many pixels per mm read faint thin strokes that join
    /// the trace (see [`ink::ColumnRuns::build_hysteresis`]).
    pub thin_stroke_px_per_mm: f32,
    /// On smoothed (noisy) pages, the same up to this many pixels per mm.
    pub faded_stroke_px_per_mm: f32,
    /// Pages with a stroke plane ([`ink::stroke_plane`]) coarser than this many pixels
    /// per mm also take as ink what that plane shows of steep strokes. Finer, a stroke is
    /// wide enough to survive the round blur, and the plane only adds noise.
    pub stroke_plane_px_per_mm: f32,
    /// Rows over which the stroke plane's per-column background is measured: longer than
    /// twice the tallest QRS stroke on those pages (about 20 mm at 100 DPI is 80 px).
    pub stroke_background_px: usize,
}

impl Default for StageOptions {
    fn default() -> Self {
        StageOptions {
            lattice: Default::default(),
            dewarp: Default::default(),
            min_bend_periods: 0.08,
            min_photo_coverage: 0.25,
            max_photo_cells: 8000,
            flat_rule_deviation_px: 1.5,
            flat_rhythm: rhythm::RhythmOptions {
                min_correlation: 0.95,
                margin: 0.15,
            },
            flat_band_limit_cycles_per_px: 0.35,
            geometry: Default::default(),
            ink: Default::default(),
            grid: Default::default(),
            layout: Default::default(),
            calibration: Default::default(),
            traces: Default::default(),
            einthoven: Default::default(),
            rhythm: Default::default(),
            signal: Default::default(),
            max_ink_share: 0.12,
            default_speed_mm_per_s: 25.0,
            thin_stroke_px_per_mm: 6.0,
            faded_stroke_px_per_mm: 10.0,
            stroke_plane_px_per_mm: 5.0,
            stroke_background_px: 192,
        }
    }
}

/// Digitizes an encoded image (PNG, JPEG, BMP, TIFF, WebP, GIF).
pub fn digitize(bytes: &[u8], options: &Options) -> Result<Digitization, Error> {
    options.validate()?;
    let decoded = decode::decode(bytes, &options.limits, options.max_working_side_px)?;
    // Resolutions refer to the stored pixels; the working page may be smaller.
    let options = Options {
        dpi: options.dpi.map(|d| d * decoded.scale),
        ..options.clone()
    };
    let stored = decoded.stored_dpi.map(|d| d * decoded.scale);
    let mut d = digitize_at(&decoded.image, &options, &StageOptions::default(), stored)?;
    d.image_size = [decoded.original_size.0, decoded.original_size.1];
    if decoded.scale != 1.0 {
        let k = 1.0 / decoded.scale;
        d.map_points(|[x, y]| [x * k, y * k]);
    }
    let mut warnings = decoded.warnings;
    warnings.append(&mut d.warnings);
    d.warnings = warnings;
    Ok(d)
}

/// Digitizes an already decoded page.
pub fn digitize_image(
    image: &image::RgbImage,
    options: &Options,
    stages: &StageOptions,
) -> Result<Digitization, Error> {
    digitize_at(image, options, stages, None)
}

/// [`digitize_image`], given the resolution the file stated (dots per inch of `image`).
fn digitize_at(
    image: &image::RgbImage,
    options: &Options,
    stages: &StageOptions,
    stored_dpi: Option<f32>,
) -> Result<Digitization, Error> {
    options.validate()?;
    let mut timer = stage_timer();
    let found = if cfg!(feature = "trace-debug") && std::env::var("ECG_NO_PHOTO").is_ok() {
        None
    } else {
        lattice::find(image, &stages.lattice).filter(|l| is_sheet(l, stages))
    };
    timer("lattice");
    // A curled or folded sheet is read laid flat along its grid. A flat one is read as it
    // is (the geometry stage squares up a tilt or a perspective), unless that fails: a
    // sheet photographed flat on a desk, with only its 5 mm lines, still reads laid flat.
    match found {
        Some(l) if l.bend_periods >= stages.min_bend_periods => {
            read_photo(image, l, options, stages)
        }
        Some(l) => digitize_page(image, options, stages, stored_dpi, None)
            .or_else(|e| read_photo(image, l, options, stages).map_err(|_| e)),
        None => digitize_page(image, options, stages, stored_dpi, None),
    }
}

/// Whether `l` is the grid of a sheet worth laying flat (see
/// [`StageOptions::min_photo_coverage`] and [`StageOptions::max_photo_cells`]).
fn is_sheet(l: &lattice::Lattice, stages: &StageOptions) -> bool {
    l.coverage >= stages.min_photo_coverage
        && l.columns.saturating_sub(1) * l.rows.saturating_sub(1) <= stages.max_photo_cells
}

/// Reads a photographed sheet laid flat along its grid `lattice`, with the overlay mapped
/// back onto the photo.
fn read_photo(
    image: &image::RgbImage,
    lattice: lattice::Lattice,
    options: &Options,
    stages: &StageOptions,
) -> Result<Digitization, Error> {
    let mut timer = stage_timer();
    let flat = dewarp::flatten(image, lattice, &stages.dewarp);
    timer("dewarp");
    // The flat page's scale is the dewarp's own: no resolution applies to it.
    let options = Options {
        dpi: None,
        ..options.clone()
    };
    // On the flat page the grid's remnants are dead straight lines along the grid; the
    // lattice's last pixel of error lets them wander a little more than a printed rule.
    let stages = StageOptions {
        layout: layout::LayoutOptions {
            rule_deviation_percentile: 0.8,
            max_rule_deviation_px: stages.flat_rule_deviation_px,
            ..stages.layout
        },
        // A photo's traces are rougher: a rhythm strip is renamed on clearer evidence.
        rhythm: stages.flat_rhythm,
        // ... and its steep strokes fainter, as at coarse resolutions: faint ink joined to
        // the trace counts.
        thin_stroke_px_per_mm: f32::INFINITY,
        signal: signal::SignalOptions {
            band_limit_cycles_per_px: stages.flat_band_limit_cycles_per_px,
            ..stages.signal
        },
        ..stages.clone()
    };
    let dump = cfg!(feature = "trace-debug")
        .then(|| std::env::var("ECG_DUMP_FLAT").ok())
        .flatten();
    if let Some(path) = &dump {
        let _ = flat.image.save(path);
    }
    let mut d = digitize_page(&flat.image, &options, &stages, None, Some(flat.px_per_mm))?;
    if dump.is_some() {
        return Ok(d); // drawn over the flat page
    }
    d.map_points(|[x, y]| flat.mesh.to_source_extended(x, y));
    d.image_size = [image.width(), image.height()];
    d.warnings.insert(
        0,
        "the page was photographed: it was found in the photo and laid flat along its grid"
            .to_string(),
    );
    Ok(d)
}

/// [`digitize_at`] on a page that needs no dewarping; `flat_px_per_mm` is the scale of a
/// page the dewarp laid flat, which no grid measurement overrules.
fn digitize_page(
    image: &image::RgbImage,
    options: &Options,
    stages: &StageOptions,
    stored_dpi: Option<f32>,
    flat_px_per_mm: Option<f32>,
) -> Result<Digitization, Error> {
    let dpi = options
        .dpi
        .map(|d| Dpi {
            dpi: d,
            given: true,
        })
        .or(stored_dpi.map(|d| Dpi {
            dpi: d,
            given: false,
        }));
    let mut timer = stage_timer();
    // Ink planes of the page as given; recomputed only if the page must be turned upright.
    let planes = ink::separate(image, &stages.ink);
    timer("ink");
    // Some trace ink at all, or a quarter turn cannot help either.
    let inked = planes
        .ink
        .data
        .iter()
        .step_by(7)
        .filter(|&&v| v > 0.5)
        .count();
    let has_ink = inked * 7 >= planes.ink.data.len() / 1000;
    let upright = digitize_upright(image, planes, options, stages, dpi, flat_px_per_mm);
    // No rows across the page, or rows without a pulse or a label: it may lie sideways.
    let doubtful = match &upright {
        Ok(u) => u.evidence.pulses == 0 && u.evidence.labels <= 1,
        Err(e) => has_ink && matches!(e, Error::NoTraces | Error::LayoutNotRecognised(_)),
    };
    if !doubtful {
        return upright.map(|u| u.digitization);
    }
    // Turn it a quarter turn clockwise (exactly, no resampling) and read that; a page turned
    // the other way then reads upside down, which the upright reading catches.
    let turned = image::imageops::rotate90(image);
    let other = digitize_upright(
        &turned,
        ink::separate(&turned, &stages.ink),
        options,
        stages,
        dpi,
        flat_px_per_mm,
    );
    let Ok(mut other) = other else {
        return upright.map(|u| u.digitization);
    };
    let believed = match &upright {
        Ok(u) => other.evidence.clearly_beats(&u.evidence),
        Err(_) => other.evidence.shows_furniture(),
    };
    if !believed {
        return upright.map(|u| u.digitization);
    }
    let d = &mut other.digitization;
    // Turned pixel (x, y) is the source's (y, h - 1 - x).
    let h = image.height() as f32;
    d.map_points(|[x, y]| [y, h - 1.0 - x]);
    d.image_size = [image.width(), image.height()];
    d.rotation_deg += 90.0;
    d.warnings
        .push("the page was sideways and was turned a quarter turn".to_string());
    Ok(other.digitization)
}

/// An upright reading with the page furniture it found, to tell orientations apart.
struct Upright {
    digitization: Digitization,
    evidence: Evidence,
}

/// Calibration pulses and lead labels found where they belong: what a page read the right
/// way up shows.
#[derive(Debug, Clone, Copy, Default)]
struct Evidence {
    /// Rows that start with a pulse.
    pulses: usize,
    /// Rows of the page.
    rows: usize,
    /// Labels that name the panel they stand at.
    labels: usize,
}

impl Evidence {
    /// Clearly better only: pulses on most rows (printers put one on every row), or three
    /// more labels read; and more of both together.
    fn clearly_beats(&self, other: &Evidence) -> bool {
        let clear =
            (self.pulses >= 2 && 2 * self.pulses >= self.rows) || self.labels >= other.labels + 3;
        clear && self.score() > other.score()
    }

    /// A pulse or a label where the layout puts one. Turned a quarter, a photo's grid lines
    /// can pass for rows: a page that reads only that way must show some furniture too.
    fn shows_furniture(&self) -> bool {
        self.pulses + self.labels > 0
    }

    /// Pulses weigh more than labels, some of which (I, II, III) read the same upside down.
    fn score(&self) -> usize {
        3 * self.pulses + self.labels
    }
}

/// [`digitize_image`] for a page that reads left to right, give or take a tilt or a half
/// turn; `planes` are its ink planes.
fn digitize_upright(
    image: &image::RgbImage,
    planes: ink::InkPlanes,
    options: &Options,
    stages: &StageOptions,
    dpi: Option<Dpi>,
    flat_px_per_mm: Option<f32>,
) -> Result<Upright, Error> {
    let mut timer = stage_timer();
    // A page the dewarp laid flat is square and upright along its grid already.
    let transform = match flat_px_per_mm {
        Some(_) => geometry::PageTransform::upright(planes.mark.width, planes.mark.height),
        None => geometry::estimate(&planes.mark, &stages.geometry),
    };
    timer("geometry: rotation");
    let white_noise = planes.white_noise;
    let planes = if transform.is_identity() {
        planes
    } else {
        drop(planes);
        let upright = geometry::apply(image, &transform);
        timer("geometry: warp");
        let planes = ink::separate_resampled(&upright, &stages.ink, white_noise);
        timer("ink, upright");
        planes
    };
    let mut reading = read_page(planes, transform, options, stages, dpi, flat_px_per_mm);
    // A page without calibration pulses at its rows' left ends may be upside down: try it
    // turned over and keep whichever reading shows more pulses and labels.
    // A page without any trace ink or with too much stays so upside down: only a reading
    // that found rows (or rows in no known layout) is worth trying the other way up.
    let worth_turning = match &reading {
        Ok(r) => r.evidence().pulses == 0,
        Err(e) => matches!(e, Error::LayoutNotRecognised(_)),
    };
    if worth_turning {
        let flipped = geometry::PageTransform {
            rotation_deg: transform.rotation_deg + 180.0,
            ..transform
        };
        let planes =
            ink::separate_resampled(&geometry::apply(image, &flipped), &stages.ink, white_noise);
        if let Ok(mut other) = read_page(planes, flipped, options, stages, dpi, flat_px_per_mm) {
            let before = reading
                .as_ref()
                .map_or(Evidence::default(), Reading::evidence);
            if other.evidence().clearly_beats(&before) {
                other
                    .warnings
                    .push("the page was upside down and was turned over".to_string());
                reading = Ok(other);
            }
        }
    }
    let reading = reading?;
    let evidence = reading.evidence();
    let Reading {
        transform,
        planes,
        grid,
        runs,
        mut layout,
        speed,
        speed_source,
        printed_gain,
        mut warnings,
    } = reading;
    let weight = |v: f32| grid.levels.weight(v);
    timer("layout");
    let cal = calibration::calibrate(
        &runs,
        &layout,
        grid.px_per_mm_y,
        options.gain,
        printed_gain,
        &stages.calibration,
    );
    let traces = traces::extract(
        &runs,
        &planes.ink,
        weight,
        &layout,
        grid.px_per_mm_y,
        &stages.traces,
    );
    drop(planes);
    timer("traces");
    if transform.keystone.is_some() {
        warnings.push(
            "the page was photographed at an angle: its perspective was corrected".to_string(),
        );
    }
    if layout.detected {
        let check = einthoven::check_order(&mut layout, &traces, &stages.einthoven);
        if check.replaced_by.is_some() {
            warnings.push(
                "the leads were named in the order their traces obey (Einthoven's law), not the layout's usual order"
                    .to_string(),
            );
        }
    }
    let namings = rhythm::identify(&mut layout, &traces, &stages.rhythm);
    let signals = signal::convert(
        &traces,
        &layout,
        &cal,
        grid.px_per_mm_y,
        options.fs_hz,
        &stages.signal,
    );

    if let Some(g) =
        printed_gain.filter(|&g| cal.gain_source == Source::Pulse && g != cal.gain_mm_per_mv)
    {
        warnings.push(format!(
            "the page's text says {g} mm/mV, but its calibration pulses measure {} mm/mV: \
             read at the pulses' gain",
            cal.gain_mm_per_mv
        ));
    }
    if cal.gain_source == Source::Assumed {
        warnings.push(format!(
            "no calibration pulse found: assumed the standard gain of {} mm/mV",
            cal.gain_mm_per_mv
        ));
    }
    if signals.baselines.iter().any(|b| b.source == Source::Trace) {
        warnings.push(
            "some rows have neither a calibration pulse nor lead separators: their 0 mV line was estimated from the trace"
                .to_string(),
        );
    }
    for n in &namings {
        if n.changed {
            warnings.push(format!(
                "the rhythm strip in row {} repeats lead {} (matched to its short panel)",
                n.row + 1,
                n.lead
            ));
        } else if n.correlation < stages.rhythm.min_correlation {
            warnings.push(format!(
                "the rhythm strip in row {} was assumed to be lead {}: it matches no short panel well",
                n.row + 1,
                n.lead
            ));
        }
    }

    let t = transform;
    let to_src = |x: f32, y: f32| {
        let (a, b) = t.to_source(x, y);
        [a, b]
    };
    let rows = layout
        .rows
        .iter()
        .zip(&signals.baselines)
        .map(|(_, b)| RowView {
            from: to_src(layout.x0, b.y),
            to: to_src(layout.x_of(layout.duration_s), b.y),
            baseline_source: b.source,
        })
        .collect();
    let panels = layout
        .panels
        .iter()
        .map(|p| {
            let row = &layout.rows[p.row];
            let (x_lo, x_hi) = (layout.panel_x(p, p.t_from_s), layout.panel_x(p, p.t_to_s));
            let trace = &traces[p.row];
            let mut pts = Vec::new();
            let mut direct = 0usize;
            let mut total = 0usize;
            for x in (x_lo.ceil().max(0.0) as usize)..(x_hi.ceil() as usize) {
                total += 1;
                if trace.has(x) {
                    direct += 1;
                    pts.push(to_src(x as f32, trace.ys[x - trace.x_from]));
                }
            }
            let (top, bottom) = (
                (row.band_top + row.center_y) / 2.0,
                (row.band_bottom + row.center_y) / 2.0,
            );
            PanelView {
                lead: p.lead,
                row: p.row,
                t_from_s: p.t_from_s,
                t_to_s: p.t_to_s,
                confidence: direct as f32 / total.max(1) as f32,
                corners: [
                    to_src(x_lo, top),
                    to_src(x_hi, top),
                    to_src(x_hi, bottom),
                    to_src(x_lo, bottom),
                ],
                trace: pts,
            }
        })
        .collect();

    let digitization = Digitization {
        fs_hz: signals.fs_hz,
        n_samples: signals.n_samples,
        leads: signals.leads,
        px_per_mm_x: grid.px_per_mm_x,
        px_per_mm_y: grid.px_per_mm_y,
        grid_found: grid.found,
        gain_mm_per_mv: cal.gain_mm_per_mv,
        gain_source: cal.gain_source,
        speed_mm_per_s: speed,
        speed_source,
        rotation_deg: t.rotation_deg,
        layout: layout.spec.name.clone(),
        layout_detected: layout.detected,
        image_size: [image.width(), image.height()],
        rows,
        panels,
        warnings,
    };
    Ok(Upright {
        digitization,
        evidence,
    })
}

/// What the page shows once upright: its ink, grid, rows and panels.
struct Reading {
    transform: geometry::PageTransform,
    planes: ink::InkPlanes,
    grid: grid::Grid,
    runs: ink::ColumnRuns,
    layout: layout::Layout,
    speed: f32,
    speed_source: Source,
    /// The gain the page's text states, for a page without pulses.
    printed_gain: Option<f32>,
    warnings: Vec<String>,
}

impl Reading {
    /// How much of an ECG's furniture was found the right way up.
    fn evidence(&self) -> Evidence {
        Evidence {
            pulses: self
                .layout
                .rows
                .iter()
                .filter(|r| r.pulse.is_some())
                .count(),
            rows: self.layout.rows.len(),
            labels: self.layout.labels_read,
        }
    }
}

/// The image's resolution, for a page without a grid.
#[derive(Debug, Clone, Copy)]
struct Dpi {
    /// Dots per inch of the working image.
    dpi: f32,
    /// Given by the user (taken as it is) rather than stated by the file (checked first).
    given: bool,
}

/// Stages 3 and 4 on an upright page: grid, ink runs, layout (with the paper speed).
fn read_page(
    mut planes: ink::InkPlanes,
    transform: geometry::PageTransform,
    options: &Options,
    stages: &StageOptions,
    dpi: Option<Dpi>,
    flat_px_per_mm: Option<f32>,
) -> Result<Reading, Error> {
    let mut warnings = Vec::new();
    let mut grid = match flat_px_per_mm {
        Some(s) => grid::at_scale(&planes, s),
        None => grid::measure(&planes, &stages.grid),
    };
    if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
        eprintln!("grid {grid:?}");
    }
    if grid.levels.trace < 0.25 {
        return Err(Error::NoTraces);
    }
    // Below about 150 DPI a trace is a stroke a pixel or so wide, and its steep QRS strokes
    // are fainter than its flat stretches; on a noisy page smoothing fades them too, up to
    // the resolutions where strokes are several pixels wide. Let them join the trace at a
    // lower level.
    let px_per_mm = grid.px_per_mm_x.min(grid.px_per_mm_y);
    let thin = px_per_mm < stages.thin_stroke_px_per_mm
        || (planes.smoothed_px > 0.0 && px_per_mm < stages.faded_stroke_px_per_mm);
    let low = if thin {
        grid.levels.extend
    } else {
        grid.levels.threshold
    };
    // On a page of white noise, a thin steep stroke the noise broke up is whole again in the
    // column-smoothed stroke plane, once its vertical lines are taken out; it counts as ink
    // there at the same margin over the grid as `low`.
    let strokes = planes
        .unsmoothed
        .take()
        .filter(|_| thin && px_per_mm < stages.stroke_plane_px_per_mm)
        .map(|unsmoothed| {
            let mut p = ink::stroke_plane(&unsmoothed, &stages.ink);
            ink::remove_column_background(&mut p, stages.stroke_background_px, grid.levels.grid);
            p
        });
    let runs = ink::ColumnRuns::build_hysteresis(
        &planes.ink,
        strokes.as_ref().map(|p| (p, low)),
        low,
        grid.levels.threshold,
        |v| grid.levels.weight(v),
    );
    drop(strokes);
    // Traces, text and pulses cover a few percent of a printout; far more is noise or a photo.
    let inked: u64 = runs.columns.iter().flatten().map(|r| r.len() as u64).sum();
    let share = inked as f64 / (planes.ink.width as f64 * planes.ink.height as f64);
    if share > stages.max_ink_share {
        return Err(Error::TooMuchInk {
            percent: (share * 100.0).round() as u32,
        });
    }
    let weight = |v: f32| grid.levels.weight(v);
    let ink_view = ink::InkView {
        plane: &planes.ink,
        weight: &weight,
    };
    let detect_layout = |px_per_mm: (f32, f32), speed: f32, warnings: &mut Vec<String>| {
        layout::detect(
            &runs,
            &ink_view,
            px_per_mm.0,
            px_per_mm.1,
            speed,
            options.layout.as_ref(),
            &stages.layout,
            warnings,
        )
    };
    let printed = Printed::read(&runs, &ink_view, grid.px_per_mm_y, stages, &mut warnings);
    let (mut speed, mut speed_source) = match (options.speed_mm_per_s, printed.speed) {
        (Some(s), _) => (s, Source::User),
        (None, Some(s)) => (s, Source::Text),
        (None, None) => (stages.default_speed_mm_per_s, Source::Assumed),
    };
    let mut layout_warnings = Vec::new();
    let scale = (grid.px_per_mm_x, grid.px_per_mm_y);
    let mut layout = detect_layout(scale, speed, &mut layout_warnings)?;
    if !grid.found {
        let long_px = planes.ink.width.max(planes.ink.height) as f32;
        let (scale, note) =
            scale_without_grid(&layout, long_px, speed, dpi, grid.px_per_mm_x, stages);
        warnings.push(note);
        if let Some(s) = scale.filter(|&s| (s / grid.px_per_mm_x - 1.0).abs() > 1e-3) {
            grid.px_per_mm_x = s;
            grid.px_per_mm_y = s;
            layout_warnings.clear();
            layout = detect_layout((s, s), speed, &mut layout_warnings)?;
        }
        // Nothing printed for an ECG at all: rows of dark texture in a photo also line up.
        let furniture = layout.labels_read > 0
            || layout
                .rows
                .iter()
                .any(|r| r.pulse.is_some() || r.end_pulse.is_some() || !r.separators.is_empty());
        if !furniture && options.layout.is_none() {
            return Err(Error::LayoutNotRecognised(
                "no ECG grid, calibration pulse, lead separator or lead label found: is this an \
                 ECG printout?"
                    .into(),
            ));
        }
    }
    if options.speed_mm_per_s.is_none() {
        // The pulse lasts 0.2 s whatever the speed: its width on paper gives the speed, unless
        // the page says what it is.
        let measured =
            calibration::speed_from_pulses(&layout, grid.px_per_mm_x, &stages.calibration);
        match (speed_source, measured) {
            (Source::Text, Some(m)) if m != speed => layout_warnings.push(format!(
                "the page's text says {speed} mm/s, but its calibration pulses are 0.2 s wide \
                 at {m} mm/s: read at {speed} mm/s"
            )),
            (Source::Text, _) | (_, None) => {}
            (_, Some(m)) => {
                speed_source = Source::Pulse;
                if m != speed {
                    speed = m;
                    layout_warnings.clear();
                    let scale = (grid.px_per_mm_x, grid.px_per_mm_y);
                    layout = detect_layout(scale, speed, &mut layout_warnings)?;
                }
            }
        }
    }
    warnings.append(&mut layout_warnings);
    Ok(Reading {
        transform,
        planes,
        grid,
        runs,
        layout,
        speed,
        speed_source,
        printed_gain: printed.gain,
        warnings,
    })
}

/// The settings a page's text states, where its reads agree.
struct Printed {
    /// Paper speed in mm/s.
    speed: Option<f32>,
    /// Gain in mm/mV.
    gain: Option<f32>,
}

impl Printed {
    /// Reads the page's settings text; reads that disagree leave the setting unread, with a
    /// warning (a page printed at two gains, say, needs the user's word).
    fn read(
        runs: &ink::ColumnRuns,
        ink: &ink::InkView,
        px_per_mm: f32,
        stages: &StageOptions,
        warnings: &mut Vec<String>,
    ) -> Printed {
        let reads = labels::read_settings(
            runs,
            ink,
            px_per_mm,
            &stages.layout.labels,
            &stages.calibration.standard_speeds,
            &stages.calibration.standard_gains,
        );
        if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
            eprintln!("settings read {reads:?}");
        }
        let mut agreed = |kind: labels::SettingKind, unit: &str| {
            let mut values: Vec<f32> = reads
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.value)
                .collect();
            values.sort_by(f32::total_cmp);
            values.dedup();
            match values[..] {
                [] => None,
                [v] => Some(v),
                _ => {
                    let list: Vec<String> = values.iter().map(|v| format!("{v} {unit}")).collect();
                    warnings.push(format!(
                        "the page's text states more than one setting ({}): none was used",
                        list.join(", ")
                    ));
                    None
                }
            }
        };
        Printed {
            speed: agreed(labels::SettingKind::Speed, "mm/s"),
            gain: agreed(labels::SettingKind::Gain, "mm/mV"),
        }
    }
}

/// The scale of a page without a grid (pixels per mm; `None` keeps the assumed
/// `assumed_px_per_mm`) and the warning that says where it came from: a given resolution,
/// else a stated one that makes a printout-sized page agreeing with the pulses, else the
/// calibration pulses (refined to a paper size), else the assumption. `long_px` is the
/// page's long side, `speed` the paper speed the pulses are read at.
fn scale_without_grid(
    layout: &layout::Layout,
    long_px: f32,
    speed: f32,
    dpi: Option<Dpi>,
    assumed_px_per_mm: f32,
    stages: &StageOptions,
) -> (Option<f32>, String) {
    let pulses = calibration::pulse_width_px(layout).map(|w| {
        grid::scale_from_pulses(w, stages.calibration.pulse_s, speed, long_px, &stages.grid)
    });
    // A given resolution stands; a stated one only where it makes a printout-sized page
    // and agrees with the pulses (files often state a default such as 72 dpi).
    let stated = dpi.filter(|d| {
        let s = d.dpi / 25.4;
        let page_mm = long_px / s;
        let sized = (stages.grid.min_page_mm..=stages.grid.max_page_mm).contains(&page_mm);
        let agrees =
            pulses.is_none_or(|(p, _)| (s / p - 1.0).abs() <= stages.grid.paper_fit_tolerance);
        d.given || (sized && agrees)
    });
    match (stated, pulses) {
        (Some(d), _) => (
            Some(d.dpi / 25.4),
            format!(
                "no ECG grid found: scaled by the image's resolution, {:.0} dpi {} \
                 ({:.2} px/mm)",
                d.dpi,
                if d.given {
                    "as given"
                } else {
                    "as the file states"
                },
                d.dpi / 25.4
            ),
        ),
        (None, Some((s, Some(mm)))) => (
            Some(s),
            format!(
                "no ECG grid found: the calibration pulses make the page {mm} mm long \
                 ({s:.2} px/mm)"
            ),
        ),
        (None, Some((s, None))) => (
            Some(s),
            format!(
                "no ECG grid found: scaled by the calibration pulses' width ({s:.2} px/mm \
                 at {speed} mm/s)"
            ),
        ),
        (None, None) => (
            None,
            format!(
                "no ECG grid found: assumed the page is {:.0} mm long ({:.2} px/mm)",
                stages.grid.typical_page_mm, assumed_px_per_mm
            ),
        ),
    }
}

/// Prints stage durations to stderr when `ECG_DEBUG_TIME` is set (native only).
fn stage_timer() -> impl FnMut(&str) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let on = std::env::var("ECG_DEBUG_TIME").is_ok();
        let mut last = std::time::Instant::now();
        move |name: &str| {
            if on {
                eprintln!("{name}: {:.1} ms", last.elapsed().as_secs_f64() * 1e3);
                last = std::time::Instant::now();
            }
        }
    }
    #[cfg(target_arch = "wasm32")]
    {
        |_: &str| {}
    }
}

#[cfg(test)]
mod tests {
    use super::{is_sheet, lattice, Evidence, StageOptions};

    #[test]
    fn a_fine_periodic_pattern_is_no_sheet_to_lay_flat() {
        // Bent lines every 10 px over 2000 x 1500 px: some 200 x 150 cells, which laid flat
        // at 40 px a cell would be a 8000 x 6000 px page. A curled printout's grid is one.
        let bent = image::RgbImage::from_fn(2000, 1500, |x, y| {
            let (x, y) = (x as f32, y as f32);
            let u = x + 12.0 * (y / 120.0).sin();
            let v = y + 12.0 * (x / 150.0).sin();
            if u.rem_euclid(10.0) < 1.0 || v.rem_euclid(10.0) < 1.0 {
                image::Rgb([200, 120, 120])
            } else {
                image::Rgb([240, 240, 240])
            }
        });
        let stages = StageOptions::default();
        let l = lattice::find(&bent, &stages.lattice).expect("a lattice");
        assert!(
            l.columns * l.rows > 2 * stages.max_photo_cells,
            "{}x{}",
            l.columns,
            l.rows
        );
        assert!(!is_sheet(&l, &stages));
        let page = crate::render::render(
            &crate::render::synthetic_ecg(3, 72.0, 10.0, 500.0),
            &crate::render::RenderOptions {
                curl: 0.02,
                grid_minor_rgb: None,
                ..Default::default()
            },
        );
        let sheet = lattice::find(&page.image, &stages.lattice).expect("a lattice");
        assert!(sheet.columns > 0 && is_sheet(&sheet, &stages));
    }

    #[test]
    fn a_reading_needs_pulses_or_labels_to_overrule_another() {
        let bare = Evidence {
            pulses: 0,
            rows: 5,
            labels: 0,
        };
        assert!(!bare.shows_furniture());
        let pulsed = Evidence { pulses: 3, ..bare };
        assert!(pulsed.shows_furniture() && pulsed.clearly_beats(&bare));
        assert!(!bare.clearly_beats(&pulsed));
        let labelled = Evidence { labels: 2, ..bare };
        assert!(labelled.shows_furniture() && !labelled.clearly_beats(&bare));
    }
}
