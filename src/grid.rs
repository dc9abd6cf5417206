//! Stage 3b, grid: measure the ECG paper's scale in pixels per millimetre on both axes,
//! and the ink levels that separate trace from grid.
//!
//! The column and row sums of the mark plane are periodic with the grid. Their
//! autocorrelation (by FFT, rustfft) finds the finest line period; five-fold structure
//! tells the 1 mm minor lines from the 5 mm major ones; a harmonic comb evaluated directly
//! on the profile (a DTFT at arbitrary frequencies) refines the major period to a small
//! fraction of a pixel.

use crate::ink::InkPlanes;
use crate::raster::{histogram_median, level_bin};
use rustfft::{num_complex::Complex, FftPlanner};

/// Tuning knobs of the period search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridOptions {
    /// Shortest grid period considered, in pixels (1 mm at about 64 DPI).
    pub min_period_px: f32,
    /// Longest major (5 mm) period considered, in pixels (about 760 DPI).
    pub max_major_px: f32,
    /// The autocorrelation peak must reach this share of the zero-lag value to count as a grid.
    pub min_correlation: f32,
    /// Plausible page width when deciding whether a lone line family is 1 mm or 5 mm, in mm.
    pub typical_page_mm: f32,
    /// Horizontal and vertical scales further apart than this factor cannot both be right.
    pub max_axis_ratio: f32,
    /// Largest page side, in mm, a printout can have (A3 is 420 mm).
    pub max_page_mm: f32,
    /// Smallest long side, in mm, of a printout (A6 is 148 mm): a resolution a file states,
    /// or periodic lines, that make the page smaller are no measurement of its scale.
    pub min_page_mm: f32,
    /// Long sides of the paper sizes ECGs are printed on, in mm (A5, letter, A4, legal, A3):
    /// on a page without a grid, the one the calibration pulses agree with gives the scale.
    pub paper_long_sides_mm: [f32; 5],
    /// How far (relative) the pulses' scale may differ from a paper size's, or from a
    /// resolution the file states, and still take it.
    pub paper_fit_tolerance: f32,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            min_period_px: 2.5,
            max_major_px: 150.0,
            min_correlation: 0.15,
            typical_page_mm: 280.0,
            max_axis_ratio: 1.5,
            max_page_mm: 500.0,
            min_page_mm: 140.0,
            paper_long_sides_mm: [210.0, 279.4, 297.0, 355.6, 420.0],
            paper_fit_tolerance: 0.03,
        }
    }
}

/// Ink darkness levels that split trace from grid on this page.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InkLevels {
    /// Typical ink score of grid lines (near 0 for coloured grids).
    pub grid: f32,
    /// Typical ink score of the trace's core.
    pub trace: f32,
    /// Pixels above this are trace (or text) ink.
    pub threshold: f32,
    /// Pixels above this are trace ink too where they join pixels above `threshold`: faint
    /// thin strokes of the same trace.
    pub extend: f32,
}

impl InkLevels {
    /// Soft membership of an ink score in the trace, 0 to 1.
    #[inline]
    pub fn weight(&self, ink: f32) -> f32 {
        ((ink - self.grid) / (self.trace - self.grid).max(1e-3)).clamp(0.0, 1.0)
    }
}

/// The measured grid.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Grid {
    /// Horizontal scale, pixels per millimetre.
    pub px_per_mm_x: f32,
    /// Vertical scale, pixels per millimetre.
    pub px_per_mm_y: f32,
    /// Whether a periodic grid was actually seen (else the scale is a page-size guess).
    pub found: bool,
    /// Ink levels for trace extraction.
    pub levels: InkLevels,
}

