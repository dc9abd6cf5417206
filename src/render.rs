//! Test-support renderer: draws known 12-lead signals onto ECG paper, together with the ground
//! truth of what is visible, so the digitizer can be checked end to end.
//!
//! The page follows the conventions of ECG-Image-Kit
//! (<https://github.com/alphanumericslab/ecg-image-kit>): a 1 mm / 5 mm grid over the whole
//! sheet, evenly spaced rows with room left above them, a 1 mV calibration pulse at the start
//! of every row, and short panels that show the seconds of the record a real machine would
//! print in that column.
//!
//! **Pixel convention.** Coordinates are continuous, x to the right and y down; pixel `(i, j)`
//! covers `[i, i+1) × [j, j+1)`, so its centre is `(i + 0.5, j + 0.5)`. [`RenderedGeometry`]
//! reports positions in these coordinates.
//!
//! **Determinism.** Only IEEE arithmetic and `libm` are used (never the platform's `sin` or
//! `exp`), with a seeded generator, so the same options and seed give the same bytes on every
//! platform, wasm32 included.

use crate::eval::Table;
use crate::lead::Lead;
use crate::options::LayoutSpec;
use crate::raster::Plane;
use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::Projection;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::ops::Range;

const MM_PER_INCH: f32 = 25.4;
const PT_PER_INCH: f32 = 72.0;
/// Spacing of the minor grid lines.
const MINOR_GRID_MM: f32 = 1.0;
/// Every this many minor lines is a major (5 mm) line.
const MINOR_PER_MAJOR: i64 = 5;

// ---------------------------------------------------------------------------------------------
// Synthetic signals
// ---------------------------------------------------------------------------------------------

/// A 12-lead recording in millivolts.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticEcg {
    /// Sampling rate in Hz.
    pub fs_hz: f32,
    /// The twelve leads in [`Lead::ALL`] order, in mV, all of the same length.
    pub leads: Vec<Vec<f32>>,
}

impl SyntheticEcg {
    /// Samples per lead.
    pub fn n_samples(&self) -> usize {
        self.leads.first().map_or(0, Vec::len)
    }

    /// The samples of one lead.
    pub fn lead(&self, lead: Lead) -> &[f32] {
        &self.leads[lead.index()]
    }
}

/// Knobs of [`synthetic_ecg_with`]; [`Default`] is what [`synthetic_ecg`] uses at 60 bpm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticOptions {
    /// Mean heart rate in beats per minute.
    pub heart_rate_bpm: f32,
    /// Length of the record in seconds.
    pub duration_s: f32,
    /// Sampling rate in Hz.
    pub fs_hz: f32,
    /// Each RR interval differs from the mean by up to this fraction (uniform), as in sinus rhythm.
    pub rr_jitter: f32,
    /// Each wave amplitude of each lead is scaled by a seeded factor within 1 ± this.
    pub amplitude_spread: f32,
    /// Peak baseline wander in mV: slow sinusoids, as breathing and electrode drift give.
    pub wander_mv: f32,
    /// Standard deviation of white noise in mV; 0 gives a clean record.
    pub noise_mv: f32,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            heart_rate_bpm: 60.0,
            duration_s: 10.0,
            fs_hz: 500.0,
            rr_jitter: 0.03,
            amplitude_spread: 0.2,
            wander_mv: 0.05,
            noise_mv: 0.0,
        }
    }
}

/// One deflection of the beat template: a Gaussian bump, wider on one side if lopsided.
struct Wave {
    /// Peak time relative to the R peak, at 60 bpm.
    offset_s: f64,
    /// Standard deviation before the peak.
    sigma_before_s: f64,
    /// Standard deviation after the peak.
    sigma_after_s: f64,
    /// Whether the wave's timing follows the QT interval (stretches with √RR, Bazett).
    follows_qt: bool,
}

/// Shorthand for the [`WAVES`] table.
const fn wave(offset_s: f64, sigma_before_s: f64, sigma_after_s: f64, follows_qt: bool) -> Wave {
    Wave {
        offset_s,
        sigma_before_s,
        sigma_after_s,
        follows_qt,
    }
}

/// P, Q, R, S and T; the T wave rises slowly and falls quickly.
const WAVES: [Wave; 5] = [
    wave(-0.17, 0.025, 0.025, false),
    wave(-0.03, 0.010, 0.010, false),
    wave(0.0, 0.011, 0.011, false),
    wave(0.03, 0.011, 0.014, false),
    wave(0.30, 0.060, 0.040, true),
];

/// The leads synthesized directly; the other four limb leads follow from I and II.
const INDEPENDENT_LEADS: [Lead; 8] = [
    Lead::I,
    Lead::II,
    Lead::V1,
    Lead::V2,
    Lead::V3,
    Lead::V4,
    Lead::V5,
    Lead::V6,
];

/// Template amplitudes in mV of P, Q, R, S, T for [`INDEPENDENT_LEADS`]: a normal axis, and the
/// precordial R wave growing from V1 to V5 while the S wave shrinks.
const TEMPLATE_MV: [[f64; 5]; 8] = [
    [0.08, -0.04, 0.60, -0.10, 0.20], // I
    [0.15, -0.06, 1.10, -0.20, 0.30], // II
    [0.06, 0.00, 0.25, -0.90, -0.08], // V1
    [0.08, 0.00, 0.50, -1.30, 0.45],  // V2
    [0.08, 0.00, 0.85, -0.85, 0.45],  // V3
    [0.08, -0.04, 1.25, -0.50, 0.40], // V4
    [0.08, -0.07, 1.35, -0.25, 0.32], // V5
    [0.08, -0.08, 1.05, -0.12, 0.25], // V6
];

/// A wave is summed over this many of its sigmas each side; beyond, it is below 1e-4 of its peak.
const WAVE_SUPPORT_SIGMAS: f64 = 4.5;
/// Sinusoids summed into each independent lead's baseline wander.
const WANDER_COMPONENTS: usize = 2;
/// Frequency range of the wander sinusoids, in Hz (breathing and slower).
const WANDER_HZ: (f64, f64) = (0.05, 0.4);
/// Largest accepted RR jitter, so that intervals stay positive.
const MAX_RR_JITTER: f64 = 0.9;

/// A plausible 12-lead ECG: P-QRS-T beats at `heart_rate_bpm`, small baseline wander, no noise.
///
/// The limb leads are consistent (III = II − I, aVR = −(I+II)/2, aVL = I − II/2,
/// aVF = II − I/2) and the precordial morphologies vary from V1 (mostly negative) to V6
/// (mostly positive). The seed varies amplitudes, RR intervals, the beat phase and the wander.
pub fn synthetic_ecg(seed: u64, heart_rate_bpm: f32, duration_s: f32, fs_hz: f32) -> SyntheticEcg {
    synthetic_ecg_with(
        seed,
        &SyntheticOptions {
            heart_rate_bpm,
            duration_s,
            fs_hz,
            ..SyntheticOptions::default()
        },
    )
}

/// [`synthetic_ecg`] with every knob exposed, e.g. to add noise.
pub fn synthetic_ecg_with(seed: u64, opts: &SyntheticOptions) -> SyntheticEcg {
    let mut rng = SplitMix64::new(seed);
    let fs = opts.fs_hz as f64;
    let n = if fs > 0.0 {
        (opts.duration_s as f64 * fs).round().max(0.0) as usize
    } else {
        0
    };
    let spread = opts.amplitude_spread as f64;
    let mut amplitudes = TEMPLATE_MV;
    for lead in amplitudes.iter_mut() {
        for a in lead.iter_mut() {
            *a *= rng.uniform(1.0 - spread, 1.0 + spread);
        }
    }

    // (R peak time, preceding RR interval); the first beat falls before t = 0 so the record
    // starts at a random phase of the cycle.
    let mut beats = Vec::new();
    if opts.heart_rate_bpm > 0.0 && n > 0 {
        let rr_mean = 60.0 / opts.heart_rate_bpm as f64;
        let jitter = (opts.rr_jitter as f64).clamp(0.0, MAX_RR_JITTER);
        let end_s = n as f64 / fs + rr_mean;
        let mut t = -rr_mean * rng.uniform(0.0, 1.0);
        while t < end_s {
            let rr = rr_mean * rng.uniform(1.0 - jitter, 1.0 + jitter);
            beats.push((t, rr));
            t += rr;
        }
    }

    let mut independent: Vec<Vec<f64>> = vec![vec![0.0; n]; INDEPENDENT_LEADS.len()];
    for (signal, amps) in independent.iter_mut().zip(&amplitudes) {
        for &(t_r, rr) in &beats {
            let qt_scale = libm::sqrt(rr);
            for (wave, &amp) in WAVES.iter().zip(amps) {
                if amp == 0.0 {
                    continue;
                }
                let scale = if wave.follows_qt { qt_scale } else { 1.0 };
                let (centre, before, after) = (
                    t_r + wave.offset_s * scale,
                    wave.sigma_before_s * scale,
                    wave.sigma_after_s * scale,
                );
                let lo = ((centre - WAVE_SUPPORT_SIGMAS * before) * fs)
                    .ceil()
                    .max(0.0);
                let hi = ((centre + WAVE_SUPPORT_SIGMAS * after) * fs).floor() + 1.0;
                for (i, v) in signal
                    .iter_mut()
                    .enumerate()
                    .take(hi.max(0.0) as usize)
                    .skip(lo as usize)
                {
                    let dt = i as f64 / fs - centre;
                    let z = dt / if dt < 0.0 { before } else { after };
                    *v += amp * libm::exp(-0.5 * z * z);
                }
            }
        }
    }

    let wander = opts.wander_mv as f64;
    for signal in independent.iter_mut() {
        for _ in 0..WANDER_COMPONENTS {
            // Equal shares, so that the components together stay within `wander_mv`.
            let amp = wander / WANDER_COMPONENTS as f64 * rng.uniform(0.5, 1.0);
            let omega = 2.0 * PI * rng.uniform(WANDER_HZ.0, WANDER_HZ.1);
            let phase = rng.uniform(0.0, 2.0 * PI);
            for (i, v) in signal.iter_mut().enumerate() {
                *v += amp * libm::sin(omega * i as f64 / fs + phase);
            }
        }
    }

    if opts.noise_mv > 0.0 {
        let sigma = opts.noise_mv as f64;
        for signal in independent.iter_mut() {
            for v in signal.iter_mut() {
                *v += sigma * rng.gaussian();
            }
        }
    }

    let mut leads = vec![Vec::new(); Lead::ALL.len()];
    for (lead, signal) in INDEPENDENT_LEADS.iter().zip(independent) {
        leads[lead.index()] = signal.into_iter().map(|v| v as f32).collect();
    }
    let (one, two) = (
        leads[Lead::I.index()].clone(),
        leads[Lead::II.index()].clone(),
    );
    let derive = |f: fn(f32, f32) -> f32| -> Vec<f32> {
        one.iter().zip(&two).map(|(&a, &b)| f(a, b)).collect()
    };
    leads[Lead::III.index()] = derive(|i, ii| ii - i);
    leads[Lead::AVR.index()] = derive(|i, ii| -(i + ii) / 2.0);
    leads[Lead::AVL.index()] = derive(|i, ii| i - ii / 2.0);
    leads[Lead::AVF.index()] = derive(|i, ii| ii - i / 2.0);
    SyntheticEcg {
        fs_hz: opts.fs_hz,
        leads,
    }
}

// ---------------------------------------------------------------------------------------------
// Options and results
// ---------------------------------------------------------------------------------------------

