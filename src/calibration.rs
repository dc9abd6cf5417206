//! Stage 5, calibration: the vertical scale (mm per mV) and each row's 0 mV line.
//!
//! The calibration pulse is 1 mV tall. Its top stroke is long and horizontal, so its
//! centre is measured to a small fraction of a pixel; the pulse's foot sits on the row's
//! baseline. Measured gains close to a standard setting (5, 10, 20 mm/mV, ...) snap to it.
//! Without a pulse the gain is assumed, and the baseline comes from the separators'
//! centres, which printers draw on the baseline, or later from the trace itself.

use crate::ink::ColumnRuns;
use crate::layout::{Layout, PulseBox};
use crate::options::Gain;
use serde::Serialize;

/// Tuning knobs of pulse measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationOptions {
    /// Gains printers use, in mm/mV; a measurement within `snap_tolerance` snaps to one.
    pub standard_gains: Vec<f32>,
    /// Relative tolerance for snapping a measured gain.
    pub snap_tolerance: f32,
    /// Gain assumed when the page has no pulse, in mm/mV.
    pub default_gain: f32,
    /// Paper speeds printers use, in mm/s; the pulse's width snaps to one of them.
    pub standard_speeds: Vec<f32>,
    /// Duration of the calibration pulse, in seconds.
    pub pulse_s: f32,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            standard_gains: vec![2.5, 5.0, 10.0, 20.0, 40.0],
            snap_tolerance: 0.08,
            default_gain: 10.0,
            standard_speeds: vec![12.5, 25.0, 50.0, 100.0],
            pulse_s: 0.2,
        }
    }
}

/// Where a number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Measured from the calibration pulse.
    Pulse,
    /// Measured from the lead separators.
    Separator,
    /// Estimated from the trace itself.
    Trace,
    /// Given by the user.
    User,
    /// Read from the page's printed text ("25mm/s", "10mm/mV").
    Text,
    /// A standard value assumed for lack of evidence.
    Assumed,
}

/// A row's 0 mV line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Baseline {
    /// Upright pixel row of 0 mV.
    pub y: f32,
    /// How it was found.
    pub source: Source,
}

/// The page's calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Vertical scale in mm per mV.
    pub gain_mm_per_mv: f32,
    /// How the gain was found.
    pub gain_source: Source,
    /// The pulse heights actually measured, in mm (before snapping).
    pub pulse_heights_mm: Vec<f32>,
    /// Each row's baseline, when the pulse or separators show it.
    pub baselines: Vec<Option<Baseline>>,
}

/// Median width in pixels of the page's whole calibration pulses; `None` without any.
pub fn pulse_width_px(layout: &Layout) -> Option<f32> {
    let mut widths: Vec<f32> = layout
        .rows
        .iter()
        .filter_map(|r| r.pulse.or(r.end_pulse))
        .filter(|p| !p.rise_cut)
        .map(|p| p.x_fall - p.x_rise)
        .collect();
    if widths.is_empty() {
        return None;
    }
    widths.sort_by(f32::total_cmp);
    Some(widths[widths.len() / 2])
}

/// Paper speed from the calibration pulses' widths (the pulse lasts `pulse_s`), snapped to a
/// standard speed; `None` without pulses or when the width matches no standard speed.
pub fn speed_from_pulses(
    layout: &Layout,
    px_per_mm_x: f32,
    opts: &CalibrationOptions,
) -> Option<f32> {
    let speed = pulse_width_px(layout)? / px_per_mm_x / opts.pulse_s;
    opts.standard_speeds
        .iter()
        .copied()
        .find(|&s| (speed / s - 1.0).abs() <= opts.snap_tolerance)
}

/// A measured pulse: the centre of its top stroke and the bottom edge of its feet.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PulseMeasure {
    top_center: f32,
    foot_edge: f32,
    thickness: f32,
}