/// Scale of a page without a grid (pixels per mm), from the calibration pulses: a pulse of
/// `pulse_s` seconds is `width_px` wide at `speed_mm_per_s`. The pulse's two edges are a
/// coarse ruler (half a pixel in 40 is 1%), so when the page's long side (`long_px`) then
/// measures a standard paper size within the tolerance, that size gives the scale; a cropped
/// page keeps the pulses' own. Returns the scale and the paper's long side, if one fitted.
pub fn scale_from_pulses(
    width_px: f32,
    pulse_s: f32,
    speed_mm_per_s: f32,
    long_px: f32,
    opts: &GridOptions,
) -> (f32, Option<f32>) {
    let pulse = width_px / (pulse_s * speed_mm_per_s);
    let fit = |mm: f32| (long_px / mm / pulse - 1.0).abs();
    let paper = opts
        .paper_long_sides_mm
        .iter()
        .copied()
        .min_by(|a, b| fit(*a).total_cmp(&fit(*b)))
        .filter(|&mm| fit(mm) <= opts.paper_fit_tolerance);
    match paper {
        Some(mm) => (long_px / mm, Some(mm)),
        None => (pulse, None),
    }
}

/// Measures grid scale and ink levels. Without a grid the scale assumes a page
/// `typical_page_mm` long (`found` tells).
pub fn measure(planes: &InkPlanes, opts: &GridOptions) -> Grid {
    let (w, h) = (planes.mark.width, planes.mark.height);
    let mut cols = vec![0f32; w];
    let mut rows = vec![0f32; h];
    for (y, total) in rows.iter_mut().enumerate() {
        let mut s = 0f32;
        for (c, &v) in cols.iter_mut().zip(planes.mark.row(y)) {
            *c += v;
            s += v;
        }
        *total = s;
    }
    let px = period_5mm(&cols, opts);
    let py = period_5mm(&rows, opts);
    let (px_per_mm_x, px_per_mm_y, found) = match scale_from_periods(px, py, w, h, opts) {
        Some((x, y)) => (x, y, true),
        None => {
            let s = w.max(h) as f32 / opts.typical_page_mm;
            (s, s, false)
        }
    };
    Grid {
        px_per_mm_x,
        px_per_mm_y,
        found,
        levels: ink_levels(planes),
    }
}

/// The grid of a page whose scale is known already (a photo the dewarp laid flat at
/// `px_per_mm`): only its ink levels are measured.
pub fn at_scale(planes: &InkPlanes, px_per_mm: f32) -> Grid {
    Grid {
        px_per_mm_x: px_per_mm,
        px_per_mm_y: px_per_mm,
        found: true,
        levels: ink_levels(planes),
    }
}

/// Pixels per mm on both axes from the 5 mm periods found on each (`None`: no grid on it),
/// for a `w` × `h` page; `None` when neither axis shows a grid.
fn scale_from_periods(
    px: Option<f32>,
    py: Option<f32>,
    w: usize,
    h: usize,
    opts: &GridOptions,
) -> Option<(f32, f32)> {
    let page = w.max(h) as f32;
    let (x, y) = match (px, py) {
        // Pixels are square to within a few percent on scans and photos alike: axes that
        // disagree by more have mistaken 1 mm lines for 5 mm ones (or the reverse) on one
        // axis. The axis whose scale gives the more plausible page size is right.
        (Some(a), Some(b)) if (a / b).max(b / a) > opts.max_axis_ratio => {
            let miss = |p: f32| (page * 5.0 / p - opts.typical_page_mm).abs();
            let s = if miss(a) <= miss(b) { a } else { b } / 5.0;
            (s, s)
        }
        (Some(a), Some(b)) => (a / 5.0, b / 5.0),
        // One line family alone may be no grid at all: on a page without one, the heartbeat
        // repeats down every row at once. As a grid it would make the page too small.
        (Some(p), None) | (None, Some(p)) if page * 5.0 / p < opts.min_page_mm => return None,
        (Some(a), None) => (a / 5.0, a / 5.0),
        (None, Some(b)) => (b / 5.0, b / 5.0),
        (None, None) => return None,
    };
    // No printout is half a metre across: a page that would be took its 1 mm lines for the
    // 5 mm ones (major lines barely darker than minor).
    let (x, y) = if page / x.max(y) > opts.max_page_mm {
        (x * 5.0, y * 5.0)
    } else {
        (x, y)
    };
    // Nor is any printout shorter than a postcard: on a coarse page without a grid, the
    // beats lined up down the rows and the rows' own spacing both look periodic.
    (page / x.min(y) >= opts.min_page_mm).then_some((x, y))
}