/// How the page is drawn; [`Default`] is a clean 200 DPI US-letter landscape page with a red
/// grid, the 3x4+II layout, pulses and separators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenderOptions {
    /// Resolution in dots per inch (100–300 are typical of scans).
    pub dpi: f32,
    /// Page (width, height) in mm; letter landscape is 279.4 × 215.9.
    pub page_mm: (f32, f32),
    /// Which leads are drawn where.
    pub layout: LayoutSpec,
    /// Seconds of record across a full row.
    pub duration_s: f32,
    /// Paper speed in mm per second.
    pub speed_mm_per_s: f32,
    /// Vertical scale in mm per mV.
    pub gain_mm_per_mv: f32,
    /// Blank paper left of the pulse (or of the traces, without a pulse), in mm.
    pub left_margin_mm: f32,
    /// Row k's baseline lies (k + this) row pitches from the top, where the pitch is the page
    /// height / (rows + 2). ECG-Image-Kit's 2.5 leaves room for a header and puts the last row
    /// half a pitch above the bottom edge.
    pub first_baseline_pitches: f32,
    /// Paper colour.
    pub paper_rgb: [u8; 3],
    /// Whether a grid is printed; `false` gives blank paper.
    pub grid: bool,
    /// Colour of the 5 mm lines.
    pub grid_major_rgb: [u8; 3],
    /// Colour of the 1 mm lines; `None` prints only the 5 mm lines.
    pub grid_minor_rgb: Option<[u8; 3]>,
    /// Width of every grid line in points (1/72 inch).
    pub grid_line_width_pt: f32,
    /// Where a major line crossing lies, in mm from the page's top-left corner.
    pub grid_origin_mm: (f32, f32),
    /// Colour of traces, pulses and separators.
    pub ink_rgb: [u8; 3],
    /// Trace width in points.
    pub line_width_pt: f32,
    /// Whether a calibration pulse starts every row.
    pub pulse: bool,
    /// Height of the calibration pulse in mV.
    pub pulse_mv: f32,
    /// Width of the calibration pulse in seconds of paper.
    pub pulse_duration_s: f32,
    /// Pulse stroke width relative to the trace width (printers draw it bolder).
    pub pulse_width_factor: f32,
    /// The pulse's edges come this long after their nominal times, with a flat lead-in and
    /// lead-out at 0 mV: ECG-Image-Kit pads its pulse with two 500 Hz samples, so its falling
    /// edge lies 3 ms after the trace's first sample. 0 joins pulse and trace exactly.
    pub pulse_lag_s: f32,
    /// Whether a short vertical bar marks every column boundary.
    pub separators: bool,
    /// Separator bars reach this many mV above and below the row baseline.
    pub separator_half_height_mv: f32,
    /// Separator bar width in mm.
    pub separator_width_mm: f32,
    /// On pages with pulses, bars stand this long before their column boundary: the pulse
    /// padding delays ECG-Image-Kit's traces by one 500 Hz sample, but not its bars.
    pub separator_lead_s: f32,
    /// Font (TrueType or OpenType bytes) of the settings text under the last row, as
    /// ECG-Image-Kit prints it; `None` prints no text. Not part of a recipe file. `render`
    /// panics if these bytes are not a font.
    #[serde(skip)]
    pub settings_font: Option<Vec<u8>>,
    /// What the settings text says, one string per block, printed from 50 mm in and 50 mm
    /// apart; `{speed}` and `{gain}` stand for the page's numbers.
    pub settings_text: Vec<String>,
    /// Size of the settings text in points (ECG-Image-Kit's digits stand 2.9 mm tall: 11 pt).
    pub settings_text_pt: f32,
    /// Counter-clockwise page rotation on screen, in degrees, about the page's centre (the
    /// image's centre).
    pub rotation_deg: f32,
    /// Colour of the corners that rotation or perspective uncovers (without a desk).
    pub rotation_fill_rgb: [u8; 3],
    /// A photo taken from off the page's axis: how much shorter the top edge comes out than
    /// the bottom one (first) and the right edge than the left one (second), as fractions
    /// of their length; negative shortens the other edge. (0, 0) is a flat scan.
    pub keystone: (f32, f32),
    /// Uneven lighting: the bottom-right corner is this fraction darker than the top-left,
    /// shading linearly between them; 0 is even light.
    pub shading: f32,
    /// Lens blur: standard deviation of a Gaussian blur, in pixels; 0 is sharp.
    pub blur_px: f32,
    /// Standard deviation of additive Gaussian pixel noise, on the 0–255 scale; 0 = none.
    pub noise_sigma: f32,
    /// Page curl, as of a page that was rolled and lies on a desk: the left and right edges
    /// lift (a cylinder along the page's height). Rows sag at the middle by this fraction of
    /// the page height relative to the left and right edges (negative: they arch), and
    /// horizontal spacing shrinks towards those edges, where the paper slopes away (by 6 % at
    /// the edges for 0.02). 0 is flat paper.
    pub curl: f32,
    /// A crease from folding the page and flattening it again; `None` is an unfolded page.
    pub fold: Option<Fold>,
    /// A desk around the page: the image extends this fraction of the page's width (left and
    /// right) and height (top and bottom) beyond the bent and rotated page, showing a seeded
    /// wood texture (`seed`) wherever the page is not, in place of `rotation_fill_rgb`. The
    /// page's centre is the image's. 0 is no desk: the image is the page.
    pub desk_margin: f32,
    /// A lamp's reflection on the photo; `None` is none.
    pub glare: Option<Glare>,
    /// Seed of the pixel noise and of the desk texture.
    pub seed: u64,
}

/// A crease across the page: its far side is turned a little, and lit differently.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// Where the crease lies, as a fraction of the page's extent along the crease's normal,
    /// which points right for a vertical crease (up for `angle_deg` = 90): for a vertical
    /// crease, x / page width; 0.5 passes through the page's centre.
    pub position: f32,
    /// Direction of the crease in degrees, counter-clockwise on screen from vertical: 0 runs
    /// top to bottom, 90 left to right.
    pub angle_deg: f32,
    /// The far side (along the normal) is this fraction darker, as paper tilted away from
    /// the light is; the crease itself shows as a thin bright line and a thin dark one.
    pub shade: f32,
    /// Lines crossing the crease turn by this many degrees (counter-clockwise on screen) on
    /// its far side: the far side is sheared along the crease, as flattened paper keeps a
    /// slight bend.
    pub kink_deg: f32,
}

/// A lamp's reflection: pixels move towards white, most at the centre and not at all beyond
/// the radius, so the grid and traces inside it lose contrast and colour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Glare {
    /// Centre x, as a fraction of the image's width from its left edge.
    pub x: f32,
    /// Centre y, as a fraction of the image's height from its top edge.
    pub y: f32,
    /// Radius, as a fraction of the image's shorter side.
    pub radius: f32,
    /// How far towards white the centre goes, 0–1 (1 washes it out entirely).
    pub strength: f32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            dpi: 200.0,
            page_mm: (279.4, 215.9),
            layout: LayoutSpec::standard_3x4(&[Lead::II]),
            duration_s: 10.0,
            speed_mm_per_s: 25.0,
            gain_mm_per_mv: 10.0,
            left_margin_mm: 10.0,
            first_baseline_pitches: 2.5,
            paper_rgb: [255, 255, 255],
            grid: true,
            grid_major_rgb: [255, 0, 0],
            grid_minor_rgb: Some([254, 223, 219]),
            grid_line_width_pt: 0.5,
            grid_origin_mm: (0.0, 0.0),
            ink_rgb: [20, 20, 20],
            line_width_pt: 0.75,
            pulse: true,
            pulse_mv: 1.0,
            pulse_duration_s: 0.2,
            pulse_width_factor: 1.5,
            pulse_lag_s: 0.003,
            separators: true,
            separator_half_height_mv: 0.35,
            separator_width_mm: 0.75,
            separator_lead_s: 0.002,
            settings_font: None,
            settings_text: vec!["{speed}mm/s".into(), "{gain}mm/mV".into()],
            settings_text_pt: 11.0,
            rotation_deg: 0.0,
            rotation_fill_rgb: [255, 255, 255],
            keystone: (0.0, 0.0),
            shading: 0.0,
            blur_px: 0.0,
            noise_sigma: 0.0,
            curl: 0.0,
            fold: None,
            desk_margin: 0.0,
            glare: None,
            seed: 0,
        }
    }
}

/// One drawn lead panel.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPanel {
    /// The lead drawn.
    pub lead: Lead,
    /// Layout row, from the top.
    pub row: usize,
    /// Column within the row, from the left.
    pub column: usize,
    /// First second of the record shown.
    pub t_from_s: f32,
    /// End of the shown interval (exclusive).
    pub t_to_s: f32,
    /// Page samples shown (those beyond the record's end are not drawn).
    pub samples: Range<usize>,
    /// Where the panel starts on the page, in seconds of paper after the time origin.
    pub x_from_s: f32,
}

/// Where things were drawn, in upright page pixels (before bending and rotation), in this
/// module's pixel convention: pixel `(i, j)` covers `[i, i+1) × [j, j+1)`, its centre is
/// `(i + 0.5, j + 0.5)`. [`RenderedGeometry::to_image`] takes them to the final image.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedGeometry {
    /// Width of the upright page in pixels (the image's too, without a desk).
    pub width_px: u32,
    /// Height of the upright page in pixels (the image's too, without a desk).
    pub height_px: u32,
    /// Width of the final image in pixels: the page's, plus the desk around it.
    pub image_width_px: u32,
    /// Height of the final image in pixels: the page's, plus the desk around it.
    pub image_height_px: u32,
    /// Where the upright page's origin lies on the image before rotation: (0, 0) without a
    /// desk, else the desk's left and top margins, so that the page's centre is the image's.
    pub page_offset_px: (f32, f32),
    /// Pixels per mm of paper, both axes.
    pub px_per_mm: f32,
    /// Pixels per second of record.
    pub px_per_s: f32,
    /// Pixels per mV.
    pub px_per_mv: f32,
    /// x of t = 0 (after the pulse, if any).
    pub x0_px: f32,
    /// The 0 mV line of each layout row.
    pub baseline_y_px: Vec<f32>,
    /// Left and right x of the calibration pulses, if drawn.
    pub pulse_x_px: Option<(f32, f32)>,
    /// x of the separator bars, per row (empty for single-column rows or without separators).
    pub separator_x_px: Vec<Vec<f32>>,
    /// Every drawn panel.
    pub panels: Vec<RenderedPanel>,
    /// [`RenderOptions::curl`], applied first.
    pub curl: f32,
    /// [`RenderOptions::fold`], applied after the curl.
    pub fold: Option<Fold>,
    /// Rotation applied after bending, about the page's centre, counter-clockwise on screen,
    /// in degrees.
    pub rotation_deg: f32,
    /// [`RenderOptions::keystone`], applied to the whole image after the rotation.
    pub keystone: (f32, f32),
}

impl RenderedGeometry {
    /// x of record time `t_s`.
    pub fn x_of(&self, t_s: f32) -> f32 {
        self.x0_px + t_s * self.px_per_s
    }

    /// y of `mv` in layout row `row`.
    pub fn y_of(&self, row: usize, mv: f32) -> f32 {
        self.baseline_y_px[row] - mv * self.px_per_mv
    }

    /// The rotation centre on the image: the page's centre, which is the middle of the image.
    pub fn center(&self) -> (f32, f32) {
        (
            self.page_offset_px.0 + self.width_px as f32 / 2.0,
            self.page_offset_px.1 + self.height_px as f32 / 2.0,
        )
    }

    /// Where the upright point `(x, y)` lies in the final (bent, rotated, photographed) image.
    pub fn to_image(&self, x: f32, y: f32) -> (f32, f32) {
        let turned = self.turn(x, y);
        match self.keystone_projection() {
            Some(k) => k * turned,
            None => turned,
        }
    }

    /// [`Self::to_image`] before the keystone: bent, placed and rotated.
    fn turn(&self, x: f32, y: f32) -> (f32, f32) {
        let (x, y) = self.bend(x, y);
        let (s, c) = sin_cos_deg(self.rotation_deg);
        let (cx, cy) = self.center();
        let (dx, dy) = (
            x - self.width_px as f32 / 2.0,
            y - self.height_px as f32 / 2.0,
        );
        // y points down, so a counter-clockwise turn lifts the right side.
        (cx + dx * c + dy * s, cy - dx * s + dy * c)
    }

    /// Where the upright point `(x, y)` lies on the curled and folded page, in page pixels.
    fn bend(&self, x: f32, y: f32) -> (f32, f32) {
        let p = match self.curl_shape() {
            Some(curl) => curl.forward(x, y),
            None => (x, y),
        };
        match self.crease() {
            Some(crease) => crease.forward(p),
            None => p,
        }
    }

