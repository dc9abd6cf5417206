//! The result of [`crate::digitize`]: calibrated leads plus what a reviewer needs to check them.

use crate::calibration::Source;
use crate::lead::Lead;
use crate::signal::LeadSignal;
use serde::Serialize;

/// A point in the input image, in its own pixels (x right, y down).
pub type Point = [f32; 2];

/// One printed lead panel, for drawing over the input image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelView {
    /// The lead printed here.
    pub lead: Lead,
    /// Printed row, from the top.
    pub row: usize,
    /// First second shown.
    pub t_from_s: f32,
    /// End of the shown interval.
    pub t_to_s: f32,
    /// Share of the panel read directly from ink, 0 to 1.
    pub confidence: f32,
    /// Panel corners in input pixels: top-left, top-right, bottom-right, bottom-left.
    pub corners: [Point; 4],
    /// The extracted trace, one point per upright column, in input pixels.
    pub trace: Vec<Point>,
}

/// A trace row's 0 mV line in input pixels, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowView {
    /// Left end of the baseline.
    pub from: Point,
    /// Right end of the baseline.
    pub to: Point,
    /// How the baseline was found.
    pub baseline_source: Source,
}

/// A digitized page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digitization {
    /// Output sampling rate in Hz.
    pub fs_hz: f32,
    /// Samples in the page timeline (duration × fs).
    pub n_samples: usize,
    /// Every lead found, in CSV column order.
    pub leads: Vec<LeadSignal>,
    /// Measured horizontal scale, pixels per mm of paper (working resolution).
    pub px_per_mm_x: f32,
    /// Measured vertical scale, pixels per mm of paper (working resolution).
    pub px_per_mm_y: f32,
    /// Whether the ECG grid was seen (else the scale is a guess).
    pub grid_found: bool,
    /// Vertical scale in mm per mV.
    pub gain_mm_per_mv: f32,
    /// How the gain was found.
    pub gain_source: Source,
    /// Paper speed in mm per s.
    pub speed_mm_per_s: f32,
    /// How the speed was found.
    pub speed_source: Source,
    /// The page's counter-clockwise rotation, corrected before reading, in degrees.
    pub rotation_deg: f32,
    /// Layout name, e.g. `3x4+II`.
    pub layout: String,
    /// Whether the layout was detected (false: given by the user).
    pub layout_detected: bool,
    /// Input image size in pixels, as decoded.
    pub image_size: [u32; 2],
    /// Trace rows, top to bottom.
    pub rows: Vec<RowView>,
    /// Lead panels.
    pub panels: Vec<PanelView>,
    /// Plain-language notes: assumptions made, things the user should check.
    pub warnings: Vec<String>,
}

impl Digitization {
    /// Moves every overlay point (panel corners and traces, baselines) with `f`, e.g. back
    /// from a working copy of the image to the image as given.
    pub fn map_points(&mut self, f: impl Fn(Point) -> Point) {
        for p in &mut self.panels {
            for pt in p.corners.iter_mut().chain(p.trace.iter_mut()) {
                *pt = f(*pt);
            }
        }
        for r in &mut self.rows {
            r.from = f(r.from);
            r.to = f(r.to);
        }
    }

    /// The signal of `lead`, if the page shows it.
    pub fn lead(&self, lead: Lead) -> Option<&LeadSignal> {
        self.leads.iter().find(|l| l.lead == lead)
    }

    /// Page duration in seconds.
    pub fn duration_s(&self) -> f32 {
        self.n_samples as f32 / self.fs_hz
    }
}