/// Period of the 5 mm grid in a profile, or `None` when no grid shows.
///
/// The autocorrelation of a grid profile peaks at every multiple of the finest line period,
/// and peaks higher at multiples of five when major lines stand out from minor ones.
pub fn period_5mm(profile: &[f32], opts: &GridOptions) -> Option<f32> {
    let n = profile.len();
    if n < 64 {
        return None;
    }
    let d = detrend(profile, (opts.max_major_px as usize).max(16));
    let r = autocorrelation(&d);
    let lag_max = ((opts.max_major_px * 1.1) as usize).min(n / 2);
    let lag_min = opts.min_period_px.floor().max(1.0) as usize;
    if lag_max <= lag_min + 2 || r[0] <= 0.0 {
        return None;
    }
    let at = |t: f32| -> f32 {
        // Linear interpolation of the autocorrelation at a fractional lag.
        let i = t.floor() as usize;
        if i + 1 >= r.len() {
            return 0.0;
        }
        let f = t - i as f32;
        r[i] * (1.0 - f) + r[i + 1] * f
    };
    let strongest = (lag_min..lag_max).map(|t| r[t]).fold(f32::MIN, f32::max);
    if strongest < opts.min_correlation * r[0] {
        return None;
    }
    // The finest period: the first local maximum that stands near the strongest one.
    let fine = (lag_min.max(2)..lag_max)
        .find(|&t| r[t] >= r[t - 1] && r[t] >= r[t + 1] && r[t] >= 0.5 * strongest)?;
    let (l, m, rr) = (r[fine - 1], r[fine], r[fine + 1]);
    let denom = l - 2.0 * m + rr;
    let mut fine = if denom.abs() > 1e-12 {
        fine as f32 + 0.5 * (l - rr) / denom
    } else {
        fine as f32
    };
    // How far the autocorrelation at `t` stands above its mean `w` either side.
    let bump = |t: f32, w: f32| at(t) - 0.5 * (at(t - w) + at(t + w));
    // Lines a few pixels apart fall alternately 3 and 4 pixels apart, so the first strong
    // peak can be two periods: a real period has a peak at its half where two would not.
    while fine / 2.0 >= opts.min_period_px {
        let half = fine / 2.0;
        if bump(half, half / 2.0) <= 0.05 * r[0] {
            break;
        }
        fine = half;
    }
    // Faint minor lines inside: small autocorrelation bumps at p/5 and 2p/5.
    let fifth = fine / 5.0;
    let subdivided = fifth >= opts.min_period_px
        && bump(fifth, fifth / 2.0) > 0.01 * r[0]
        && bump(2.0 * fifth, fifth / 2.0) > 0.01 * r[0];
    // Five-fold structure: every fifth line darker, so lag 5p beats lags 2p and 3p.
    let five = 5.0 * fine;
    let major = if subdivided {
        fine
    } else if five <= opts.max_major_px * 1.1 && five < (n / 2) as f32 {
        let between = 0.5 * (at(2.0 * fine) + at(3.0 * fine));
        let peak = at(five).max(at(five - 1.0)).max(at(five + 1.0));
        if peak > between + 0.05 * r[0] {
            five
        } else if fine >= 12.0 {
            fine
        } else {
            lone_family(n, fine, opts)
        }
    } else {
        fine
    };
    Some(refine_period(&d, major))
}

/// A single line family: read it as 1 mm or 5 mm, whichever gives a plausible page width.
fn lone_family(n: usize, period: f32, opts: &GridOptions) -> f32 {
    let as_minor = (n as f32 / period - opts.typical_page_mm).abs();
    let as_major = (n as f32 * 5.0 / period - opts.typical_page_mm).abs();
    if as_major < as_minor {
        period
    } else {
        period * 5.0
    }
}