    fn curl_shape(&self) -> Option<Curl> {
        let (w, h) = (self.width_px as f32, self.height_px as f32);
        let sag = self.curl * h;
        // The lifted edges rise on screen by their height × sin(view tilt): a phone held
        // about 10° off vertical sees a sixth of the lift, as the sag.
        let lift = 6.0 * sag.abs();
        (sag != 0.0 && w > 0.0).then(|| Curl {
            centre_x: w / 2.0,
            sag,
            // A parabola of height `lift` at the edges: its slope grows by this per pixel.
            slope_per_px: 8.0 * lift / (w * w),
        })
    }

    fn crease(&self) -> Option<Crease> {
        let fold = self.fold?;
        let (s, c) = sin_cos_deg(fold.angle_deg);
        let normal = (c, -s);
        let (w, h) = (self.width_px as f32, self.height_px as f32);
        let corners = [0.0, c * w, -s * h, c * w - s * h];
        let lo = corners.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = corners.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (ks, kc) = sin_cos_deg(fold.kink_deg);
        Some(Crease {
            normal,
            along: (s, c),
            offset: lo + fold.position * (hi - lo),
            shear: ks / kc,
        })
    }

    /// The perspective of [`RenderOptions::keystone`]: the rotated image's corners to the
    /// photo's quadrilateral; `None` for a flat scan.
    pub fn keystone_projection(&self) -> Option<Projection> {
        let (top, right) = self.keystone;
        if top == 0.0 && right == 0.0 {
            return None;
        }
        let (w, h) = (self.image_width_px as f32, self.image_height_px as f32);
        // Each edge's shortening, split evenly between its two ends.
        let (top_in, bottom_in) = (top.max(0.0) * w / 2.0, (-top).max(0.0) * w / 2.0);
        let (right_in, left_in) = (right.max(0.0) * h / 2.0, (-right).max(0.0) * h / 2.0);
        Projection::from_control_points(
            [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)],
            [
                (top_in, left_in),
                (w - top_in, right_in),
                (w - bottom_in, h - right_in),
                (bottom_in, h - left_in),
            ],
        )
    }

    /// Whether a point of the final image lies on it.
    fn contains(&self, x: f32, y: f32) -> bool {
        x >= 0.0 && y >= 0.0 && x < self.image_width_px as f32 && y < self.image_height_px as f32
    }
}

/// [`RenderOptions::curl`] in page pixels: rows sag by `sag` × (1 − (2s/w)²) at `s` pixels
/// from the centre, and the paper, whose slope grows by `slope_per_px` per pixel from the
/// centre, is foreshortened by the cosine of its slope.
struct Curl {
    centre_x: f32,
    sag: f32,
    slope_per_px: f32,
}

impl Curl {
    /// Row sag at `s` pixels right of the centre.
    fn sag_at(&self, s: f32) -> f32 {
        let a = s / self.centre_x;
        self.sag * (1.0 - a * a)
    }

    fn forward(&self, x: f32, y: f32) -> (f32, f32) {
        let s = x - self.centre_x;
        let k = self.slope_per_px;
        // ∫ cos(atan(k·s)) ds: the paper's length s seen from above.
        let seen = if k > 0.0 { libm::asinhf(k * s) / k } else { s };
        (self.centre_x + seen, y + self.sag_at(s))
    }

    fn backward(&self, x: f32, y: f32) -> (f32, f32) {
        let k = self.slope_per_px;
        let seen = x - self.centre_x;
        let s = if k > 0.0 {
            libm::sinhf(k * seen) / k
        } else {
            seen
        };
        (self.centre_x + s, y - self.sag_at(s))
    }
}

/// [`RenderOptions::fold`] in page pixels: the crease is where `normal · p = offset`; beyond
/// it, points slide back along the crease by `shear` per pixel of distance from it.
struct Crease {
    normal: (f32, f32),
    along: (f32, f32),
    offset: f32,
    shear: f32,
}

impl Crease {
    /// Signed distance from the crease in pixels, positive on the far side.
    fn distance(&self, p: (f32, f32)) -> f32 {
        self.normal.0 * p.0 + self.normal.1 * p.1 - self.offset
    }

    fn forward(&self, p: (f32, f32)) -> (f32, f32) {
        // `along` points down a vertical crease: sliding up it turns lines counter-clockwise.
        let t = self.distance(p).max(0.0) * self.shear;
        (p.0 - t * self.along.0, p.1 - t * self.along.1)
    }

    /// The shear keeps the distance from the crease, so it undoes exactly.
    fn backward(&self, p: (f32, f32)) -> (f32, f32) {
        let t = self.distance(p).max(0.0) * self.shear;
        (p.0 + t * self.along.0, p.1 + t * self.along.1)
    }
}

/// A rendered page and what it shows.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The page (on its desk, if any), bent, rotated and noised as asked.
    pub image: RgbImage,
    /// Ground truth in the reference CSV format: what is visibly drawn, per lead and page
    /// sample; `None` where not drawn.
    pub truth: Table,
    /// Where things were drawn (upright page pixels, before rotation): baseline y per row,
    /// x of t = 0, px per mm.
    pub geometry: RenderedGeometry,
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/// Draws `ecg` onto ECG paper as `opts` says, and records what is visible.
///
/// The page is drawn upright, then curled and folded, placed on a desk, rotated and
/// photographed at an angle (bilinear), lit (shading, the fold's light, glare), blurred and
/// noised.
/// The page timeline has `duration_s × fs` samples; in a row of `c` columns, column `j` shows
/// the samples of `[j·D/c, (j+1)·D/c)`. Samples past the end of `ecg` are not drawn.
pub fn render(ecg: &SyntheticEcg, opts: &RenderOptions) -> Rendered {
    let geometry = page_geometry(ecg, opts);
    let ink = draw_ink(ecg, opts, &geometry);
    let mut image = paint(opts, &geometry, &ink);
    // Freed before rotation allocates a second page.
    drop(ink);
    if opts.curl != 0.0 || opts.fold.is_some() || opts.desk_margin > 0.0 {
        image = photograph(&image, opts, &geometry);
    } else {
        if opts.rotation_deg != 0.0 {
            image = rotate(&image, opts.rotation_deg, opts.rotation_fill_rgb);
        }
        if let Some(k) = geometry.keystone_projection() {
            let back = k.invert();
            image = resample(&image, opts.rotation_fill_rgb, |x, y| back * (x, y));
        }
    }
    if opts.shading != 0.0 {
        shade(&mut image, opts.shading);
    }
    if let Some(glare) = &opts.glare {
        add_glare(&mut image, glare);
    }
    if opts.blur_px > 0.0 {
        image = imageproc::filter::gaussian_blur_f32(&image, opts.blur_px);
    }
    if opts.noise_sigma > 0.0 {
        add_noise(&mut image, opts.noise_sigma, opts.seed);
    }
    let truth = truth_table(ecg, &geometry);
    Rendered {
        image,
        truth,
        geometry,
    }
}

/// Encodes an image as PNG.
pub fn to_png(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))
        .expect("encoding an in-memory RGB image to PNG cannot fail");
    bytes
}

/// Encodes a page as PNG stating its resolution (a pHYs chunk, in pixels per metre), as a
/// scanner writes it.
pub fn to_png_at_dpi(image: &RgbImage, dpi: f32) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, image.width(), image.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let ppm = (dpi / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: ppm,
        yppu: ppm,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder
        .write_header()
        .expect("an in-memory PNG header cannot fail");
    writer
        .write_image_data(image.as_raw())
        .expect("an in-memory RGB image fits its header");
    drop(writer);
    bytes
}

/// Samples of the page timeline.
fn page_samples(ecg: &SyntheticEcg, duration_s: f32) -> usize {
    if ecg.fs_hz > 0.0 {
        (duration_s * ecg.fs_hz).round().max(0.0) as usize
    } else {
        0
    }
}

fn page_geometry(ecg: &SyntheticEcg, opts: &RenderOptions) -> RenderedGeometry {
    let px_per_mm = opts.dpi / MM_PER_INCH;
    let width_px = (opts.page_mm.0 * px_per_mm).round().max(1.0) as u32;
    let height_px = (opts.page_mm.1 * px_per_mm).round().max(1.0) as u32;
    let px_per_s = opts.speed_mm_per_s * px_per_mm;
    let margin_px = opts.left_margin_mm * px_per_mm;
    let pulse_px = if opts.pulse {
        opts.pulse_duration_s * px_per_s
    } else {
        0.0
    };
    let x0_px = margin_px + pulse_px;

    let rows = &opts.layout.rows;
    let pitch = opts.page_mm.1 * px_per_mm / (rows.len() as f32 + 2.0);
    let baseline_y_px = (0..rows.len())
        .map(|k| (k as f32 + opts.first_baseline_pitches) * pitch)
        .collect();

    let n = page_samples(ecg, opts.duration_s);
    let duration = opts.duration_s;
    let mut panels = Vec::new();
    let mut separator_x_px = Vec::new();
    for (row, leads) in rows.iter().enumerate() {
        let cols = leads.len();
        for (column, &lead) in leads.iter().enumerate() {
            // Successive columns tile the timeline; same-time columns (6x2) all show its start.
            let k = if opts.layout.same_time_columns {
                0
            } else {
                column
            };
            panels.push(RenderedPanel {
                lead,
                row,
                column,
                t_from_s: duration * k as f32 / cols as f32,
                t_to_s: duration * (k + 1) as f32 / cols as f32,
                // Integer bounds, so that columns tile the timeline exactly.
                samples: (k * n).div_ceil(cols)..((k + 1) * n).div_ceil(cols),
                x_from_s: duration * column as f32 / cols as f32,
            });
        }
        let bars = if opts.separators {
            let lead_px = if opts.pulse {
                opts.separator_lead_s * px_per_s
            } else {
                0.0
            };
            (1..cols)
                .map(|j| x0_px + duration * j as f32 / cols as f32 * px_per_s - lead_px)
                .collect()
        } else {
            Vec::new()
        };
        separator_x_px.push(bars);
    }

    let mut g = RenderedGeometry {
        width_px,
        height_px,
        image_width_px: width_px,
        image_height_px: height_px,
        page_offset_px: (0.0, 0.0),
        px_per_mm,
        px_per_s,
        px_per_mv: opts.gain_mm_per_mv * px_per_mm,
        x0_px,
        baseline_y_px,
        pulse_x_px: opts.pulse.then_some((margin_px, x0_px)),
        separator_x_px,
        panels,
        curl: opts.curl,
        fold: opts.fold,
        rotation_deg: opts.rotation_deg,
        keystone: opts.keystone,
    };
    if opts.desk_margin > 0.0 {
        place_on_desk(&mut g, opts.desk_margin);
    }
    g
}

/// Grows the image around the page by `margin` of its size beyond the bent and rotated
/// page's reach, on every side, keeping the page's centre in the middle.
fn place_on_desk(g: &mut RenderedGeometry, margin: f32) {
    let (w, h) = (g.width_px as f32, g.height_px as f32);
    // The page's outline, bent and turned about its centre (still at its upright place).
    const STEPS: usize = 64;
    let (mut reach_x, mut reach_y) = (w / 2.0, h / 2.0);
    for i in 0..=STEPS {
        let f = i as f32 / STEPS as f32;
        for (x, y) in [(f * w, 0.0), (f * w, h), (0.0, f * h), (w, f * h)] {
            let (x, y) = g.turn(x, y);
            reach_x = reach_x.max((x - w / 2.0).abs());
            reach_y = reach_y.max((y - h / 2.0).abs());
        }
    }
    // Whole pixels on each side, so that an unturned page lands on pixel boundaries.
    let left = (reach_x + margin * w - w / 2.0).ceil();
    let top = (reach_y + margin * h - h / 2.0).ceil();
    g.image_width_px = g.width_px + 2 * left as u32;
    g.image_height_px = g.height_px + 2 * top as u32;
    g.page_offset_px = (left, top);
}

/// Upright position of sample `n` of value `mv` in `row`; drawing and truth share it.
fn sample_point(
    g: &RenderedGeometry,
    fs_hz: f32,
    panel: &RenderedPanel,
    n: usize,
    mv: f32,
) -> (f32, f32) {
    let t = panel.x_from_s + n as f32 / fs_hz - panel.t_from_s;
    (g.x_of(t), g.y_of(panel.row, mv))
}

