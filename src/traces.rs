//! Stage 6, traces: follow each row's trace through the ink, one sub-pixel y per column.
//!
//! Candidates are the ink runs of each column inside the row's band. A Viterbi pass picks
//! one run per column, paying for vertical gaps between consecutive runs (a trace is
//! continuous), for straying from the row's centre (so a neighbour's crossing wave is not
//! followed), and for columns left without ink. Steep QRS strokes are long runs that
//! touch their neighbours, so they cost nothing extra. Each chosen run then yields a y:
//! its ink centroid, or its tip minus half a line width when it is a peak or a trough.

use crate::ink::{ColumnRuns, Run};
use crate::layout::{Layout, Row};

/// Costs of the path search. Lengths are in pixels unless named otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceOptions {
    /// Cost per mm of a run's centre lying away from the row's centre line.
    pub row_pull_per_mm: f32,
    /// Cost per pixel of vertical gap between runs in neighbouring columns.
    pub gap_cost_per_px: f32,
    /// Cost per pixel the run centre jumps between neighbouring columns.
    pub jump_cost_per_px: f32,
    /// Cost of a column the path crosses without ink.
    pub missing_cost: f32,
    /// Longest horizontal gap, in mm, bridged without the restart cost.
    pub max_bridge_mm: f32,
    /// Extra cost of resuming the path after a longer gap.
    pub restart_cost: f32,
    /// Runs lighter than this ink mass (pixels) are noise.
    pub min_mass: f32,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            row_pull_per_mm: 0.1,
            gap_cost_per_px: 0.5,
            jump_cost_per_px: 0.01,
            missing_cost: 4.0,
            max_bridge_mm: 2.0,
            restart_cost: 12.0,
            min_mass: 0.3,
        }
    }
}

/// One row's trace.
#[derive(Debug, Clone, PartialEq)]
pub struct RowTrace {
    /// Column of `ys[0]`.
    pub x_from: usize,
    /// Trace y per column, upright pixels; NaN where missing or masked.
    pub ys: Vec<f32>,
    /// Typical stroke thickness, in pixels.
    pub thickness_px: f32,
}

impl RowTrace {
    /// Trace y at column `x`, linearly interpolated. Only columns in `lo..=hi` are used, so a
    /// panel never borrows its neighbour's ink; outside the known columns the nearest is held.
    pub fn y_at(&self, x: f32, lo: f32, hi: f32) -> Option<f32> {
        let first = (lo.ceil().max(self.x_from as f32)) as usize;
        let last = (hi.floor() as isize).min((self.x_from + self.ys.len()) as isize - 1);
        if last < first as isize {
            return None;
        }
        let last = last as usize;
        let get = |c: usize| self.ys[c - self.x_from];
        let xc = x.clamp(first as f32, last as f32);
        let left = (first..=xc.floor() as usize)
            .rev()
            .find(|&c| get(c).is_finite());
        let right = ((xc.ceil() as usize).max(first)..=last).find(|&c| get(c).is_finite());
        match (left, right) {
            (Some(l), Some(r)) if l == r => Some(get(l)),
            (Some(l), Some(r)) => {
                let t = (xc - l as f32) / (r - l) as f32;
                Some(get(l) * (1.0 - t) + get(r) * t)
            }
            (Some(l), None) => Some(get(l)),
            (None, Some(r)) => Some(get(r)),
            (None, None) => None,
        }
    }

    /// Whether column `x` holds a measured (not interpolated) value.
    pub fn has(&self, x: usize) -> bool {
        x >= self.x_from && x < self.x_from + self.ys.len() && self.ys[x - self.x_from].is_finite()
    }
}

#[derive(Clone, Copy)]
enum Back {
    Start,
    From(usize, usize),
}

#[derive(Clone, Copy)]
struct Cand {
    run: Run,
    cost: f32,
    back: Back,
}

/// Extracts every row's trace.
pub fn extract(
    runs: &ColumnRuns,
    layout: &Layout,
    px_per_mm_y: f32,
    opts: &TraceOptions,
) -> Vec<RowTrace> {
    let width = runs.columns.len();
    let x_end = (layout.x_of(layout.duration_s).ceil() as usize).min(width - 1);
    layout
        .rows
        .iter()
        .map(|row| {
            let x_from = (layout.x0.floor().max(0.0)) as usize;
            extract_row(runs, row, x_from, x_end.max(x_from), px_per_mm_y, opts)
        })
        .collect()
}

fn masked(row: &Row, x: usize) -> bool {
    if let Some(p) = row.pulse {
        if (x as f32) <= p.x_fall + 1.5 {
            return true;
        }
    }
    row.separators
        .iter()
        .any(|s| x + 1 >= s.x_from && x <= s.x_to + 1)
}