/// Circular-free autocorrelation by FFT (zero-padded to twice the length).
fn autocorrelation(d: &[f64]) -> Vec<f32> {
    let size = (d.len() * 2).next_power_of_two();
    let mut buf: Vec<Complex<f64>> = d.iter().map(|&v| Complex::new(v, 0.0)).collect();
    buf.resize(size, Complex::new(0.0, 0.0));
    let mut planner = FftPlanner::new();
    planner.plan_fft_forward(size).process(&mut buf);
    for c in buf.iter_mut() {
        *c = Complex::new(c.norm_sqr(), 0.0);
    }
    planner.plan_fft_inverse(size).process(&mut buf);
    // Unbiased: divide by the number of overlapping samples.
    (0..d.len())
        .map(|t| (buf[t].re / size as f64 / (d.len() - t) as f64) as f32)
        .collect()
}

/// Subtracts a running mean so that only line-scale structure remains.
fn detrend(p: &[f32], window: usize) -> Vec<f64> {
    let n = p.len();
    let mut prefix = vec![0f64; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + p[i] as f64;
    }
    let half = window / 2;
    (0..n)
        .map(|i| {
            let a = i.saturating_sub(half);
            let b = (i + half + 1).min(n);
            p[i] as f64 - (prefix[b] - prefix[a]) / (b - a) as f64
        })
        .collect()
}

/// Harmonic energy of the comb with period `period`, evaluated exactly on the profile.
fn comb_energy(d: &[f64], period: f64) -> f64 {
    /// Harmonics summed side by side: each phasor's rotation waits on its last step, so
    /// four independent ones keep the processor busy where one would stall it.
    const LANES: usize = 4;
    let max_h = ((0.45 * period).floor() as usize).clamp(1, 40);
    let mut total = 0f64;
    for first in (1..=max_h).step_by(LANES) {
        let lanes = LANES.min(max_h + 1 - first);
        let (mut sw, mut cw) = ([0f64; LANES], [1f64; LANES]);
        for l in 0..lanes {
            let w = std::f64::consts::TAU * (first + l) as f64 / period;
            (sw[l], cw[l]) = (libm::sin(w), libm::cos(w));
        }
        // Rotate a phasor instead of calling sin/cos per sample.
        let (mut re, mut im) = ([0f64; LANES], [0f64; LANES]);
        let (mut pc, mut ps) = ([1f64; LANES], [0f64; LANES]);
        for &v in d {
            for l in 0..LANES {
                re[l] += v * pc[l];
                im[l] -= v * ps[l];
                let nc = pc[l] * cw[l] - ps[l] * sw[l];
                ps[l] = ps[l] * cw[l] + pc[l] * sw[l];
                pc[l] = nc;
            }
        }
        for l in 0..lanes {
            total += re[l] * re[l] + im[l] * im[l];
        }
    }
    total
}

fn refine_period(d: &[f64], estimate: f32) -> f32 {
    let mut center = estimate as f64;
    for span in [0.015f64, 0.002] {
        let steps = 20;
        let scores: Vec<(f64, f64)> = (-steps..=steps)
            .map(|i| {
                let p = center * (1.0 + span * i as f64 / steps as f64);
                (p, comb_energy(d, p))
            })
            .collect();
        let bi = (0..scores.len())
            .max_by(|&a, &b| scores[a].1.total_cmp(&scores[b].1))
            .unwrap();
        center = scores[bi].0;
        if bi > 0 && bi + 1 < scores.len() {
            let (l, m, r) = (scores[bi - 1].1, scores[bi].1, scores[bi + 1].1);
            let denom = l - 2.0 * m + r;
            if denom.abs() > 1e-18 {
                let step = scores[bi + 1].0 - scores[bi].0;
                center += 0.5 * (l - r) / denom * step;
            }
        }
    }
    center as f32
}

/// Grid ink levels (0–1) by which the rows' level may exceed the columns' before the rows are
/// taken to be counting trace baselines.
const AXIS_DISAGREEMENT: f32 = 0.1;