/// Measures gain and baselines. Without pulses the gain is `printed_gain`, the one the
/// page's text states, if any.
pub fn calibrate(
    runs: &ColumnRuns,
    layout: &Layout,
    px_per_mm_y: f32,
    gain: Gain,
    printed_gain: Option<f32>,
    opts: &CalibrationOptions,
) -> Calibration {
    let measures: Vec<Option<PulseMeasure>> = layout
        .rows
        .iter()
        // A pulse cut by the page's border has lost its rising stroke, and its falling one may
        // merge with the trace: neither height nor foot can be trusted.
        .map(|r| {
            r.pulse
                .or(r.end_pulse)
                .as_ref()
                .filter(|p| !p.rise_cut)
                .and_then(|p| measure_pulse(runs, p))
        })
        .collect();
    if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
        for (r, m) in layout.rows.iter().zip(&measures) {
            eprintln!("pulse {:?} measure {:?}", r.pulse, m);
        }
    }
    let mut heights_mm: Vec<f32> = measures
        .iter()
        .flatten()
        .map(|m| (m.foot_edge - m.thickness / 2.0 - m.top_center) / px_per_mm_y)
        .filter(|h| *h > 1.0)
        .collect();
    let (gain_mm_per_mv, gain_source, snapped) = match gain {
        Gain::MmPerMv(g) => (g, Source::User, false),
        Gain::Auto if heights_mm.is_empty() => match printed_gain {
            Some(g) => (g, Source::Text, false),
            None => (opts.default_gain, Source::Assumed, false),
        },
        Gain::Auto => {
            let mut h = heights_mm.clone();
            h.sort_by(f32::total_cmp);
            let m = h[h.len() / 2];
            match opts
                .standard_gains
                .iter()
                .find(|&&g| (m / g - 1.0).abs() <= opts.snap_tolerance)
            {
                Some(&g) => (g, Source::Pulse, true),
                None => (m, Source::Pulse, false),
            }
        }
    };
    let baselines = layout
        .rows
        .iter()
        .zip(&measures)
        .map(|(row, m)| {
            if let Some(m) = m {
                // A snapped gain fixes the pulse height exactly; the top stroke is the sharper edge.
                let y = if snapped {
                    m.top_center + gain_mm_per_mv * px_per_mm_y
                } else {
                    m.foot_edge - m.thickness / 2.0
                };
                return Some(Baseline {
                    y,
                    source: Source::Pulse,
                });
            }
            row.bars_centre().map(|y| Baseline {
                y,
                source: Source::Separator,
            })
        })
        .collect();
    heights_mm.sort_by(f32::total_cmp);
    Calibration {
        gain_mm_per_mv,
        gain_source,
        pulse_heights_mm: heights_mm,
        baselines,
    }
}

fn measure_pulse(runs: &ColumnRuns, p: &PulseBox) -> Option<PulseMeasure> {
    let width = p.x_fall - p.x_rise;
    let (a, b) = (
        (p.x_rise + 0.3 * width).round() as usize,
        (p.x_fall - 0.3 * width).round() as usize,
    );
    let mut centres = Vec::new();
    let mut masses = Vec::new();
    for x in a..=b {
        if let Some(r) = runs
            .in_band(x, p.y_top - 2.0, p.y_top + 6.0)
            .min_by_key(|r| r.top)
        {
            if r.len() <= 8 {
                centres.push(r.centroid);
                masses.push(r.extent());
            }
        }
    }
    if centres.len() < 2 {
        return None;
    }
    centres.sort_by(f32::total_cmp);
    masses.sort_by(f32::total_cmp);
    let top_center = centres[centres.len() / 2];
    let thickness = masses[masses.len() / 2];
    // Foot: the bottom edge of the rising stroke, sub-pixel from its centroid and mass.
    let foot = |x: f32| {
        runs.in_band(x.round() as usize, p.y_top, p.y_bottom)
            .max_by_key(|r| r.len())
            .map(|r| r.bottom_edge)
    };
    let foot_edge = foot(p.x_rise)?;
    Some(PulseMeasure {
        top_center,
        foot_edge,
        thickness,
    })
}