fn extract_row(
    runs: &ColumnRuns,
    row: &Row,
    xa: usize,
    xb: usize,
    px_per_mm_y: f32,
    o: &TraceOptions,
) -> RowTrace {
    let n = xb - xa + 1;
    let max_len = ((row.band_bottom - row.band_top) * 0.8) as u32;
    let unary = |r: &Run| o.row_pull_per_mm * (r.centroid - row.center_y).abs() / px_per_mm_y;
    let bridge = ((o.max_bridge_mm * px_per_mm_y).round() as usize).max(2);
    let mut cols: Vec<Vec<Cand>> = Vec::with_capacity(n);
    // Best (cost - missing * column) over columns old enough to restart from.
    let mut restart_best: Option<(f32, usize, usize)> = None;
    for i in 0..n {
        let x = xa + i;
        if i > bridge {
            let j = i - bridge - 1;
            for (k, c) in cols[j].iter().enumerate() {
                let v = c.cost - o.missing_cost * j as f32;
                if restart_best.is_none_or(|b| v < b.0) {
                    restart_best = Some((v, j, k));
                }
            }
        }
        let mut here = Vec::new();
        if !masked(row, x) {
            for r in runs.in_band(x, row.band_top, row.band_bottom) {
                if r.mass < o.min_mass || r.len() > max_len {
                    continue;
                }
                let u = unary(r);
                let mut best = Cand {
                    run: *r,
                    cost: o.missing_cost * i as f32 + u,
                    back: Back::Start,
                };
                if let Some((v, j, k)) = restart_best {
                    let c = v + o.missing_cost * (i as f32 - 1.0) + o.restart_cost + u;
                    if c < best.cost {
                        best.cost = c;
                        best.back = Back::From(j, k);
                    }
                }
                for g in 1..=bridge.min(i) {
                    let j = i - g;
                    for (k, a) in cols[j].iter().enumerate() {
                        let gap = a.run.gap_to(r) as f32;
                        let jump = (a.run.centroid - r.centroid).abs();
                        let c = a.cost
                            + o.missing_cost * (g - 1) as f32
                            + o.gap_cost_per_px * gap
                            + o.jump_cost_per_px * jump
                            + u;
                        if c < best.cost {
                            best.cost = c;
                            best.back = Back::From(j, k);
                        }
                    }
                }
                here.push(best);
            }
        }
        cols.push(here);
    }
    // Best end, then walk back.
    let mut end: Option<(f32, usize, usize)> = None;
    for (j, col) in cols.iter().enumerate() {
        for (k, c) in col.iter().enumerate() {
            let total = c.cost + o.missing_cost * (n - 1 - j) as f32;
            if end.is_none_or(|e| total < e.0) {
                end = Some((total, j, k));
            }
        }
    }
    let mut chosen: Vec<Option<Run>> = vec![None; n];
    let mut at = end.map(|e| (e.1, e.2));
    while let Some((j, k)) = at {
        let c = cols[j][k];
        chosen[j] = Some(c.run);
        at = match c.back {
            Back::Start => None,
            Back::From(pj, pk) => Some((pj, pk)),
        };
    }
    let thickness = typical_thickness(&chosen);
    let ys = (0..n).map(|i| column_y(&chosen, i, thickness)).collect();
    RowTrace {
        x_from: xa,
        ys,
        thickness_px: thickness,
    }
}

/// Median extent of the short runs: the stroke's thickness on flat stretches.
fn typical_thickness(chosen: &[Option<Run>]) -> f32 {
    let mut lens: Vec<u32> = chosen.iter().flatten().map(|r| r.len()).collect();
    if lens.is_empty() {
        return 2.0;
    }
    lens.sort_unstable();
    let short = lens[lens.len() / 2] + 1;
    let mut extents: Vec<f32> = chosen
        .iter()
        .flatten()
        .filter(|r| r.len() <= short)
        .map(|r| r.extent())
        .collect();
    extents.sort_by(f32::total_cmp);
    extents[extents.len() / 2].max(0.5)
}

/// The trace's y in column `i`: centroid on flat stretches, tip minus half a stroke at peaks.
fn column_y(chosen: &[Option<Run>], i: usize, thickness: f32) -> f32 {
    let Some(r) = chosen[i] else {
        return f32::NAN;
    };
    if r.extent() <= thickness + 1.5 {
        return r.centroid;
    }
    let near = |range: &mut dyn Iterator<Item = usize>| range.take(2).find_map(|j| chosen[j]);
    let prev = near(&mut (0..i).rev());
    let next = near(&mut (i + 1..chosen.len()));
    let (Some(p), Some(q)) = (prev, next) else {
        return r.centroid;
    };
    let up = r.top_edge < p.top_edge.min(q.top_edge) - 0.5;
    let down = r.bottom_edge > p.bottom_edge.max(q.bottom_edge) + 0.5;
    match (up, down) {
        (true, false) => r.top_edge + thickness / 2.0,
        (false, true) => r.bottom_edge - thickness / 2.0,
        _ => (r.top_edge + r.bottom_edge) / 2.0,
    }
}