/// Least ink level, above the grid's, that trace ink can have.
const MIN_TRACE_CONTRAST: f32 = 0.05;

/// Grid level from row and column medians (grid lines run the whole page, traces do not);
/// trace level from the darkest tail, or from the typical column's darkest pixel where that
/// is lighter (a grey trace under black text).
pub fn ink_levels(planes: &InkPlanes) -> InkLevels {
    let ink = &planes.ink;
    let (w, h) = (ink.width, ink.height);
    const BINS: usize = 128;
    let bin = |v: f32| level_bin(v, BINS);
    // Every other row and column is plenty for medians and a 0.1% tail, at a quarter the cost;
    // grid lines a pixel wide still get their own rows in the row medians.
    let mut all = [0u64; BINS];
    let mut row_meds = Vec::with_capacity(h);
    let mut col_hist = vec![[0u32; BINS]; w.div_ceil(2)];
    let mut sampled_rows = 0;
    let mut col_max = vec![0f32; w];
    for y in 0..h {
        for (m, &v) in col_max.iter_mut().zip(ink.row(y)) {
            *m = m.max(v);
        }
        let mut hist = [0u32; BINS];
        for &v in ink.row(y).iter().step_by(2) {
            hist[bin(v)] += 1;
        }
        row_meds.push(histogram_median(&hist, w.div_ceil(2)));
        if y % 2 == 0 {
            sampled_rows += 1;
            for (x, &v) in ink.row(y).iter().step_by(2).enumerate() {
                let b = bin(v);
                col_hist[x][b] += 1;
                all[b] += 1;
            }
        }
    }
    let col_meds: Vec<f32> = col_hist
        .iter()
        .map(|hh| histogram_median(hh, sampled_rows))
        .collect();
    let high = |mut v: Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v[((v.len() as f32 * 0.98) as usize).min(v.len() - 1)]
    };
    // Both line families are drawn with the same ink. Rows can also run along the flat
    // baselines of an upright page, and on a page of many traces (12x1) those outnumber the
    // top rows of grid: rows far darker than columns are counting trace, not grid.
    let (by_rows, by_cols) = (high(row_meds), high(col_meds));
    let grid = if by_rows > by_cols + AXIS_DISAGREEMENT {
        by_cols
    } else {
        by_rows.max(by_cols)
    };
    let total: u64 = all.iter().sum();
    let mut acc = 0u64;
    let mut trace = 1.0;
    for i in (0..BINS).rev() {
        acc += all[i];
        if acc as f64 > total as f64 * 0.001 {
            trace = i as f32 / (BINS - 1) as f32;
            break;
        }
    }
    // Text and pulses can be printed far darker than a thin grey trace; every column the
    // trace crosses has its core as its darkest pixel, so the typical column's darkest
    // pixel caps the trace level.
    let mut inked: Vec<f32> = col_max
        .into_iter()
        .filter(|&m| m > grid + MIN_TRACE_CONTRAST)
        .collect();
    if inked.len() * 2 > w {
        let mid = inked.len() / 2;
        let (_, typical, _) = inked.select_nth_unstable_by(mid, f32::total_cmp);
        trace = trace.min(*typical);
    }
    let trace = trace.max(grid + MIN_TRACE_CONTRAST);
    let threshold = (grid + 0.45 * (trace - grid)).max(0.2);
    let extend = (grid + 0.25 * (trace - grid)).max(0.15).min(threshold);
    InkLevels {
        grid,
        trace,
        threshold,
        extend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Profile of a grid with 1 mm minor and 5 mm major lines at `px_per_mm`.
    fn grid_profile(n: usize, px_per_mm: f32, minor: bool) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let mm = i as f32 / px_per_mm;
                let near = |period: f32| {
                    let d = (mm / period).fract().min(1.0 - (mm / period).fract()) * period;
                    (1.0 - d * px_per_mm).max(0.0)
                };
                let mut v = 3.0 * near(5.0);
                if minor {
                    v += near(1.0);
                }
                v + 0.1 * ((i * 7919) % 13) as f32 / 13.0
            })
            .collect()
    }

    #[test]
    fn major_period_is_found_within_a_thousandth_at_100_to_300_dpi() {
        for dpi in [100.0f32, 150.0, 200.0, 300.0] {
            let ppmm = dpi / 25.4;
            let p = grid_profile((280.0 * ppmm) as usize, ppmm, true);
            let est = period_5mm(&p, &GridOptions::default()).unwrap() / 5.0;
            assert!(
                (est / ppmm - 1.0).abs() < 1e-3,
                "dpi {dpi}: {est} vs {ppmm}"
            );
        }
    }

    #[test]
    fn one_pixel_lines_alternately_3_and_4_pixels_apart_keep_their_period() {
        // About 88 DPI: 1 mm is 3.46 px, so the 1 mm lines land 3 or 4 pixels apart and the
        // strongest early peak of the autocorrelation is two of them.
        let ppmm = 3.46f32;
        let mut p = vec![0f32; 830];
        for k in 0..(830.0 / ppmm) as usize {
            let x = (k as f32 * ppmm).round() as usize;
            if x < p.len() {
                p[x] = if k % 5 == 0 { 92.0 } else { 40.0 };
            }
        }
        let est = period_5mm(&p, &GridOptions::default()).unwrap() / 5.0;
        assert!((est / ppmm - 1.0).abs() < 0.01, "{est}");
    }

    #[test]
    fn lone_major_lines_are_read_as_5_mm() {
        let ppmm = 200.0 / 25.4;
        let p = grid_profile((280.0 * ppmm) as usize, ppmm, false);
        let est = period_5mm(&p, &GridOptions::default()).unwrap() / 5.0;
        assert!((est / ppmm - 1.0).abs() < 2e-3, "{est}");
    }

    #[test]
    fn an_axis_read_five_times_too_coarse_takes_the_other_axis_scale() {
        let o = GridOptions::default();
        // 100 DPI letter page: 5 mm is 19.7 px; the rows' minor lines drowned in noise, so
        // their 5 mm lines were taken for 1 mm ones (a 98 px "5 mm" period).
        let (x, y) = scale_from_periods(Some(19.7), Some(98.4), 1100, 850, &o).unwrap();
        assert!(
            (x - 3.94).abs() < 0.01 && (y - 3.94).abs() < 0.01,
            "{x} {y}"
        );
    }

    #[test]
    fn a_page_over_half_a_metre_wide_took_its_1_mm_lines_for_5_mm() {
        let o = GridOptions::default();
        // 3167 px wide at 12.3 px per mm: 1 mm lines 12.3 px apart, read as 5 mm lines.
        let (x, _) = scale_from_periods(Some(12.3), Some(12.3), 3167, 1580, &o).unwrap();
        assert!((x - 12.3).abs() < 0.01, "{x}");
        let (x, _) = scale_from_periods(Some(61.5), Some(61.5), 3167, 1580, &o).unwrap();
        assert!((x - 12.3).abs() < 0.01, "{x}");
        assert_eq!(scale_from_periods(None, None, 100, 100, &o), None);
    }

    #[test]
    fn a_page_without_grid_takes_the_paper_size_its_pulses_agree_with() {
        let o = GridOptions::default();
        // A4 at 8 px/mm: 2376 px long; the pulses read 1% wide (40.4 px for 40).
        let (s, paper) = scale_from_pulses(40.4, 0.2, 25.0, 2376.0, &o);
        assert_eq!(paper, Some(297.0));
        assert!((s - 8.0).abs() < 1e-4);
        // Letter at the same resolution.
        let (_, paper) = scale_from_pulses(40.0, 0.2, 25.0, 279.4 * 8.0, &o);
        assert_eq!(paper, Some(279.4));
        // A crop fits no paper size: the pulses' own scale.
        let (s, paper) = scale_from_pulses(40.4, 0.2, 25.0, 1900.0, &o);
        assert_eq!(paper, None);
        assert!((s - 8.08).abs() < 1e-4);
    }

    #[test]
    fn periods_that_would_make_the_page_tiny_are_no_grid() {
        let o = GridOptions::default();
        // A gridless 150 DPI A4 page (1754 px): QRS complexes 124 px apart in every row.
        assert_eq!(scale_from_periods(Some(124.0), None, 1754, 1240, &o), None);
        // Real 5 mm lines on one axis only still give the scale.
        let s = scale_from_periods(None, Some(19.0), 1100, 850, &o).unwrap();
        assert!((s.0 - 3.8).abs() < 1e-4 && (s.1 - 3.8).abs() < 1e-4);
        // Nor are two: at 100 DPI a gridless page's beats and rows gave 82 px on both axes
        // (a 67 mm page). No 12-lead layout fits in 140 mm (10 s at 25 mm/s is 250 mm).
        assert_eq!(
            scale_from_periods(Some(82.0), Some(82.0), 1100, 850, &o),
            None
        );
        assert!(scale_from_periods(Some(39.4), Some(39.4), 2200, 1700, &o).is_some());
    }

    #[test]
    fn flat_profile_has_no_grid() {
        let mut state = 12345u64;
        let p: Vec<f32> = (0..2000)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 40) as f32
            })
            .collect();
        assert_eq!(period_5mm(&p, &GridOptions::default()), None);
    }

    /// Ink planes of a 400 px square page with grid lines of `h_line` / `v_line` ink every
    /// 8 px, and `traces` flat trace rows of ink 0.9 over 80 % of the width, 10 px apart.
    fn page(h_line: f32, v_line: f32, traces: usize) -> InkPlanes {
        let n = 400;
        let mut ink = crate::raster::Plane::new(n, n, 0.0);
        for y in 0..n {
            for x in 0..n {
                let mut v: f32 = 0.0;
                if y % 8 == 0 {
                    v = v.max(h_line);
                }
                if x % 8 == 0 {
                    v = v.max(v_line);
                }
                if y % 10 == 5 && y / 10 < traces && x > n / 10 && x < n - n / 10 {
                    v = 0.9;
                }
                ink.data[y * n + x] = v;
            }
        }
        clean_planes(ink)
    }

    /// Noise-free planes whose mark plane is the ink plane (a grey grid).
    fn clean_planes(ink: crate::raster::Plane) -> InkPlanes {
        InkPlanes {
            mark: ink.clone(),
            ink,
            noise: 0.0,
            smoothed_px: 0.0,
            white_noise: false,
            unsmoothed: None,
        }
    }

    #[test]
    fn grid_level_is_the_darker_line_family() {
        let levels = ink_levels(&page(0.3, 0.25, 0));
        assert!((levels.grid - 0.3).abs() < 0.01, "{levels:?}");
    }

    #[test]
    fn many_flat_baselines_are_not_taken_for_grid_rows() {
        // 24 traces: 6 % of the rows run along a baseline, more than the top 2 % looked at.
        let levels = ink_levels(&page(0.15, 0.15, 24));
        assert!((levels.grid - 0.15).abs() < 0.01, "{levels:?}");
        assert!(levels.threshold < 0.6, "{levels:?}");
    }

    #[test]
    fn a_grey_trace_under_black_text_sets_the_trace_level() {
        // Four grey traces (ink 0.3) across the page; black text (ink 0.9) over a tenth of
        // it, more pixels than the darkest 0.1 % the tail looks at.
        let n = 400;
        let mut ink = crate::raster::Plane::new(n, n, 0.0);
        for y in 0..n {
            for x in 0..n {
                let v = if y % 100 == 50 {
                    0.3
                } else if y < 40 && x < 100 {
                    0.9
                } else {
                    0.0
                };
                ink.data[y * n + x] = v;
            }
        }
        let levels = ink_levels(&clean_planes(ink));
        assert!((levels.trace - 0.3).abs() < 0.02, "{levels:?}");
        assert!(levels.threshold < 0.3, "{levels:?}");
    }
}