fn points_to_px(pt: f32, dpi: f32) -> f32 {
    pt / PT_PER_INCH * dpi
}

/// Ink coverage (0–1) of traces, pulses and separators on the upright page.
fn draw_ink(ecg: &SyntheticEcg, opts: &RenderOptions, g: &RenderedGeometry) -> Plane {
    let mut ink = Plane::new(g.width_px as usize, g.height_px as usize, 0.0);
    let line_px = points_to_px(opts.line_width_pt, opts.dpi);

    let mut points = Vec::new();
    for panel in &g.panels {
        let Some(signal) = ecg.leads.get(panel.lead.index()) else {
            continue;
        };
        let end = panel.samples.end.min(signal.len());
        points.clear();
        let sign = opts.layout.sign(panel.lead);
        points.extend(
            (panel.samples.start..end)
                .map(|n| sample_point(g, ecg.fs_hz, panel, n, sign * signal[n])),
        );
        stroke_polyline(&mut ink, &points, line_px);
    }

    if let Some((x_left, x_right)) = g.pulse_x_px {
        let pulse_px = line_px * opts.pulse_width_factor;
        for row in 0..g.baseline_y_px.len() {
            let (bottom, top) = (g.y_of(row, 0.0), g.y_of(row, opts.pulse_mv));
            let lag = opts.pulse_lag_s * g.px_per_s;
            // Edges take a third of the lag to rise or fall, as sampled pulses do.
            let edge = lag / 3.0;
            let path = [
                (x_left, bottom),
                (x_left + lag - edge, bottom),
                (x_left + lag + edge, top),
                (x_right + lag - edge, top),
                (x_right + lag + edge, bottom),
                (x_right + 2.0 * lag, bottom),
            ];
            stroke_polyline(&mut ink, &path, pulse_px);
        }
    }

    let half_bar_px = opts.separator_width_mm * g.px_per_mm / 2.0;
    for (row, bars) in g.separator_x_px.iter().enumerate() {
        let (top, bottom) = (
            g.y_of(row, opts.separator_half_height_mv),
            g.y_of(row, -opts.separator_half_height_mv),
        );
        for &x in bars {
            fill_rect(&mut ink, x - half_bar_px, top, x + half_bar_px, bottom);
        }
    }

    if let Some(bytes) = &opts.settings_font {
        let font = ab_glyph::FontRef::try_from_slice(bytes)
            .expect("RenderOptions::settings_font holds a TrueType or OpenType font");
        // ECG-Image-Kit's text baseline stands 5 mm above the page's bottom edge.
        let baseline = g.height_px as f32 - 5.0 * g.px_per_mm;
        let em_px = points_to_px(opts.settings_text_pt, opts.dpi);
        for (k, block) in opts.settings_text.iter().enumerate() {
            let text = block
                .replace("{speed}", &opts.speed_mm_per_s.to_string())
                .replace("{gain}", &opts.gain_mm_per_mv.to_string());
            let x = 50.0 * (k + 1) as f32 * g.px_per_mm;
            draw_text(&mut ink, &font, &text, (x, baseline), em_px);
        }
    }
    ink
}

/// Adds `text` to `ink` in `font`, `em_px` pixels to the em, its baseline starting at `at`.
fn draw_text(ink: &mut Plane, font: &ab_glyph::FontRef, text: &str, at: (f32, f32), em_px: f32) {
    use ab_glyph::{Font, ScaleFont};
    // ab_glyph scales a font by its line height, printers and matplotlib by its em.
    let em_units = font.units_per_em().unwrap_or(font.height_unscaled());
    let scale = em_px * font.height_unscaled() / em_units;
    let scaled = font.as_scaled(scale);
    let mut caret = at.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(caret, at.1));
        caret += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue; // a space
        };
        let origin = outline.px_bounds().min;
        outline.draw(|gx, gy, coverage| {
            let (x, y) = (origin.x as i64 + gx as i64, origin.y as i64 + gy as i64);
            if (0..ink.width as i64).contains(&x) && (0..ink.height as i64).contains(&y) {
                let v = &mut ink.data[y as usize * ink.width + x as usize];
                *v = v.max(coverage);
            }
        });
    }
}

/// Length of `[a0, a1] ∩ [b0, b1]`.
fn overlap(a0: f32, a1: f32, b0: f32, b1: f32) -> f32 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// Coverage of a pixel whose centre lies `distance_px` from the centre line of a stroke of
/// half width `half_px`: the overlap of the pixel's unit box with the stroke, across the stroke.
fn stroke_coverage(distance_px: f32, half_px: f32) -> f32 {
    overlap(distance_px - 0.5, distance_px + 0.5, -half_px, half_px).min(1.0)
}

/// Adds a stroke of `width_px` along the polyline (round joins and caps) to `ink`, keeping the
/// larger coverage where strokes meet.
fn stroke_polyline(ink: &mut Plane, points: &[(f32, f32)], width_px: f32) {
    match points {
        [] => {}
        [p] => stroke_segment(ink, *p, *p, width_px / 2.0),
        _ => {
            for pair in points.windows(2) {
                stroke_segment(ink, pair[0], pair[1], width_px / 2.0);
            }
        }
    }
}

/// Range of pixel indices whose centres lie within `[lo, hi]`, clipped to `0..len`.
fn pixel_span(lo: f32, hi: f32, len: usize) -> Range<usize> {
    let first = (lo - 0.5).ceil().max(0.0);
    let last = ((hi - 0.5).floor() + 1.0).clamp(0.0, len as f32);
    if first >= last {
        0..0
    } else {
        first as usize..last as usize
    }
}

fn stroke_segment(ink: &mut Plane, a: (f32, f32), b: (f32, f32), half_px: f32) {
    if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
        return;
    }
    // Pixel centres farther than this from the centre line get no coverage.
    let reach = half_px + 0.5;
    let xs = pixel_span(a.0.min(b.0) - reach, a.0.max(b.0) + reach, ink.width);
    let ys = pixel_span(a.1.min(b.1) - reach, a.1.max(b.1) + reach, ink.height);
    let (ux, uy) = (b.0 - a.0, b.1 - a.1);
    let len2 = ux * ux + uy * uy;
    for y in ys {
        let py = y as f32 + 0.5 - a.1;
        for x in xs.clone() {
            let px = x as f32 + 0.5 - a.0;
            let t = if len2 > 0.0 {
                ((px * ux + py * uy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (dx, dy) = (px - t * ux, py - t * uy);
            let d = (dx * dx + dy * dy).sqrt();
            if d < reach {
                let c = stroke_coverage(d, half_px);
                if c > ink.get(x, y) {
                    ink.set(x, y, c);
                }
            }
        }
    }
}

/// Fills an axis-aligned rectangle with exact area coverage.
fn fill_rect(ink: &mut Plane, x0: f32, y0: f32, x1: f32, y1: f32) {
    if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
        return;
    }
    let xs = pixel_span(x0 - 0.5, x1 + 0.5, ink.width);
    let ys = pixel_span(y0 - 0.5, y1 + 0.5, ink.height);
    for y in ys {
        let cy = overlap(y as f32, y as f32 + 1.0, y0, y1);
        for x in xs.clone() {
            let c = cy * overlap(x as f32, x as f32 + 1.0, x0, x1);
            if c > ink.get(x, y) {
                ink.set(x, y, c);
            }
        }
    }
}

/// Coverage of each pixel column (or row) by the minor and the major grid lines along one axis.
struct GridProfile {
    minor: Vec<f32>,
    major: Vec<f32>,
}

fn grid_profile(len: usize, origin_mm: f32, px_per_mm: f32, line_px: f32) -> GridProfile {
    let mut minor = vec![0.0f32; len];
    let mut major = vec![0.0f32; len];
    let half = line_px / 2.0;
    let step_px = MINOR_GRID_MM * px_per_mm;
    if step_px > 0.0 && len > 0 {
        let origin_px = origin_mm * px_per_mm;
        // Line k lies at origin + k·step; cover every line that touches the page.
        let k_first = ((-half - origin_px) / step_px).floor() as i64;
        let k_last = ((len as f32 + half - origin_px) / step_px).ceil() as i64;
        for k in k_first..=k_last {
            let centre = origin_px + k as f32 * step_px;
            let target = if k.rem_euclid(MINOR_PER_MAJOR) == 0 {
                &mut major
            } else {
                &mut minor
            };
            for i in pixel_span(centre - half - 0.5, centre + half + 0.5, len) {
                target[i] += overlap(i as f32, i as f32 + 1.0, centre - half, centre + half);
            }
        }
    }
    for c in minor.iter_mut().chain(major.iter_mut()) {
        *c = c.min(1.0);
    }
    GridProfile { minor, major }
}

fn to_f32(rgb: [u8; 3]) -> [f32; 3] {
    rgb.map(f32::from)
}

fn blend(under: [f32; 3], over: [f32; 3], coverage: f32) -> [f32; 3] {
    [0, 1, 2].map(|i| under[i] + (over[i] - under[i]) * coverage)
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

/// Paper, grid and ink composited on the upright page.
fn paint(opts: &RenderOptions, g: &RenderedGeometry, ink: &Plane) -> RgbImage {
    let (w, h) = (g.width_px as usize, g.height_px as usize);
    let line_px = points_to_px(opts.grid_line_width_pt, opts.dpi);
    let (cols, rows) = if opts.grid {
        (
            grid_profile(w, opts.grid_origin_mm.0, g.px_per_mm, line_px),
            grid_profile(h, opts.grid_origin_mm.1, g.px_per_mm, line_px),
        )
    } else {
        let none = |len| GridProfile {
            minor: vec![0.0; len],
            major: vec![0.0; len],
        };
        (none(w), none(h))
    };
    let paper = to_f32(opts.paper_rgb);
    let major = to_f32(opts.grid_major_rgb);
    let minor = opts.grid_minor_rgb.map(to_f32);
    let ink_rgb = to_f32(opts.ink_rgb);
    // Crossing lines of one colour are one layer of ink: cover their union, not their sum.
    let union = |a: f32, b: f32| a + b - a * b;

    let mut image = RgbImage::new(g.width_px, g.height_px);
    for (y, row) in image.rows_mut().enumerate() {
        for (x, pixel) in row.enumerate() {
            let mut c = paper;
            if let Some(minor) = minor {
                let m = union(cols.minor[x], rows.minor[y]);
                if m > 0.0 {
                    c = blend(c, minor, m);
                }
            }
            let m = union(cols.major[x], rows.major[y]);
            if m > 0.0 {
                c = blend(c, major, m);
            }
            let k = ink.get(x, y);
            if k > 0.0 {
                c = blend(c, ink_rgb, k);
            }
            *pixel = Rgb(c.map(to_u8));
        }
    }
    image
}

fn sin_cos_deg(deg: f32) -> (f32, f32) {
    let r = deg * (std::f32::consts::PI / 180.0);
    (libm::sinf(r), libm::cosf(r))
}

/// Turns the image counter-clockwise on screen by `deg` about its centre (bilinear), filling
/// uncovered corners with `fill`.
fn rotate(src: &RgbImage, deg: f32, fill: [u8; 3]) -> RgbImage {
    let (s, c) = sin_cos_deg(deg);
    let (cx, cy) = (src.width() as f32 / 2.0, src.height() as f32 / 2.0);
    // Inverse of `RenderedGeometry::to_image`'s turn.
    resample(src, fill, |x, y| {
        let (dx, dy) = (x - cx, y - cy);
        (cx + dx * c - dy * s, cy + dx * s + dy * c)
    })
}

/// The image whose point `(x, y)` shows `src` at `source(x, y)` (bilinear, continuous
/// coordinates); points from outside `src` get `fill`.
fn resample(src: &RgbImage, fill: [u8; 3], source: impl Fn(f32, f32) -> (f32, f32)) -> RgbImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let fill = to_f32(fill);
    let raw = src.as_raw();
    let fetch = |x: i64, y: i64| -> [f32; 3] {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            fill
        } else {
            let i = (y as usize * w + x as usize) * 3;
            [raw[i], raw[i + 1], raw[i + 2]].map(f32::from)
        }
    };
    let mut out = RgbImage::new(src.width(), src.height());
    for (yo, row) in out.chunks_exact_mut(w * 3).enumerate() {
        for (xo, pixel) in row.chunks_exact_mut(3).enumerate() {
            let (u, v) = source(xo as f32 + 0.5, yo as f32 + 0.5);
            // Shifted so that pixel centres are integers.
            let (u, v) = (u - 0.5, v - 0.5);
            let (x0, y0) = (u.floor(), v.floor());
            let (fx, fy) = (u - x0, v - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let top = blend(fetch(x0, y0), fetch(x0 + 1, y0), fx);
            let bottom = blend(fetch(x0, y0 + 1), fetch(x0 + 1, y0 + 1), fx);
            let value = blend(top, bottom, fy);
            for (p, v) in pixel.iter_mut().zip(value) {
                *p = to_u8(v);
            }
        }
    }
    out
}

/// The upright page bent, placed on its desk (or `rotation_fill_rgb`), rotated and keystoned
/// in one bilinear pass, with the fold's light on the paper.
fn photograph(page: &RgbImage, opts: &RenderOptions, g: &RenderedGeometry) -> RgbImage {
    let (w, h) = (page.width() as i64, page.height() as i64);
    let (iw, ih) = (g.image_width_px, g.image_height_px);
    let back = g.keystone_projection().map(|k| k.invert());
    let (s, c) = sin_cos_deg(g.rotation_deg);
    let (cx, cy) = g.center();
    let (half_w, half_h) = (w as f32 / 2.0, h as f32 / 2.0);
    let (curl, crease) = (g.curl_shape(), g.crease().zip(opts.fold));
    let desk = (opts.desk_margin > 0.0).then(|| Desk::new(opts.seed, g.px_per_mm));
    let fill = to_f32(opts.rotation_fill_rgb);
    let raw = page.as_raw();
    let mut out = RgbImage::new(iw, ih);
    for (yo, row) in out.chunks_exact_mut(iw as usize * 3).enumerate() {
        for (xo, pixel) in row.chunks_exact_mut(3).enumerate() {
            let mut p = (xo as f32 + 0.5, yo as f32 + 0.5);
            if let Some(back) = back {
                p = back * p;
            }
            // Inverse of `RenderedGeometry::turn`'s rotation.
            let (dx, dy) = (p.0 - cx, p.1 - cy);
            let bent = (half_w + dx * c - dy * s, half_h + dx * s + dy * c);
            let light = match &crease {
                Some((crease, fold)) => {
                    crease_light(crease.distance(bent) / g.px_per_mm, fold.shade)
                }
                None => (1.0, 0.0),
            };
            // Inverse of `RenderedGeometry::bend`.
            let folded = match &crease {
                Some((crease, _)) => crease.backward(bent),
                None => bent,
            };
            let (u, v) = match &curl {
                Some(curl) => curl.backward(folded.0, folded.1),
                None => folded,
            };
            let background = || match &desk {
                Some(desk) => desk.rgb(xo as f32 + 0.5, yo as f32 + 0.5, (u, v), (w, h)),
                None => fill,
            };
            // Shifted so that pixel centres are integers, as in `resample`.
            let (u, v) = (u - 0.5, v - 0.5);
            let (x0, y0) = (u.floor(), v.floor());
            let (fx, fy) = (u - x0, v - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let mut behind = None;
            let mut fetch = |x: i64, y: i64| -> [f32; 3] {
                if x < 0 || y < 0 || x >= w || y >= h {
                    *behind.get_or_insert_with(background)
                } else {
                    let i = (y as usize * w as usize + x as usize) * 3;
                    let (dim, glint) = light;
                    [raw[i], raw[i + 1], raw[i + 2]].map(|b| {
                        let v = f32::from(b) * dim;
                        v + (255.0 - v) * glint
                    })
                }
            };
            let top = blend(fetch(x0, y0), fetch(x0 + 1, y0), fx);
            let bottom = blend(fetch(x0, y0 + 1), fetch(x0 + 1, y0 + 1), fx);
            let value = blend(top, bottom, fy);
            for (p, v) in pixel.iter_mut().zip(value) {
                *p = to_u8(v);
            }
        }
    }
    out
}

/// Half width of the crease's bright and dark lines, in mm.
const CREASE_LINE_MM: f32 = 0.2;

/// The fold's light on paper `mm` from the crease (positive beyond it): (factor, share of the
/// way to white). The far side is `shade` darker, the change spread over a line width; the
/// crease's near flank catches the light and its far flank is in shadow.
fn crease_light(mm: f32, shade: f32) -> (f32, f32) {
    let bump = |centre: f32| {
        let z = (mm - centre) / CREASE_LINE_MM;
        libm::expf(-z * z)
    };
    let step = smoothstep(-CREASE_LINE_MM, CREASE_LINE_MM, mm);
    let dim = (1.0 - shade * step) * (1.0 - 0.4 * bump(1.5 * CREASE_LINE_MM));
    (dim, 0.6 * bump(-1.5 * CREASE_LINE_MM))
}

/// 0 below `lo`, 1 above `hi`, a cubic between.
fn smoothstep(lo: f32, hi: f32, x: f32) -> f32 {
    let t = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Stream tag mixed into the desk seed, so that the desk and pixel noise are unrelated.
const DESK_STREAM: u64 = 0x6465_736b_776f_6f64;
/// Light and dark wood, sRGB.
const WOOD_LIGHT: [f32; 3] = [172.0, 122.0, 82.0];
const WOOD_DARK: [f32; 3] = [104.0, 64.0, 38.0];

/// A seeded wooden desk top: planks of wavy grain stripes, with slow changes of tone, and the
/// page's shadow on it.
struct Desk {
    seed: u64,
    px_per_mm: f32,
    /// Unit vector along the grain.
    along: (f32, f32),
    plank_mm: f32,
    ring_mm: f32,
    /// Waves of the grain: (amplitude mm, wavenumber per mm, phase).
    waves: [(f32, f32, f32); 3],
    /// Slow tone changes: (wavenumber x, wavenumber y per mm, phase, amplitude).
    tones: [(f32, f32, f32, f32); 2],
}

impl Desk {
    fn new(seed: u64, px_per_mm: f32) -> Self {
        let mut rng = SplitMix64::new(seed ^ DESK_STREAM);
        let mut uniform = |lo: f32, hi: f32| rng.uniform(lo as f64, hi as f64) as f32;
        let tau = 2.0 * std::f32::consts::PI;
        // Planks run roughly across or down the photo.
        let turn = uniform(-0.3, 0.3)
            + if uniform(0.0, 1.0) < 0.5 {
                0.0
            } else {
                tau / 4.0
            };
        let along = (libm::cosf(turn), libm::sinf(turn));
        let plank_mm = uniform(90.0, 160.0);
        let ring_mm = uniform(3.0, 6.0);
        let mut wave = |len_lo: f32, len_hi: f32, amp: f32| {
            (
                amp * uniform(0.5, 1.0),
                tau / uniform(len_lo, len_hi),
                uniform(0.0, tau),
            )
        };
        let waves = [
            wave(150.0, 400.0, 6.0),
            wave(40.0, 120.0, 1.2),
            wave(25.0, 60.0, 0.3),
        ];
        let mut tone = || {
            (
                tau / uniform(150.0, 500.0) * if uniform(0.0, 1.0) < 0.5 { -1.0 } else { 1.0 },
                tau / uniform(150.0, 500.0),
                uniform(0.0, tau),
                uniform(0.04, 0.08),
            )
        };
        let tones = [tone(), tone()];
        Desk {
            seed: rng.next_u64(),
            px_per_mm,
            along,
            plank_mm,
            ring_mm,
            waves,
            tones,
        }
    }

    /// Hash of (`a`, `b`) into [0, 1).
    fn hash01(&self, a: i64, b: i64) -> f32 {
        let mut r = SplitMix64::new(
            self.seed ^ (a as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (b as u64).rotate_left(32),
        );
        (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Smooth value noise in [0, 1) along `t`, a separate stream per `lane`.
    fn noise(&self, lane: i64, t: f32) -> f32 {
        let i = t.floor();
        let a = self.hash01(lane, i as i64);
        let b = self.hash01(lane, i as i64 + 1);
        a + (b - a) * smoothstep(0.0, 1.0, t - i)
    }

    /// Colour of the desk at image point `(x, y)`, which shows upright page point `page` of a
    /// page of `size` pixels (outside it).
    fn rgb(&self, x: f32, y: f32, page: (f32, f32), size: (i64, i64)) -> [f32; 3] {
        let (xm, ym) = (x / self.px_per_mm, y / self.px_per_mm);
        let u = xm * self.along.0 + ym * self.along.1;
        let v = -xm * self.along.1 + ym * self.along.0;
        let plank = (v / self.plank_mm).floor();
        // Separate hash streams per plank: grain phase and tone, rings, ring depths, streaks.
        let lane = 4 * plank as i64;
        let across = v - plank * self.plank_mm;
        // Each plank has its own grain phase and tone.
        let mut warp = self.hash01(lane, 0) * 50.0;
        for &(amp, k, phase) in &self.waves {
            warp += amp * libm::sinf(k * u + phase + plank);
        }
        // Growth rings of uneven width: light early wood darkening into late wood, each ring
        // to its own depth.
        let g = across + warp;
        let ring = g / self.ring_mm + 1.5 * self.noise(lane + 1, g / 25.0);
        let index = ring.floor();
        let late =
            smoothstep(0.5, 0.97, ring - index) * (0.4 + 0.6 * self.hash01(lane + 2, index as i64));
        // Fine streaks along the grain, changing slowly along it.
        let streak = self.noise(lane + 3, across / 0.4 + u / 300.0);
        let mut tone = 1.0 + (self.hash01(lane, 1) - 0.5) * 0.16;
        for &(kx, ky, phase, amp) in &self.tones {
            tone += amp * libm::sinf(kx * xm + ky * ym + phase);
        }
        // A dark seam between planks.
        let edge = across.min(self.plank_mm - across);
        let seam = 1.0 - 0.5 * (1.0 - smoothstep(0.0, 0.5, edge));
        // The page's shadow: light from the top-left, the paper a little above the desk.
        let mm = self.px_per_mm;
        let (sx, sy) = (page.0 - 0.8 * mm, page.1 - 0.8 * mm);
        let out_x = (-sx).max(sx - size.0 as f32).max(0.0);
        let out_y = (-sy).max(sy - size.1 as f32).max(0.0);
        let gap_mm = (out_x * out_x + out_y * out_y).sqrt() / mm;
        let shadow = 1.0 - 0.35 * libm::expf(-gap_mm / 1.5);
        let k = tone * seam * shadow;
        let mix = 0.55 * late + 0.3 * streak;
        [0, 1, 2].map(|i| (WOOD_LIGHT[i] + (WOOD_DARK[i] - WOOD_LIGHT[i]) * mix) * k)
    }
}

/// Moves pixels towards white within the glare's radius, most at its centre.
fn add_glare(image: &mut RgbImage, glare: &Glare) {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let r = glare.radius * w.min(h);
    let strength = glare.strength.clamp(0.0, 1.0);
    // Also false for NaN.
    let visible = r > 0.0 && strength > 0.0;
    if !visible {
        return;
    }
    let (gx, gy) = (glare.x * w, glare.y * h);
    let xs = pixel_span(gx - r, gx + r, image.width() as usize);
    let ys = pixel_span(gy - r, gy + r, image.height() as usize);
    for y in ys {
        for x in xs.clone() {
            let (dx, dy) = ((x as f32 + 0.5 - gx) / r, (y as f32 + 0.5 - gy) / r);
            let t2 = dx * dx + dy * dy;
            if t2 < 1.0 {
                // Flat at the centre and at the rim, so the blob has no edge.
                let k = strength * (1.0 - t2) * (1.0 - t2);
                let p = image.get_pixel_mut(x as u32, y as u32);
                for c in p.0.iter_mut() {
                    let v = f32::from(*c);
                    *c = to_u8(v + (255.0 - v) * k);
                }
            }
        }
    }
}

/// Darkens the page linearly from none at the top-left corner to `amount` at the
/// bottom-right, as light falling from one side does.
fn shade(image: &mut RgbImage, amount: f32) {
    let (w, h) = (image.width() as f32, image.height() as f32);
    for (x, y, p) in image.enumerate_pixels_mut() {
        let k = 1.0 - amount * (x as f32 / w + y as f32 / h) / 2.0;
        for c in p.0.iter_mut() {
            *c = to_u8(f32::from(*c) * k);
        }
    }
}

/// Stream tag mixed into the noise seed, so that pixel noise and a signal made from the same
/// seed are unrelated.
const NOISE_STREAM: u64 = 0x6e6f_6973_6570_6978;

fn add_noise(image: &mut RgbImage, sigma: f32, seed: u64) {
    let mut rng = SplitMix64::new(seed ^ NOISE_STREAM);
    let bytes: &mut [u8] = image;
    for pair in bytes.chunks_mut(2) {
        let (g0, g1) = rng.gaussian_pair_f32();
        for (b, g) in pair.iter_mut().zip([g0, g1]) {
            *b = to_u8(f32::from(*b) + sigma * g);
        }
    }
}

/// Which page samples are visibly drawn: inside a panel, within the record, and still on the
/// image after bending, rotation and perspective.
fn truth_table(ecg: &SyntheticEcg, g: &RenderedGeometry) -> Table {
    let n = g.panels.iter().map(|p| p.samples.end).max().unwrap_or(0);
    let mut leads = vec![vec![None; n]; Lead::ALL.len()];
    for panel in &g.panels {
        let Some(signal) = ecg.leads.get(panel.lead.index()) else {
            continue;
        };
        let column = &mut leads[panel.lead.index()];
        for i in panel.samples.start..panel.samples.end.min(signal.len()) {
            let v = signal[i];
            let (x, y) = sample_point(g, ecg.fs_hz, panel, i, v);
            let (xi, yi) = g.to_image(x, y);
            if v.is_finite() && g.contains(xi, yi) {
                column[i] = Some(v as f64);
            }
        }
    }
    Table {
        leads,
        fs_hz: ecg.fs_hz as f64,
    }
}

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast and identical on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Standard normal (Box–Muller).
    fn gaussian(&mut self) -> f64 {
        // 1 − u lies in (0, 1], so the logarithm is finite.
        let r = libm::sqrt(-2.0 * libm::log(1.0 - self.next_f64()));
        r * libm::cos(2.0 * PI * self.next_f64())
    }

    /// Two independent standard normals (Marsaglia's polar method: no sine or cosine), in
    /// single precision for speed.
    fn gaussian_pair_f32(&mut self) -> (f32, f32) {
        const UNIT: f32 = 1.0 / (1u32 << 23) as f32;
        loop {
            // Two 24-bit uniforms in [-1, 1) from one draw.
            let bits = self.next_u64();
            let a = (bits >> 40) as f32 * UNIT - 1.0;
            let b = ((bits >> 16) & 0xff_ffff) as f32 * UNIT - 1.0;
            let r2 = a * a + b * b;
            if r2 > 0.0 && r2 < 1.0 {
                let f = (-2.0 * libm::logf(r2) / r2).sqrt();
                return (a * f, b * f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_page(seed: u64) -> (SyntheticEcg, Rendered) {
        let ecg = synthetic_ecg(seed, 72.0, 10.0, 500.0);
        let r = render(&ecg, &RenderOptions::default());
        (ecg, r)
    }

    fn flat_ecg(n: usize) -> SyntheticEcg {
        SyntheticEcg {
            fs_hz: 500.0,
            leads: vec![vec![0.0; n]; 12],
        }
    }

    /// 0 for paper or grid, near 1 for ink: the brightest channel, so red lines do not count.
    fn darkness(image: &RgbImage, x: f32, y: f32) -> f32 {
        let p = image.get_pixel(x.floor() as u32, y.floor() as u32);
        1.0 - f32::from(p[0].max(p[1]).max(p[2])) / 255.0
    }

    /// Darkness-weighted mean y of column `x` over rows `ys`.
    fn dark_centroid_y(image: &RgbImage, x: f32, ys: Range<u32>) -> f32 {
        let (mut sum, mut weight) = (0.0, 0.0);
        for y in ys {
            let d = darkness(image, x, y as f32);
            sum += d * (y as f32 + 0.5);
            weight += d;
        }
        assert!(weight > 0.0, "no ink in column {x}");
        sum / weight
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_another_seed_differs() {
        let opts = RenderOptions {
            dpi: 100.0,
            rotation_deg: 2.0,
            noise_sigma: 6.0,
            seed: 7,
            ..RenderOptions::default()
        };
        let ecg = synthetic_ecg(3, 70.0, 10.0, 500.0);
        let a = render(&ecg, &opts);
        let b = render(&synthetic_ecg(3, 70.0, 10.0, 500.0), &opts);
        assert_eq!(a.image.as_raw(), b.image.as_raw());
        assert_eq!(a.truth, b.truth);
        let c = render(&ecg, &RenderOptions { seed: 8, ..opts });
        assert_ne!(a.image.as_raw(), c.image.as_raw());
        assert_ne!(ecg, synthetic_ecg(4, 70.0, 10.0, 500.0));
    }

    #[test]
    fn default_page_is_letter_at_200_dpi() {
        let (_, r) = default_page(1);
        assert_eq!(r.image.dimensions(), (2200, 1700));
        assert!((r.geometry.px_per_mm - 200.0 / 25.4).abs() < 1e-4);
        // Pulse of 0.2 s at 25 mm/s after a 10 mm margin.
        assert!((r.geometry.x0_px - 15.0 * r.geometry.px_per_mm).abs() < 1e-3);
        assert_eq!(r.geometry.baseline_y_px.len(), 4);
    }

    #[test]
    fn short_panels_are_visible_for_a_quarter_and_the_rhythm_strip_throughout() {
        let (_, r) = default_page(2);
        let visible = |lead: Lead| -> Vec<usize> {
            r.truth.leads[lead.index()]
                .iter()
                .enumerate()
                .filter_map(|(n, v)| v.map(|_| n))
                .collect()
        };
        assert_eq!(r.truth.fs_hz, 500.0);
        assert_eq!(r.truth.leads[0].len(), 5000);
        let i = visible(Lead::I);
        assert_eq!(i.len(), 1250);
        assert_eq!((i[0], i[1249]), (0, 1249));
        let avr = visible(Lead::AVR);
        assert_eq!((avr.len(), avr[0], avr[1249]), (1250, 1250, 2499));
        let v6 = visible(Lead::V6);
        assert_eq!((v6.len(), v6[0], v6[1249]), (1250, 3750, 4999));
        assert_eq!(visible(Lead::II).len(), 5000);
    }

    #[test]
    fn truth_holds_the_drawn_signal_values() {
        let (ecg, r) = default_page(5);
        for n in [100, 1800, 3000, 4900] {
            assert_eq!(
                r.truth.leads[Lead::II.index()][n],
                Some(ecg.lead(Lead::II)[n] as f64)
            );
        }
    }

    #[test]
    fn drawn_samples_are_dark_where_the_geometry_says() {
        let (ecg, r) = default_page(4);
        let g = &r.geometry;
        // V1 sits in row 0, column 2; V5 in row 1, column 3.
        for (lead, row) in [(Lead::V1, 0), (Lead::V5, 1), (Lead::II, 3)] {
            let panel = g
                .panels
                .iter()
                .find(|p| p.lead == lead && p.row == row)
                .unwrap();
            for k in 1..8 {
                let n = panel.samples.start + k * panel.samples.len() / 8;
                let v = ecg.lead(lead)[n];
                let x = g.x_of(n as f32 / 500.0);
                let y = g.baseline_y_px[row] - v * 10.0 * g.px_per_mm;
                assert!(
                    darkness(&r.image, x, y) > 0.6,
                    "{lead} sample {n} ({v} mV) not dark at ({x}, {y})"
                );
                // 3 mm above or below, whichever is farther from the trace's extremes, is not ink.
                let away = if v > 0.0 {
                    y + 3.0 * g.px_per_mm
                } else {
                    y - 3.0 * g.px_per_mm
                };
                let clear = (n.saturating_sub(40)..n + 40)
                    .all(|m| (g.y_of(row, ecg.lead(lead)[m]) - away).abs() > 3.0);
                if clear {
                    assert!(
                        darkness(&r.image, x, away) < 0.3,
                        "{lead} ink at {x}, {away}"
                    );
                }
            }
        }
    }

    #[test]
    fn pulse_top_is_one_gain_above_the_baseline() {
        for gain in [10.0, 20.0] {
            let opts = RenderOptions {
                gain_mm_per_mv: gain,
                grid: false,
                ..RenderOptions::default()
            };
            let r = render(&flat_ecg(5000), &opts);
            let g = &r.geometry;
            let (left, right) = g.pulse_x_px.unwrap();
            assert!((right - left - 5.0 * g.px_per_mm).abs() < 1e-3);
            let x = (left + right) / 2.0;
            for &base in &g.baseline_y_px {
                let top = base - gain * g.px_per_mm;
                let band = (top - 3.0 * g.px_per_mm) as u32..(base - 3.0) as u32;
                let y = dark_centroid_y(&r.image, x, band);
                assert!(
                    (y - top).abs() < 0.1,
                    "gain {gain}: top at {y}, expected {top}"
                );
            }
        }
    }

    #[test]
    fn separators_span_plus_minus_0_35_mv_at_column_boundaries() {
        let opts = RenderOptions {
            grid: false,
            ..RenderOptions::default()
        };
        let r = render(&flat_ecg(5000), &opts);
        let g = &r.geometry;
        assert_eq!(g.separator_x_px[0].len(), 3);
        assert!(g.separator_x_px[3].is_empty());
        // With pulses, one sample before the boundary (ECG-Image-Kit's padding).
        let x = g.separator_x_px[1][0];
        assert!((x - g.x_of(2.5 - 0.002)).abs() < 1e-3);
        let mm = g.px_per_mm;
        let base = g.baseline_y_px[1];
        for dy_mm in [-3.0, 3.0] {
            assert!(darkness(&r.image, x, base + dy_mm * mm) > 0.9);
            assert!(darkness(&r.image, x, base + dy_mm * 1.5 * mm) < 0.05);
        }
        // About 0.75 mm wide: ink 0.3 mm off centre, paper 0.6 mm off.
        assert!(darkness(&r.image, x + 0.3 * mm, base - 2.0 * mm) > 0.5);
        assert!(darkness(&r.image, x + 0.6 * mm, base - 2.0 * mm) < 0.05);
    }

    #[test]
    fn major_grid_lines_fall_every_5_mm_from_the_top_left() {
        let (_, r) = default_page(6);
        let mm = r.geometry.px_per_mm;
        // Above the first row, between horizontal lines: only vertical lines cross here.
        let y = 12.5 * mm;
        // Red over white leaves green at 255·(1 − coverage): summed across a line, the
        // coverage is the line width (half of it on the page edge).
        let line_px = 0.5 / 72.0 * 200.0;
        for (k, expected) in [(0.0, line_px / 2.0), (10.0, line_px), (55.0, line_px)] {
            let centre = (k * mm) as i64;
            let covered: f32 = (centre - 2..=centre + 2)
                .filter(|&x| x >= 0)
                .map(|x| {
                    let p = r.image.get_pixel(x as u32, y as u32);
                    assert!(p[0] == 255 && p[1] == p[2], "{k} mm: {p:?}");
                    1.0 - f32::from(p[1]) / 255.0
                })
                .sum();
            assert!((covered - expected).abs() < 0.02, "{k} mm: {covered} px");
        }
        let minor = r.image.get_pixel((51.0 * mm) as u32, y as u32);
        assert!(
            minor[0] > 240 && minor[1] > 180 && minor[1] < 240,
            "{minor:?}"
        );
        let paper = r.image.get_pixel((50.5 * mm) as u32, y as u32);
        assert_eq!(paper.0, [255, 255, 255]);

        let blank = render(
            &flat_ecg(5000),
            &RenderOptions {
                grid: false,
                ..RenderOptions::default()
            },
        );
        let p = blank.image.get_pixel((50.0 * mm) as u32, y as u32);
        assert_eq!(p.0, [255, 255, 255]);
    }

    #[test]
    fn rotation_by_5_degrees_moves_a_known_point_where_expected() {
        let opts = RenderOptions {
            grid: false,
            rotation_deg: 5.0,
            ..RenderOptions::default()
        };
        let r = render(&flat_ecg(5000), &opts);
        let g = &r.geometry;
        // Middle of row 0's pulse top, upright.
        let (left, right) = g.pulse_x_px.unwrap();
        let (px, py) = ((left + right) / 2.0, g.y_of(0, 1.0));
        let (cx, cy) = (1100.0, 850.0);
        let (s, c) = (5.0f32.to_radians().sin(), 5.0f32.to_radians().cos());
        let (qx, qy) = (
            cx + (px - cx) * c + (py - cy) * s,
            cy - (px - cx) * s + (py - cy) * c,
        );
        let (gx, gy) = g.to_image(px, py);
        assert!((gx - qx).abs() < 1e-2 && (gy - qy).abs() < 1e-2);
        // Left of the centre, the page goes down when it turns counter-clockwise.
        assert!(qy > py + 10.0 * g.px_per_mm);
        let band = (qy - 3.0 * g.px_per_mm) as u32..(qy + 3.0 * g.px_per_mm) as u32;
        let y = dark_centroid_y(&r.image, qx, band);
        assert!((y - qy).abs() < 0.5, "stroke at {y}, expected {qy}");
        assert!(darkness(&r.image, px, py) < 0.05);
        // A point right of the centre goes up.
        assert!(g.to_image(cx + 100.0, cy).1 < cy - 8.0);
    }

    #[test]
    fn keystone_shortens_the_top_edge_and_moves_ink_with_the_geometry() {
        let opts = RenderOptions {
            grid: false,
            keystone: (0.1, 0.0),
            ..RenderOptions::default()
        };
        let r = render(&flat_ecg(5000), &opts);
        let g = &r.geometry;
        // The top corners move in by 5 % of the width each; the bottom ones stay.
        let (x0, y0) = g.to_image(0.0, 0.0);
        assert!((x0 - 110.0).abs() < 0.5 && y0.abs() < 0.5, "({x0}, {y0})");
        let (x1, y1) = g.to_image(2200.0, 1700.0);
        assert!((x1 - 2200.0).abs() < 0.5 && (y1 - 1700.0).abs() < 0.5);
        // A baseline's ink stands where the geometry says, and a second of it is shorter on
        // the top row than on the bottom row.
        let span = |row: usize| {
            let y = g.y_of(row, 0.0);
            g.to_image(g.x_of(1.0), y).0 - g.to_image(g.x_of(0.0), y).0
        };
        assert!(span(0) < 0.95 * span(3), "{} vs {}", span(0), span(3));
        let (qx, qy) = g.to_image(g.x_of(0.5), g.y_of(0, 0.0));
        let band = (qy - 3.0 * g.px_per_mm) as u32..(qy + 3.0 * g.px_per_mm) as u32;
        let y = dark_centroid_y(&r.image, qx, band);
        assert!((y - qy).abs() < 0.7, "baseline at {y}, expected {qy}");
    }

    #[test]
    fn shading_darkens_towards_the_bottom_right_and_blur_spreads_ink() {
        let plain = RenderOptions {
            grid: false,
            ..RenderOptions::default()
        };
        let ecg = flat_ecg(5000);
        let shaded = render(
            &ecg,
            &RenderOptions {
                shading: 0.4,
                ..plain.clone()
            },
        )
        .image;
        assert_eq!(shaded.get_pixel(0, 0).0, [255, 255, 255]);
        let corner = shaded.get_pixel(2199, 1699).0[0];
        assert!((150..=156).contains(&corner), "corner {corner}");
        let middle = shaded.get_pixel(1100, 10).0[0];
        assert!(middle > corner && middle < 255, "middle {middle}");
        // Paper a few pixels off a sharp baseline is white; blurred, it is grey.
        let sharp = render(&ecg, &plain);
        let blurred = render(
            &ecg,
            &RenderOptions {
                blur_px: 2.0,
                ..plain.clone()
            },
        )
        .image;
        let g = &sharp.geometry;
        let (x, y) = (g.x_of(1.0), g.y_of(1, 0.0) + 4.0);
        assert!(darkness(&sharp.image, x, y) < 0.01);
        assert!(darkness(&blurred, x, y) > 0.05);
        assert!(darkness(&blurred, x, y - 4.0) < darkness(&sharp.image, x, y - 4.0));
    }

    #[test]
    fn samples_rotated_off_the_page_are_missing_from_truth() {
        let ecg = synthetic_ecg(9, 60.0, 10.0, 500.0);
        let r = render(
            &ecg,
            &RenderOptions {
                rotation_deg: 20.0,
                ..RenderOptions::default()
            },
        );
        assert_rhythm_truth_where_it_shows(&r, &ecg);
    }

    /// Some of the rhythm strip's lead II is off the 2200 x 1700 image, and past the first
    /// column (where only the strip shows lead II) truth has exactly the samples on it.
    fn assert_rhythm_truth_where_it_shows(r: &Rendered, ecg: &SyntheticEcg) {
        assert_eq!(r.image.dimensions(), (2200, 1700));
        let g = &r.geometry;
        let rhythm = &r.truth.leads[Lead::II.index()];
        let shown = rhythm.iter().filter(|v| v.is_some()).count();
        assert!(shown > 0 && shown < rhythm.len(), "{shown} shown");
        for (n, v) in rhythm.iter().enumerate().skip(1250) {
            let (x, y) = g.to_image(g.x_of(n as f32 / 500.0), g.y_of(3, ecg.lead(Lead::II)[n]));
            let inside = x >= 0.0 && y >= 0.0 && x < 2200.0 && y < 1700.0;
            assert_eq!(v.is_some(), inside, "sample {n} at ({x}, {y})");
        }
    }

    #[test]
    fn einthoven_and_goldberger_relations_hold() {
        let e = synthetic_ecg(11, 80.0, 10.0, 500.0);
        assert_eq!(e.leads.len(), 12);
        assert!(e.leads.iter().all(|l| l.len() == 5000));
        let l = |lead: Lead| e.lead(lead);
        for n in 0..5000 {
            let (i, ii) = (l(Lead::I)[n], l(Lead::II)[n]);
            assert!((l(Lead::III)[n] - (ii - i)).abs() < 1e-5);
            assert!((l(Lead::AVR)[n] + (i + ii) / 2.0).abs() < 1e-5);
            assert!((l(Lead::AVL)[n] - (i - ii / 2.0)).abs() < 1e-5);
            assert!((l(Lead::AVF)[n] - (ii - i / 2.0)).abs() < 1e-5);
        }
    }

    #[test]
    fn heart_rate_shows_as_r_peak_spacing() {
        for (seed, bpm) in [(1, 60.0), (2, 75.0), (3, 110.0)] {
            let e = synthetic_ecg(seed, bpm, 10.0, 500.0);
            let ii = e.lead(Lead::II);
            let max = ii.iter().cloned().fold(f32::MIN, f32::max);
            let peaks: Vec<usize> = (1..ii.len() - 1)
                .filter(|&n| ii[n] > 0.5 * max && ii[n] >= ii[n - 1] && ii[n] > ii[n + 1])
                .collect();
            let spacing_s =
                (peaks[peaks.len() - 1] - peaks[0]) as f32 / (peaks.len() - 1) as f32 / 500.0;
            let expected = 60.0 / bpm;
            assert!(
                (spacing_s - expected).abs() < 0.03 * expected,
                "{bpm} bpm: R-R {spacing_s} s"
            );
        }
    }

    #[test]
    fn precordial_leads_go_from_mostly_negative_in_v1_to_mostly_positive_in_v6() {
        let e = synthetic_ecg(12, 70.0, 10.0, 500.0);
        let extremes = |lead| {
            let s = e.lead(lead);
            let max = s.iter().cloned().fold(f32::MIN, f32::max);
            let min = s.iter().cloned().fold(f32::MAX, f32::min);
            (max, min)
        };
        let (v1_max, v1_min) = extremes(Lead::V1);
        let (v6_max, v6_min) = extremes(Lead::V6);
        assert!(-v1_min > 1.5 * v1_max, "V1 {v1_min}..{v1_max}");
        assert!(v6_max > 3.0 * -v6_min, "V6 {v6_min}..{v6_max}");
        let (avr_max, avr_min) = extremes(Lead::AVR);
        assert!(-avr_min > avr_max, "aVR {avr_min}..{avr_max}");
    }

    #[test]
    fn noise_option_adds_noise_to_the_signal() {
        let base = SyntheticOptions::default();
        let clean = synthetic_ecg_with(5, &base);
        let noisy = synthetic_ecg_with(
            5,
            &SyntheticOptions {
                noise_mv: 0.02,
                ..base
            },
        );
        let d: Vec<f32> = clean.leads[0]
            .iter()
            .zip(&noisy.leads[0])
            .map(|(a, b)| b - a)
            .collect();
        let rms = (d.iter().map(|v| v * v).sum::<f32>() / d.len() as f32).sqrt();
        assert!((rms - 0.02).abs() < 0.003, "rms {rms}");
    }

    /// Darkness-weighted mean y of column `x` within `half` pixels of `y`, over the band's
    /// lightest pixel: ink on shaded paper.
    fn ink_y(image: &RgbImage, x: f32, y: f32, half: f32) -> f32 {
        let ys = (y - half).max(0.0) as u32..(y + half) as u32;
        let floor = ys
            .clone()
            .map(|v| darkness(image, x, v as f32))
            .fold(f32::INFINITY, f32::min);
        let (mut sum, mut weight) = (0.0, 0.0);
        for v in ys {
            let d = darkness(image, x, v as f32) - floor;
            sum += d * (v as f32 + 0.5);
            weight += d;
        }
        assert!(weight > 0.0, "no ink in column {x} near {y}");
        sum / weight
    }

    /// Checks that the flat trace of `row` at upright `x` shows where `to_image` puts it.
    fn assert_ink_at(r: &Rendered, row: usize, x: f32, tolerance: f32) -> (f32, f32) {
        let g = &r.geometry;
        let (qx, qy) = g.to_image(x, g.y_of(row, 0.0));
        let y = ink_y(&r.image, qx, qy, 2.0 * g.px_per_mm);
        assert!(
            (y - qy).abs() < tolerance,
            "row {row} at upright x {x}: ink at y {y}, to_image says {qy}"
        );
        (qx, y)
    }

    #[test]
    fn curl_bows_rows_at_the_page_centre() {
        let opts = RenderOptions {
            grid: false,
            curl: 0.02,
            rotation_fill_rgb: [0, 0, 255],
            ..RenderOptions::default()
        };
        let r = render(&flat_ecg(5000), &opts);
        let g = &r.geometry;
        assert_eq!(r.image.dimensions(), (2200, 1700));
        // Rows sag by 2 % of the page height (34 px) at the middle, less towards the edges.
        let sag = 0.02 * 1700.0;
        let (x_left, x_middle) = (g.x_of(0.1), g.x_of(5.2));
        let a = |x: f32| (x - 1100.0) / 1100.0;
        for row in 0..4 {
            let (_, edge) = assert_ink_at(&r, row, x_left, 0.5);
            let (_, middle) = assert_ink_at(&r, row, x_middle, 0.5);
            let expected = sag * (a(x_left).powi(2) - a(x_middle).powi(2));
            assert!(
                (middle - edge - expected).abs() < 1.0,
                "row {row}: sags {} px, expected {expected}",
                middle - edge
            );
        }
        // A second of record is shorter near the edges, where the paper slopes away.
        let span = |t: f32| g.to_image(g.x_of(t + 1.0), 0.0).0 - g.to_image(g.x_of(t), 0.0).0;
        assert!(
            span(0.0) < 0.97 * span(4.5),
            "{} vs {}",
            span(0.0),
            span(4.5)
        );
        // So the page narrows, and the fill shows past its right edge.
        let right = g.to_image(2200.0, 850.0).0;
        assert!(right < 2180.0, "right edge at {right}");
        assert_eq!(r.image.get_pixel(2195, 850).0, [0, 0, 255]);
        assert_eq!(r.image.get_pixel(1100, 850).0, [255, 255, 255]);
    }

    #[test]
    fn page_on_a_desk_shows_texture_around_it() {
        let ecg = flat_ecg(5000);
        let opts = RenderOptions {
            dpi: 100.0,
            desk_margin: 0.15,
            rotation_deg: 20.0,
            rotation_fill_rgb: [0, 255, 0],
            seed: 5,
            ..RenderOptions::default()
        };
        let r = render(&ecg, &opts);
        let g = &r.geometry;
        let (w, h) = r.image.dimensions();
        assert_eq!((g.image_width_px, g.image_height_px), (w, h));
        assert_eq!((g.width_px, g.height_px), (1100, 850));
        // The page's centre is the image's, and the page is whole.
        assert_eq!(g.center(), (w as f32 / 2.0, h as f32 / 2.0));
        assert_eq!(r.truth, render(&ecg, &RenderOptions::default()).truth);
        // Wood in the corners: brown, textured, and no fill colour anywhere.
        let patch: Vec<[u8; 3]> = (0..40)
            .flat_map(|y| (0..40).map(move |x| (x, y)))
            .map(|(x, y)| r.image.get_pixel(x, y).0)
            .collect();
        for p in &patch {
            assert!(
                p[0] > p[1] && p[1] > p[2] && p[0] > 60 && p[0] < 230,
                "{p:?}"
            );
        }
        let mean = patch.iter().map(|p| f32::from(p[0])).sum::<f32>() / patch.len() as f32;
        let var = patch
            .iter()
            .map(|p| (f32::from(p[0]) - mean).powi(2))
            .sum::<f32>()
            / patch.len() as f32;
        assert!(var.sqrt() > 3.0, "flat desk: sd {}", var.sqrt());
        assert!(r.image.pixels().all(|p| p.0 != [0, 255, 0]));
        assert_eq!(r.image.get_pixel(w / 2, h / 2).0[0], 255);
        // Ink where the geometry says.
        for row in 0..4 {
            for x in [200.0, 700.0, 1000.0] {
                assert_ink_at(&r, row, x, 0.5);
            }
        }
        // The same seed gives the same desk, another a different one.
        assert_eq!(render(&ecg, &opts).image, r.image);
        let other = render(
            &ecg,
            &RenderOptions {
                seed: 6,
                ..opts.clone()
            },
        );
        assert_ne!(other.image.get_pixel(5, 5), r.image.get_pixel(5, 5));
        // Up to ±30° (and bent), the whole page lies on the desk, at least the margin in.
        for deg in [-30.0, -12.0, 0.0, 17.0, 30.0] {
            let o = RenderOptions {
                rotation_deg: deg,
                curl: 0.03,
                fold: Some(Fold {
                    position: 0.7,
                    angle_deg: 10.0,
                    shade: 0.1,
                    kink_deg: 3.0,
                }),
                ..opts.clone()
            };
            let g = page_geometry(&ecg, &o);
            let (mx, my) = (0.15 * 1100.0 - 1.0, 0.15 * 850.0 - 1.0);
            for i in 0..=20 {
                let f = i as f32 / 20.0;
                for (x, y) in [(f * 1100.0, 0.0), (f * 1100.0, 850.0), (0.0, f * 850.0)] {
                    let (qx, qy) = g.to_image(x, y);
                    let (iw, ih) = (g.image_width_px as f32, g.image_height_px as f32);
                    assert!(
                        qx >= mx && qy >= my && qx <= iw - mx && qy <= ih - my,
                        "{deg}°: ({x}, {y}) at ({qx}, {qy}) on {iw} × {ih}"
                    );
                }
            }
        }
    }

    #[test]
    fn major_only_grid_stays_major_only_when_bent_and_on_a_desk() {
        let base = RenderOptions {
            curl: 0.02,
            desk_margin: 0.1,
            rotation_deg: 7.0,
            fold: Some(Fold {
                position: 0.3,
                angle_deg: 0.0,
                shade: 0.0,
                kink_deg: 1.0,
            }),
            ..RenderOptions::default()
        };
        let ecg = flat_ecg(5000);
        let major_only = render(
            &ecg,
            &RenderOptions {
                grid_minor_rgb: None,
                ..base.clone()
            },
        );
        let both = render(&ecg, &base);
        let g = &major_only.geometry;
        let mm = g.px_per_mm;
        let pixel = |r: &Rendered, x_mm: f32, y_mm: f32| {
            let (x, y) = g.to_image(x_mm * mm, y_mm * mm);
            r.image.get_pixel(x as u32, y as u32).0
        };
        // On minor lines, away from the majors and the traces; on both sides of the fold.
        for (x, y) in [(51.0, 12.5), (182.0, 22.5), (233.0, 12.5), (112.5, 201.0)] {
            assert!(
                pixel(&major_only, x, y).iter().all(|&c| c > 245),
                "{x}, {y}"
            );
            assert!(pixel(&both, x, y)[1] < 245, "{x}, {y}: no minor line");
        }
        for (x, y) in [(50.0, 12.5), (180.0, 22.5), (235.0, 12.5), (112.5, 200.0)] {
            let p = pixel(&major_only, x, y);
            assert!(p[0] > 200 && p[1] < 190, "{x}, {y}: {p:?}");
        }
    }

    #[test]
    fn glare_washes_out_the_grid_inside_its_radius() {
        let ecg = flat_ecg(5000);
        let plain = render(&ecg, &RenderOptions::default());
        let g = &plain.geometry;
        let mm = g.px_per_mm;
        // Centred on row 0's trace, on a major line (150 mm, clear of the separator bars);
        // radius 20 % of 1700 px.
        let (cx, cy) = (150.0 * mm, g.y_of(0, 0.0));
        let glare = Glare {
            x: cx / 2200.0,
            y: cy / 1700.0,
            radius: 0.2,
            strength: 0.8,
        };
        let glared = render(
            &ecg,
            &RenderOptions {
                glare: Some(glare),
                ..RenderOptions::default()
            },
        );
        let at = |r: &Rendered, x: f32, y: f32| r.image.get_pixel(x as u32, y as u32).0;
        // The major line 2.5 mm above the trace: its contrast with the paper beside it and its
        // colour (red minus green) fall to a fifth or so.
        let (line, paper) = ((cx, cy - 2.5 * mm), (cx + 2.5 * mm, cy - 2.5 * mm));
        let contrast =
            |r: &Rendered| at(r, paper.0, paper.1)[1] as f32 - at(r, line.0, line.1)[1] as f32;
        let colour =
            |r: &Rendered| at(r, line.0, line.1)[0] as f32 - at(r, line.0, line.1)[1] as f32;
        assert!(contrast(&plain) > 150.0);
        assert!(
            contrast(&glared) < 0.25 * contrast(&plain),
            "{}",
            contrast(&glared)
        );
        assert!(
            colour(&glared) < 0.25 * colour(&plain),
            "{}",
            colour(&glared)
        );
        // The trace fades too, and everything is brighter.
        let trace = |r: &Rendered| darkness(&r.image, cx + 1.0 * mm, cy);
        assert!(trace(&plain) > 0.5);
        assert!(trace(&glared) < 0.25 * trace(&plain), "{}", trace(&glared));
        for (a, b) in plain.image.pixels().zip(glared.image.pixels()) {
            assert!((0..3).all(|i| b[i] >= a[i]));
        }
        // Outside its radius, nothing changes.
        let r = 0.2 * 1700.0 + 1.0;
        for (dx, dy) in [(r, 0.0), (-r, 0.0), (0.0, r), (0.7 * r, 0.72 * r)] {
            let (x, y) = (cx + dx, cy + dy);
            assert_eq!(at(&glared, x, y), at(&plain, x, y), "({x}, {y})");
        }
    }

    #[test]
    fn fold_darkens_one_side_and_kinks_the_lines() {
        let opts = RenderOptions {
            grid: false,
            paper_rgb: [200, 200, 200],
            fold: Some(Fold {
                position: 0.5,
                angle_deg: 0.0,
                shade: 0.3,
                kink_deg: 2.0,
            }),
            ..RenderOptions::default()
        };
        let r = render(&flat_ecg(5000), &opts);
        let g = &r.geometry;
        let mm = g.px_per_mm;
        let grey = |x: f32, y: f32| r.image.get_pixel(x as u32, y as u32).0[1];
        // A vertical crease at x = 1100: the right side 30 % darker.
        assert_eq!(grey(1100.0 - 5.0 * mm, 100.0), 200);
        assert_eq!(grey(1100.0 + 5.0 * mm, 100.0), 140);
        // A bright line just before the crease and a dark one just after.
        let across: Vec<u8> = (1090..1110).map(|x| grey(x as f32, 100.0)).collect();
        assert!(across[..10].iter().any(|&v| v > 220), "{across:?}");
        assert!(across[10..].iter().any(|&v| v < 110), "{across:?}");
        // Rows carry straight on to the crease and turn 2° counter-clockwise beyond it.
        let tan = 2.0f32.to_radians().tan();
        for row in 0..4 {
            let y = g.y_of(row, 0.0);
            let (_, left) = assert_ink_at(&r, row, 700.0, 0.5);
            assert!((left - y).abs() < 0.5);
            let (_, right) = assert_ink_at(&r, row, 1500.0, 0.7);
            let expected = y - tan * 400.0;
            assert!(
                (right - expected).abs() < 0.7,
                "row {row}: {right} vs {expected}"
            );
        }
    }

    #[test]
    fn bent_and_turned_pages_keep_truth_and_ink_where_to_image_says() {
        let ecg = synthetic_ecg(9, 60.0, 10.0, 500.0);
        let opts = RenderOptions {
            rotation_deg: 20.0,
            curl: -0.03,
            fold: Some(Fold {
                position: 0.6,
                angle_deg: -15.0,
                shade: 0.1,
                kink_deg: -3.0,
            }),
            keystone: (0.05, 0.0),
            ..RenderOptions::default()
        };
        let r = render(&ecg, &opts);
        assert_rhythm_truth_where_it_shows(&r, &ecg);
        let flat = render(
            &flat_ecg(5000),
            &RenderOptions {
                grid: false,
                ..opts
            },
        );
        for x in [300.0, 900.0, 1400.0, 1900.0] {
            assert_ink_at(&flat, 1, x, 0.7);
        }
    }

    /// FNV-1a over bytes.
    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn existing_conditions_render_the_same_bytes_as_before_the_photo_conditions() {
        // Hashes of image and truth taken before curl, desk, glare and fold existed: with those
        // off, pages (and so the synth recipes) must not change.
        let cases = [
            RenderOptions::default(),
            RenderOptions {
                keystone: (0.06, -0.03),
                rotation_deg: -3.0,
                shading: 0.4,
                blur_px: 1.0,
                noise_sigma: 6.0,
                seed: 3,
                ..RenderOptions::default()
            },
            RenderOptions {
                dpi: 100.0,
                grid_minor_rgb: None,
                rotation_deg: 20.0,
                ..RenderOptions::default()
            },
        ];
        let hashes: Vec<(u64, u64)> = cases
            .iter()
            .map(|o| {
                let r = render(&synthetic_ecg(21, 66.0, 10.0, 500.0), o);
                (fnv1a(r.image.as_raw()), fnv1a(r.truth.to_csv().as_bytes()))
            })
            .collect();
        let before = [
            (0xc46d_1581_f986_0c9c, 0xce59_c222_3c13_f8d8),
            (0xb196_a435_3368_a49b, 0xce59_c222_3c13_f8d8),
            (0x1833_59b6_81e6_8082, 0xc2dc_5a80_cc6c_1bd8),
        ];
        assert_eq!(hashes, before);
    }

    #[test]
    fn png_decodes_back_to_the_same_pixels() {
        let r = render(
            &flat_ecg(1000),
            &RenderOptions {
                dpi: 100.0,
                ..RenderOptions::default()
            },
        );
        let png = to_png(&r.image);
        assert_eq!(&png[1..4], b"PNG");
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(back, r.image);
    }
}
