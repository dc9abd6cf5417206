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
use crate::raster::Plane;

/// Costs of the path search. Lengths are in pixels unless named otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceOptions {
    /// Cost per mm of a run's centre lying away from the row's centre line.
    pub row_pull_per_mm: f32,
    /// Cost per pixel of vertical gap between runs in neighbouring columns.
    pub gap_cost_per_px: f32,
    /// Cost per pixel the path travels inside a column beyond the run's own extent, i.e. when
    /// it turns back (a peak) instead of crossing the run monotonically.
    pub turn_cost_per_px: f32,
    /// Cost of a column the path crosses without ink.
    pub missing_cost: f32,
    /// Longest horizontal gap, in mm, bridged without the restart cost.
    pub max_bridge_mm: f32,
    /// Extra cost of resuming the path after a longer gap.
    pub restart_cost: f32,
    /// Runs lighter than this ink mass (pixels) are noise.
    pub min_mass: f32,
    /// At most this many runs per column are considered (the heaviest), bounding the search.
    pub max_candidates: usize,
    /// Widest tall blip, in columns, that is read as another trace crossing a flat stretch.
    pub max_crossing_px: usize,
    /// Ink blobs smaller than this many mm both ways are print (labels, text), not trace.
    pub glyph_max_mm: f32,
    /// Cost per column of following such a blob.
    pub glyph_cost: f32,
    /// Cost per column of following ink where the page prints a lead label (a label that
    /// touches the trace joins its blob): enough to outweigh the label's extra ink, little
    /// against a trace that really passes there.
    pub label_zone_cost: f32,
    /// Ink in a separator bar's columns counts as trace only where it reaches this far (mm)
    /// beyond the bar's end: less is the bar's own blur.
    pub bar_overshoot_mm: f32,
    /// Beyond the tip of a peak, pixels whose trace weight (0–1) reaches this still belong to
    /// the tip; 1 or more turns the extension off.
    pub tip_weight: f32,
    /// Longest extension of a tip, in mm.
    pub max_tip_extension_mm: f32,
    /// From this resolution (pixels per mm) up, a tip is also followed into the columns
    /// beside it.
    pub tip_lean_px_per_mm: f32,
    /// Reward per pixel of ink a run explains: between two continuous paths, the one that
    /// accounts for more of the ink (a QRS stroke rather than a label beside it) wins.
    pub ink_reward_per_px: f32,
    /// How far past a neighbouring row's centre line the path may go, as a fraction of the
    /// distance to it: a deep S wave can reach through the next row's trace and beyond.
    pub beyond_neighbour: f32,
    /// Only runs at least this tall (mm), steep strokes, may reach past the neighbour.
    pub beyond_stroke_mm: f32,
    /// A path that stays further than `max_stray` of the way to the nearest other row's
    /// centre line for this long (s) has strayed onto something else, and loses that stretch.
    pub max_foreign_s: f32,
    /// See `max_foreign_s`.
    pub max_stray: f32,
    /// A row whose path lost such a stretch is searched again without the runs it lost, up
    /// to this many times (each search can stray onto the next nearest foreign ink).
    pub foreign_searches: usize,
    /// ... a stretch that the path reaches or leaves by a jump across this much paper
    /// (mm), that is: the trace's own stroke leads to a tall wave.
    pub max_jump_mm: f32,
    /// Two rows' paths that share this many columns or more of ink give it to the row whose
    /// centre line it lies by: a level stretch, not a stroke crossing between rows.
    pub min_level_share_px: usize,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            row_pull_per_mm: 0.05,
            gap_cost_per_px: 0.5,
            turn_cost_per_px: 0.03,
            missing_cost: 4.0,
            max_bridge_mm: 2.0,
            restart_cost: 12.0,
            min_mass: 0.3,
            max_candidates: 12,
            max_crossing_px: 4,
            glyph_max_mm: 5.0,
            bar_overshoot_mm: 0.5,
            glyph_cost: 2.0,
            label_zone_cost: 1.0,
            ink_reward_per_px: 0.04,
            tip_weight: 0.3,
            max_tip_extension_mm: 1.5,
            tip_lean_px_per_mm: 7.0,
            beyond_neighbour: 0.5,
            beyond_stroke_mm: 1.0,
            min_level_share_px: 8,
            max_foreign_s: 0.1,
            max_stray: 0.2,
            foreign_searches: 3,
            max_jump_mm: 2.0,
        }
    }
}

/// One row's trace.
#[derive(Debug, Clone, PartialEq)]
pub struct RowTrace {
    /// Column of `ys[0]`.
    pub x_from: usize,
    /// Trace y at each column's centre, upright pixels; NaN where missing or masked.
    pub ys: Vec<f32>,
    /// Sub-pixel centreline points `[x, y]`, sorted by x: ink centroids of flat columns, and
    /// on steep strokes the stroke's horizontal centre on every pixel row it crosses.
    pub points: Vec<[f32; 2]>,
    /// Typical stroke thickness, in pixels.
    pub thickness_px: f32,
}

impl RowTrace {
    /// Trace y at column `x`, linearly interpolated between centreline points. Only points in
    /// `lo..=hi` are used, so a panel never borrows its neighbour's ink; beyond the first or
    /// last point the nearest is held.
    pub fn y_at(&self, x: f32, lo: f32, hi: f32) -> Option<f32> {
        let pts = self.panel_points(lo, hi);
        let first = pts.first()?;
        let last = pts.last()?;
        if x <= first[0] {
            return Some(first[1]);
        }
        if x >= last[0] {
            return Some(last[1]);
        }
        let k = pts.partition_point(|p| p[0] <= x);
        let (p, q) = (pts[k - 1], pts[k]);
        let dx = q[0] - p[0];
        if dx <= 1e-6 {
            return Some((p[1] + q[1]) / 2.0);
        }
        let t = (x - p[0]) / dx;
        Some(p[1] * (1.0 - t) + q[1] * t)
    }

    /// The centreline points of columns `lo..=hi`, with half a pixel of slack either side.
    fn panel_points(&self, lo: f32, hi: f32) -> &[[f32; 2]] {
        let a = self.points.partition_point(|p| p[0] < lo - 0.5);
        let b = self.points.partition_point(|p| p[0] <= hi + 0.5);
        &self.points[a..b.max(a)]
    }

    /// Like [`RowTrace::y_at`], but beyond the first or last point, where a separator bar or
    /// the page edge hides the ink, the trace keeps its slope at the edge as long as that
    /// leads toward `rest_y` (the row's 0 mV line), and stops there: a lead cut off mid-QRS
    /// has mostly come from, or returns to, its baseline. Moving away from it, the edge is held.
    pub fn y_filled(&self, x: f32, lo: f32, hi: f32, rest_y: f32) -> Option<f32> {
        let pts = self.panel_points(lo, hi);
        let (first, last) = (*pts.first()?, *pts.last()?);
        let (edge, inward) = if x < first[0] {
            (first, 1.0)
        } else if x > last[0] {
            (last, -1.0)
        } else {
            return self.y_at(x, lo, hi);
        };
        // Slope over the last pixel or two of visible ink, in y per pixel outward.
        const SPAN_PX: f32 = 1.5;
        let inner = self.y_at(edge[0] + inward * SPAN_PX, lo, hi)?;
        let slope = (edge[1] - inner) / SPAN_PX;
        if slope * (rest_y - edge[1]) <= 0.0 {
            return Some(edge[1]);
        }
        let y = edge[1] + slope * (x - edge[0]).abs();
        Some(if (y - rest_y) * (edge[1] - rest_y) < 0.0 {
            rest_y
        } else {
            y
        })
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

/// How the path crosses one column: through `run`, entering at `entry` (pixel row) and
/// leaving at the run's top or bottom end.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    run: Run,
    entry: f32,
    exit_top: bool,
}

impl Step {
    /// True when the path enters and leaves at the same end: a peak or a trough.
    fn is_turn(&self) -> bool {
        let (lo, hi) = centreline(&self.run);
        let mid = (lo + hi) / 2.0;
        (self.entry < mid) == self.exit_top
    }
}

/// The vertical span a centred stroke can occupy inside a run: its extent minus a stroke.
fn centreline(r: &Run) -> (f32, f32) {
    let h = (r.extent() / 2.0).min(1.0);
    let (lo, hi) = (r.top_edge + h, r.bottom_edge - h);
    if lo <= hi {
        (lo, hi)
    } else {
        (r.centroid, r.centroid)
    }
}

#[derive(Clone, Copy)]
struct Cand {
    step: Step,
    cost: f32,
    back: Back,
}

/// Extracts every row's trace.
pub fn extract(
    runs: &ColumnRuns,
    ink: &Plane,
    weight: impl Fn(f32) -> f32,
    layout: &Layout,
    px_per_mm_y: f32,
    opts: &TraceOptions,
) -> Vec<RowTrace> {
    let width = runs.columns.len();
    let xa = (layout.x0.floor().max(0.0)) as usize;
    let xb = (layout.x_of(layout.duration_s).ceil() as usize)
        .min(width - 1)
        .max(xa);
    // Where the page is cropped so close to the time origin that a pulse would be cut, what
    // is left of it ends at the origin (its falling stroke a pixel beyond).
    let cut_pulse_end = (layout.x0 < 0.25 * layout.px_per_s).then_some(layout.x0 + 1.0);
    let mut paths: Vec<Vec<Option<Step>>> = layout
        .rows
        .iter()
        .map(|row| {
            let pulse_end = row.pulse.map(|p| p.x_fall).or(cut_pulse_end);
            follow_row(runs, row, pulse_end, xa, xb, px_per_mm_y, opts, &[])
        })
        .collect();
    let thickness: Vec<f32> = paths.iter().map(|p| typical_thickness(p)).collect();
    debug::columns(&paths, runs, xa, "dp");
    let centres: Vec<f32> = layout.rows.iter().map(|r| r.center_y).collect();
    resolve_shared(&mut paths, &centres, opts.min_level_share_px);
    let foreign_px = (opts.max_foreign_s * layout.px_per_s).round() as usize;
    let jump = opts.max_jump_mm * px_per_mm_y;
    for (r, path) in paths.iter_mut().enumerate() {
        let row = &layout.rows[r];
        let pulse_end = row.pulse.map(|p| p.x_fall).or(cut_pulse_end);
        *path = own_path(
            std::mem::take(path),
            |foreign| follow_row(runs, row, pulse_end, xa, xb, px_per_mm_y, opts, foreign),
            |p| drop_foreign(p, r, &centres, foreign_px, opts.max_stray, jump),
            opts.foreign_searches,
        );
    }
    debug::columns(&paths, runs, xa, "shared");
    paths
        .iter_mut()
        .zip(thickness)
        .zip(&layout.rows)
        .map(|((chosen, t), row)| {
            bridge_split_columns(chosen, runs, xa, t);
            drop_crossings(chosen, row, t, opts.max_crossing_px);
            extend_tips(chosen, xa, ink, &weight, row, t, px_per_mm_y, opts);
            let points = centreline_points(chosen, xa, ink, &weight, t);
            debug::points(row.center_y, &points);
            let probe = RowTrace {
                x_from: xa,
                ys: Vec::new(),
                points,
                thickness_px: t,
            };
            let ys = (0..chosen.len())
                .map(|i| match chosen[i] {
                    Some(_) => probe
                        .y_at(
                            (xa + i) as f32,
                            (xa + i) as f32 - 1.0,
                            (xa + i) as f32 + 1.0,
                        )
                        .unwrap_or(f32::NAN),
                    None => f32::NAN,
                })
                .collect();
            RowTrace { ys, ..probe }
        })
        .collect()
}

/// Diagnostics for tuning the path search, built only with the `trace-debug` feature (the
/// library writes nothing anywhere otherwise):
/// - `ECG_DEBUG_COLS=a-b`: every row's chosen run and all runs of columns `a..=b`;
/// - `ECG_DEBUG_DP=x ECG_DEBUG_ROW=y`: the path's candidates near column `x` of the row
///   whose centre line is at `y`;
/// - `ECG_DUMP_POINTS=file`: every row's centreline points, appended to `file`.
#[cfg(feature = "trace-debug")]
mod debug {
    use super::{Back, Cand, Step};
    use crate::ink::ColumnRuns;

    fn var(name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    pub fn columns(paths: &[Vec<Option<Step>>], runs: &ColumnRuns, xa: usize, what: &str) {
        let Some((a, b)) = var("ECG_DEBUG_COLS").and_then(|r| {
            let (a, b) = r.split_once('-')?;
            Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
        }) else {
            return;
        };
        for x in a..=b.min(runs.columns.len().saturating_sub(1)) {
            let cells: Vec<String> = paths
                .iter()
                .map(|p| match p.get(x.wrapping_sub(xa)).copied().flatten() {
                    Some(c) => format!(
                        "{}-{}{}",
                        c.run.top,
                        c.run.bottom,
                        if c.is_turn() { "T" } else { "" }
                    ),
                    None => "-".into(),
                })
                .collect();
            let all: Vec<String> = runs.columns[x]
                .iter()
                .map(|r| format!("{}-{}", r.top, r.bottom))
                .collect();
            eprintln!(
                "{what} x {x}: {}   | all: {}",
                cells.join("  "),
                all.join(" ")
            );
        }
    }

    pub fn points(row_y: f32, points: &[[f32; 2]]) {
        use std::io::Write;
        let Some(path) = var("ECG_DUMP_POINTS") else {
            return;
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            for p in points {
                let _ = writeln!(f, "{row_y} {} {}", p[0], p[1]);
            }
        }
    }

    pub fn candidates_column(row_y: f32) -> Option<usize> {
        let x = var("ECG_DEBUG_DP")?.parse::<usize>().ok()?;
        let y = var("ECG_DEBUG_ROW")?.parse::<f32>().ok()?;
        ((row_y - y).abs() < 5.0).then_some(x)
    }

    pub fn candidates(x: usize, xa: usize, runs: &ColumnRuns, here: &[Cand]) {
        for c in here {
            let b = match c.back {
                Back::Start => "start".to_string(),
                Back::From(j, k) => format!("{}:{}", xa + j, k),
            };
            let bb = runs.components[c.step.run.component as usize];
            eprintln!(
                "x {x} run {}-{} blob {}x{} exit_top {} entry {:.0} cost {:.2} back {b}",
                c.step.run.top,
                c.step.run.bottom,
                bb.width(),
                bb.height(),
                c.step.exit_top,
                c.step.entry,
                c.cost
            );
        }
    }
}

/// Without the `trace-debug` feature the diagnostics compile to nothing.
#[cfg(not(feature = "trace-debug"))]
mod debug {
    use super::{Cand, Step};
    use crate::ink::ColumnRuns;

    pub fn columns(_: &[Vec<Option<Step>>], _: &ColumnRuns, _: usize, _: &str) {}
    pub fn points(_: f32, _: &[[f32; 2]]) {}
    pub fn candidates_column(_: f32) -> Option<usize> {
        None
    }
    pub fn candidates(_: usize, _: usize, _: &ColumnRuns, _: &[Cand]) {}
}

/// Where two rows' paths cross the same run, the ink is usually one row's steep stroke
/// reaching into the other row's trace. Over a stretch of shared columns, the owner is the
/// row whose own path leads into the stretch through tall runs (the stroke continues there)
/// while the other's flanks are short; the other row bridges the stretch. Where the flanks
/// do not tell, a row that crosses a run monotonically owns it, and a row that merely
/// touches it and turns back (it would read the stroke as its own peak) bridges it.
fn resolve_shared(paths: &mut [Vec<Option<Step>>], centres: &[f32], min_level_px: usize) {
    // How much taller one row's flanks must be to own a shared stretch.
    const OWNER_RATIO: f32 = 2.0;
    let rows = paths.len();
    let n = paths.first().map_or(0, |p| p.len());
    // Whether rows `r` and `s` take the same run in column `i`.
    let shares = |paths: &[Vec<Option<Step>>], r: usize, s: usize, i: usize| match (
        paths[r][i],
        paths[s][i],
    ) {
        (Some(a), Some(b)) => a.run.top == b.run.top,
        _ => false,
    };
    let mut clear = Vec::new();
    let mut decided = vec![vec![false; n]; rows];
    for r in 0..rows {
        for s in r + 1..rows {
            let mut i = 0;
            while i < n {
                if !shares(paths, r, s, i) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < n && shares(paths, r, s, i) {
                    i += 1;
                }
                let (fr, fs) = (
                    flank_height(&paths[r], start, i),
                    flank_height(&paths[s], start, i),
                );
                // A long shared stretch lying by one row's centre line is that row's trace,
                // however tall the stroke that led the other row into it.
                let level = (i - start >= min_level_px).then(|| {
                    let y = (start..i)
                        .filter_map(|k| paths[r][k].map(|st| st.run.middle()))
                        .sum::<f32>()
                        / (i - start) as f32;
                    ((y - centres[r]).abs(), (y - centres[s]).abs())
                });
                let loser = if let Some((dr, ds)) =
                    level.filter(|(dr, ds)| dr.min(*ds) < 0.5 * dr.max(*ds))
                {
                    Some(if dr < ds { s } else { r })
                } else if fr > OWNER_RATIO * fs {
                    Some(s)
                } else if fs > OWNER_RATIO * fr {
                    Some(r)
                } else {
                    None
                };
                if let Some(l) = loser {
                    clear.extend((start..i).map(|k| (l, k)));
                    decided[r][start..i].fill(true);
                    decided[s][start..i].fill(true);
                }
            }
        }
    }
    for i in 0..n {
        for (r, path) in paths.iter().enumerate() {
            let Some(mine) = path[i] else { continue };
            if !mine.is_turn() || decided[r][i] {
                continue;
            }
            let owned_elsewhere = (0..rows).any(|o| {
                o != r && paths[o][i].is_some_and(|s| s.run.top == mine.run.top && !s.is_turn())
            });
            if owned_elsewhere {
                clear.push((r, i));
            }
        }
    }
    for (r, i) in clear {
        paths[r][i] = None;
    }
}

/// Clears the stretches where row `r`'s path strays far from its centre line for at least
/// `min_px` columns, more than `max_stray` of the way to the nearest other row's: that is
/// another row's trace, a line of text or the page's edge (a stroke that reaches that far is
/// steep and brief), and a gap reads far better than a stretch of something else.
fn drop_foreign(
    path: &mut [Option<Step>],
    r: usize,
    centres: &[f32],
    min_px: usize,
    max_stray: f32,
    max_jump_px: f32,
) {
    let pitch = centres
        .iter()
        .enumerate()
        .filter(|&(o, _)| o != r)
        .map(|(_, &c)| (c - centres[r]).abs())
        .fold(f32::MAX, f32::min);
    if pitch == f32::MAX {
        return;
    }
    let stray = |st: &Option<Step>| {
        st.is_some_and(|st| (st.run.middle() - centres[r]).abs() > max_stray * pitch)
    };
    let mut i = 0;
    while i < path.len() {
        if !stray(&path[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < path.len() && (stray(&path[i]) || path[i].is_none()) {
            i += 1;
        }
        // Reached or left by a jump across paper: something else's trace, text or an edge.
        // A tall T wave or a deep S wave is reached by the trace's own stroke.
        let before = path[..start].iter().rev().flatten().next();
        let after = path[i..].iter().flatten().next();
        let first = path[start..i].iter().flatten().next();
        let last = path[start..i].iter().rev().flatten().next();
        let jump = |a: Option<&Step>, b: Option<&Step>| matches!((a, b), (Some(a), Some(b)) if a.run.gap_to(&b.run) as f32 > max_jump_px);
        if i - start >= min_px.max(1) && (jump(before, first) || jump(last, after)) {
            path[start..i].fill(None);
        }
    }
}

/// A row's path `found` by `search` (given the runs it must not take, per column), without
/// the stretches `drop` finds it strayed onto. A path strays for want of its own ink (on a
/// photo, a stretch of trace lost with the grid line it lay along); searched again, up to
/// `searches` times, without what it strayed onto, it keeps its own ink around the gap.
fn own_path(
    mut found: Vec<Option<Step>>,
    search: impl Fn(&[Vec<Run>]) -> Vec<Option<Step>>,
    drop: impl Fn(&mut [Option<Step>]),
    searches: usize,
) -> Vec<Option<Step>> {
    let mut path = found.clone();
    drop(&mut path);
    let mut foreign: Vec<Vec<Run>> = vec![Vec::new(); path.len()];
    for _ in 0..searches {
        let mut more = false;
        for (k, (a, b)) in found.iter().zip(&path).enumerate() {
            if let (Some(a), None) = (a, b) {
                foreign[k].push(a.run);
                more = true;
            }
        }
        if !more {
            break;
        }
        found = search(&foreign);
        path = found.clone();
        drop(&mut path);
    }
    path
}

/// Total height of the runs a path takes just before and just after columns `a..b`, counting
/// only runs that touch the stretch's first or last run (a stroke leading into it).
fn flank_height(path: &[Option<Step>], a: usize, b: usize) -> f32 {
    let touching = |flank: Option<Step>, inner: Option<Step>| match (flank, inner) {
        (Some(f), Some(s)) if f.run.gap_to(&s.run) <= 1 => f.run.len() as f32,
        _ => 0.0,
    };
    let before = a.checked_sub(1).map_or(0.0, |k| touching(path[k], path[a]));
    let after = path.get(b).map_or(0.0, |&f| touching(f, path[b - 1]));
    before + after
}

/// Columns the path must not read whole: the calibration pulse, and separator bars.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mask {
    Open,
    Pulse,
    /// A bar from `top` to `bottom`: ink above or below it is still the trace's.
    Separator {
        top: f32,
        bottom: f32,
    },
}

/// `pulse_end`: the column where the row's calibration pulse ends, if it has one.
fn mask(row: &Row, pulse_end: Option<f32>, x: usize) -> Mask {
    if pulse_end.is_some_and(|e| (x as f32) <= e + 1.5) {
        return Mask::Pulse;
    }
    match row
        .separators
        .iter()
        .find(|s| x + 1 >= s.x_from && x <= s.x_to + 1)
    {
        Some(s) => Mask::Separator {
            top: s.y_top,
            bottom: s.y_bottom,
        },
        None => Mask::Open,
    }
}

/// The parts of `r` clear of a bar spanning `top..=bottom` by at least `min_px` (and 3 px): a QRS that
/// overshoots the bar stays visible above or below it, while the bar's own blurred ends do not
/// count.
fn clear_of_bar(r: Run, top: f32, bottom: f32, min_px: f32) -> impl Iterator<Item = Run> {
    let above_end = (top - 2.0).floor();
    let below_start = (bottom + 2.0).ceil();
    let above = (above_end >= r.top as f32).then(|| {
        let b = (above_end as u32).min(r.bottom);
        Run {
            bottom: b,
            bottom_edge: if b == r.bottom {
                r.bottom_edge
            } else {
                b as f32 + 1.0
            },
            ..clipped(&r, r.top, b)
        }
    });
    let below = (below_start <= r.bottom as f32).then(|| {
        let t = (below_start as u32).max(r.top);
        Run {
            top: t,
            top_edge: if t == r.top { r.top_edge } else { t as f32 },
            ..clipped(&r, t, r.bottom)
        }
    });
    above.into_iter().chain(below).filter(move |c| {
        let overshoot = if c.top == r.top {
            top - c.top as f32
        } else {
            c.bottom as f32 - bottom
        };
        // Blur spreads a bar's ends by a pixel or two at any resolution.
        overshoot >= min_px.max(3.0) && c.len() >= 2
    })
}

/// `r` cut to rows `top..=bottom`, its ink taken as even over the part kept.
fn clipped(r: &Run, top: u32, bottom: u32) -> Run {
    let share = (bottom - top + 1) as f32 / r.len() as f32;
    Run {
        top,
        bottom,
        mass: r.mass * share,
        centroid: (top + bottom) as f32 / 2.0 + 0.5,
        ..*r
    }
}

/// What one row's path search may take, and what each step costs.
struct RowCosts<'a> {
    runs: &'a ColumnRuns,
    row: &'a Row,
    o: &'a TraceOptions,
    px_per_mm_y: f32,
    /// Blobs smaller than this both ways are print (labels), in pixels.
    glyph_px: f32,
    /// Longest run a path may take, in pixels.
    max_len: u32,
    /// Where the path may go: the row's band widened past the neighbours' centres.
    reach: (f32, f32),
    /// Longest gap bridged without the restart cost, in columns.
    bridge: usize,
    /// Panel boundaries (bar centres) at or before each path column, offset by one.
    boundaries_before: Vec<usize>,
}

impl<'a> RowCosts<'a> {
    fn new(
        runs: &'a ColumnRuns,
        row: &'a Row,
        xa: usize,
        n: usize,
        px_per_mm_y: f32,
        o: &'a TraceOptions,
    ) -> Self {
        let mut boundaries_before = vec![0usize; n + 1];
        for i in 0..n {
            let x = xa + i;
            let boundary = row
                .separators
                .iter()
                .any(|s| (s.x_from + s.x_to).div_ceil(2) == x);
            boundaries_before[i + 1] = boundaries_before[i] + usize::from(boundary);
        }
        RowCosts {
            runs,
            row,
            o,
            px_per_mm_y,
            glyph_px: o.glyph_max_mm * px_per_mm_y,
            max_len: ((row.band_bottom - row.band_top) * 0.8) as u32,
            reach: (
                row.band_top - o.beyond_neighbour * (row.center_y - row.band_top),
                row.band_bottom + o.beyond_neighbour * (row.band_bottom - row.center_y),
            ),
            bridge: ((o.max_bridge_mm * px_per_mm_y).round() as usize).max(2),
            boundaries_before,
        }
    }

    /// A label touching the trace is part of the trace's blob, but it stands where the page
    /// prints its labels.
    fn in_label(&self, x: usize, r: &Run) -> bool {
        self.row
            .label_zones
            .iter()
            .any(|z| (z[0]..=z[1]).contains(&(x as f32)) && (z[2]..=z[3]).contains(&r.centroid))
    }

    /// Cost of taking run `r` in column `x`, whatever the path does around it.
    fn unary(&self, x: usize, r: &Run) -> f32 {
        let o = self.o;
        let b = self.runs.components[r.component as usize];
        // Small blobs off the trace are lead labels and other print: the path may cross them
        // only when nothing else is there.
        let glyph = (b.width() as f32) < self.glyph_px && (b.height() as f32) < self.glyph_px;
        o.row_pull_per_mm * (r.centroid - self.row.center_y).abs() / self.px_per_mm_y
            + if glyph {
                o.glyph_cost
            } else if self.in_label(x, r) {
                o.label_zone_cost
            } else {
                0.0
            }
            - o.ink_reward_per_px * r.mass
    }

    /// Whether the path may take run `r` in column `x`: inside the band, or wholly past a
    /// neighbour's centre line inside this row's own steep stroke: a tall run between
    /// columns whose touching runs are tall too, at least one of them crossing the band's
    /// edge, in a blob that reaches this row's centre line. A flat trace never qualifies, so
    /// the path cannot follow the neighbour's trace for want of its own, nor a line of the
    /// page's own that merely ends there.
    fn admits(&self, x: usize, r: &Run) -> bool {
        let (top, bottom) = (self.row.band_top, self.row.band_bottom);
        let below = r.top as f32 > bottom;
        if !below && r.bottom as f32 >= top {
            return true;
        }
        let tall = |q: &Run| q.extent() >= self.o.beyond_stroke_mm * self.px_per_mm_y;
        let blob = self.runs.components[r.component as usize];
        let centre = self.row.center_y;
        if !tall(r) || (blob.y_min as f32) > centre || (blob.y_max as f32) < centre {
            return false;
        }
        let edge = if below { bottom } else { top };
        let crosses = |q: &Run| q.top as f32 <= edge && q.bottom as f32 >= edge;
        let side = |c: usize| {
            let col = self.runs.columns.get(c).map_or(&[][..], Vec::as_slice);
            let touching = || col.iter().filter(|q| q.gap_to(r) == 0);
            (
                touching().any(crosses),
                touching().any(|q| crosses(q) || tall(q)),
            )
        };
        let (left, right) = (side(x.wrapping_sub(1)), side(x + 1));
        (left.0 || right.0) && left.1 && right.1
    }

    /// Whether a path from column `j` to column `i` crosses a panel boundary into a new lead.
    fn new_lead(&self, j: usize, i: usize) -> bool {
        self.boundaries_before[i + 1] > self.boundaries_before[j + 1]
    }

    /// Cost of moving from step `a`, `g` columns back (within the bridge), into a run whose
    /// centreline spans `lo..=hi`, leaving at its top or bottom; `new_lead` when the move
    /// crosses a panel boundary. Returns the cost (without the unary) and where the path
    /// enters the run.
    fn link(
        &self,
        a: &Step,
        (lo, hi): (f32, f32),
        g: usize,
        new_lead: bool,
        exit_top: bool,
    ) -> (f32, f32) {
        let o = self.o;
        let (alo, ahi) = centreline(&a.run);
        let from = if a.exit_top { alo } else { ahi };
        // Across a boundary the new lead's trace owes nothing to the last one's height: it
        // enters fresh, at the far end.
        let fresh = if exit_top { hi } else { lo };
        let entry = if new_lead { fresh } else { from.clamp(lo, hi) };
        let gap = if new_lead {
            0.0
        } else {
            ((from - entry).abs() - 1.0).max(0.0)
        };
        let extra = if exit_top { hi - entry } else { entry - lo };
        let c =
            o.missing_cost * (g - 1) as f32 + o.gap_cost_per_px * gap + o.turn_cost_per_px * extra;
        (c, entry)
    }
}

/// The Viterbi path of one row: the step taken in each column from `xa` to `xb`.
///
/// States are (run, exit end). Entering a run from the previous exit costs the vertical gap;
/// crossing it costs the travel beyond its own extent, so a tall run is read as a monotone
/// stroke unless the path really turns inside it (a peak). Runs in `foreign` (per column) are
/// not taken.
#[allow(clippy::too_many_arguments)]
fn follow_row(
    runs: &ColumnRuns,
    row: &Row,
    pulse_end: Option<f32>,
    xa: usize,
    xb: usize,
    px_per_mm_y: f32,
    o: &TraceOptions,
    foreign: &[Vec<Run>],
) -> Vec<Option<Step>> {
    let n = xb - xa + 1;
    let debug_x = debug::candidates_column(row.center_y);
    let costs = RowCosts::new(runs, row, xa, n, px_per_mm_y, o);
    let (max_len, bridge) = (costs.max_len, costs.bridge);
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
        let in_band = || {
            runs.in_band(x, costs.reach.0, costs.reach.1)
                .filter(|r| costs.admits(x, r))
                .copied()
        };
        let visible: Vec<Run> = match mask(row, pulse_end, x) {
            Mask::Open => in_band().collect(),
            Mask::Pulse => Vec::new(),
            // Only ink that runs out of the bar: beside a bar stands its lead's label.
            // A label under a bar can touch it: its top is no QRS overshooting the bar.
            Mask::Separator { top, bottom } => in_band()
                .filter(|r| r.top as f32 <= bottom && r.bottom as f32 >= top)
                .flat_map(|r| clear_of_bar(r, top, bottom, o.bar_overshoot_mm * px_per_mm_y))
                .filter(|r| !costs.in_label(x, r))
                .collect(),
        };
        {
            // Bounded work per column whatever the page holds (noise, solid ink): the
            // heaviest runs are the trace's candidates.
            let mut cands: Vec<&Run> = visible
                .iter()
                .filter(|r| r.mass >= o.min_mass && r.len() <= max_len)
                .filter(|r| foreign.get(i).is_none_or(|f| !f.contains(r)))
                .collect();
            if cands.len() > o.max_candidates {
                cands.sort_by(|a, b| b.mass.total_cmp(&a.mass));
                cands.truncate(o.max_candidates);
            }
            for r in cands {
                let u = costs.unary(x, r);
                let (lo, hi) = centreline(r);
                for exit_top in [true, false] {
                    // Fresh starts enter at the far end, so a lone run is a plain stroke.
                    let fresh = Step {
                        run: *r,
                        entry: if exit_top { hi } else { lo },
                        exit_top,
                    };
                    let mut best = Cand {
                        step: fresh,
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
                        let new_lead = costs.new_lead(j, i);
                        for (k, a) in cols[j].iter().enumerate() {
                            let (link, entry) =
                                costs.link(&a.step, (lo, hi), g, new_lead, exit_top);
                            let c = a.cost + link + u;
                            if c < best.cost {
                                best.cost = c;
                                best.back = Back::From(j, k);
                                best.step.entry = entry;
                            }
                        }
                    }
                    here.push(best);
                }
            }
        }
        if debug_x.is_some_and(|v| v.abs_diff(x) < 8) {
            debug::candidates(x, xa, runs, &here);
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
    let mut chosen: Vec<Option<Step>> = vec![None; n];
    let mut at = end.map(|e| (e.1, e.2));
    while let Some((j, k)) = at {
        let c = cols[j][k];
        chosen[j] = Some(c.step);
        at = match c.back {
            Back::Start => None,
            Back::From(pj, pk) => Some((pj, pk)),
        };
    }
    chosen
}

/// Where a short chosen run sits between two tall ones (a QRS), joins to it the other runs
/// of its column whose gap from it the neighbours' runs ink across. Where a grid line crossed
/// a QRS, removing the line can leave one column of the stroke cut in two; the path then
/// takes one piece (often a stub of the line beside the stroke), the column reads as flat,
/// and the peak is notched. Only a short run between tall ones: at 100 DPI, joining every
/// such gap also joined ink that was not the stroke's.
fn bridge_split_columns(chosen: &mut [Option<Step>], runs: &ColumnRuns, xa: usize, thickness: f32) {
    let n = chosen.len();
    let tall = |k: usize| chosen[k].is_some_and(|s| is_tall(&s.run, thickness));
    let spans =
        |k: usize, a: u32, b: u32| chosen[k].is_some_and(|s| s.run.top <= a && b <= s.run.bottom);
    let mut joined: Vec<(usize, Run)> = Vec::new();
    for (k, c) in chosen.iter().enumerate().take(n.saturating_sub(1)).skip(1) {
        let Some(step) = *c else { continue };
        if tall(k) || !(tall(k - 1) && tall(k + 1)) {
            continue;
        }
        let Some(column) = runs.columns.get(xa + k) else {
            continue;
        };
        let mut run = step.run;
        // Outward from the chosen run, one side then the other, while the gaps are inked.
        for up in [true, false] {
            let mut others: Vec<&Run> = column
                .iter()
                .filter(|r| {
                    if up {
                        r.bottom < run.top
                    } else {
                        r.top > run.bottom
                    }
                })
                .collect();
            if up {
                others.reverse();
            }
            for r in others {
                let (a, b) = if up {
                    (r.bottom + 1, run.top - 1)
                } else {
                    (run.bottom + 1, r.top - 1)
                };
                if !(spans(k - 1, a, b) && spans(k + 1, a, b)) {
                    break;
                }
                run = merged(&run, r);
            }
        }
        if run != step.run {
            joined.push((k, run));
        }
    }
    for (k, run) in joined {
        if let Some(s) = chosen[k].as_mut() {
            s.run = run;
        }
    }
}

/// One run covering `a`, `b` and the gap between them.
fn merged(a: &Run, b: &Run) -> Run {
    let (upper, lower) = if a.top <= b.top { (a, b) } else { (b, a) };
    let mass = a.mass + b.mass;
    Run {
        top: upper.top,
        bottom: upper.bottom.max(lower.bottom),
        mass,
        centroid: if mass > 0.0 {
            (a.centroid * a.mass + b.centroid * b.mass) / mass
        } else {
            (a.centroid + b.centroid) / 2.0
        },
        top_edge: upper.top_edge,
        bottom_edge: upper.bottom_edge.max(lower.bottom_edge),
        component: a.component,
    }
}

/// Removes tall runs that interrupt a flat stretch: another row's steep stroke crossing this
/// trace. A trace's own QRS climbs through several tall columns; a crossing stroke is a
/// tall blip of at most `max_width` columns between two short runs at the same height,
/// reaching past the midline towards a neighbouring row.
fn drop_crossings(chosen: &mut [Option<Step>], row: &Row, thickness: f32, max_width: usize) {
    let short = |r: &Run| r.extent() <= thickness + 2.0;
    // A foreign stroke comes from beyond the midline towards a neighbouring row.
    let (mid_top, mid_bottom) = (
        (row.center_y + row.band_top) / 2.0,
        (row.center_y + row.band_bottom) / 2.0,
    );
    let n = chosen.len();
    let mut i = 0;
    while i < n {
        let Some(r) = chosen[i].map(|c| c.run) else {
            i += 1;
            continue;
        };
        if short(&r) {
            i += 1;
            continue;
        }
        // A stretch of tall (or missing) columns starting at i.
        let mut j = i;
        while j < n && chosen[j].is_none_or(|c| !short(&c.run)) {
            j += 1;
        }
        let left = (0..i).rev().take(2).find_map(|k| chosen[k].map(|c| c.run));
        let right = (j..n).take(2).find_map(|k| chosen[k].map(|c| c.run));
        if let (Some(a), Some(b)) = (left, right) {
            let flat = (a.centroid - b.centroid).abs() <= 2.0 * thickness;
            let reach = chosen[i..j]
                .iter()
                .flatten()
                .any(|c| c.run.top_edge < mid_top || c.run.bottom_edge > mid_bottom);
            if j - i <= max_width && flat && reach && short(&a) && short(&b) {
                for c in chosen.iter_mut().take(j).skip(i) {
                    *c = None;
                }
            }
        }
        i = j;
    }
}

/// The row's centreline as sub-pixel points, sorted by x.
///
/// Flat columns give their ink centroid. A stroke steeper than a stroke's width per column
/// is sampled the other way round: on every pixel row it crosses, the ink-weighted horizontal
/// centre of the stroke, which places peaks and steep slopes between column centres. Points
/// from the rounded tip of a peak are pulled in by half a stroke, onto the centreline.
fn centreline_points(
    chosen: &[Option<Step>],
    xa: usize,
    ink: &Plane,
    weight: &impl Fn(f32) -> f32,
    thickness: f32,
) -> Vec<[f32; 2]> {
    let n = chosen.len();
    let tall = |i: usize| chosen[i].is_some_and(|s| is_tall(&s.run, thickness));
    let half = thickness / 2.0;
    // Wider horizontal runs are where the rising and falling strokes of a peak merge: their
    // centre lies between the strokes, on neither.
    let max_width = (thickness + 2.0).ceil() as usize;
    let mut points = Vec::with_capacity(n + n / 4);
    let mut i = 0;
    while i < n {
        let Some(step) = chosen[i] else {
            i += 1;
            continue;
        };
        if !tall(i) {
            points.push([(xa + i) as f32, step.run.centroid]);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < n && tall(j) {
            j += 1;
        }
        // Steep group i..j: scan its pixel rows, one column of margin either side.
        let group_start = points.len();
        let (k0, k1) = (i.saturating_sub(1), (j + 1).min(n));
        let owned =
            |k: usize, r: u32| chosen[k].is_some_and(|s| s.run.top <= r && r <= s.run.bottom);
        let top = (i..j)
            .filter_map(|k| chosen[k])
            .map(|s| s.run.top)
            .min()
            .unwrap_or(0);
        let bottom = (i..j)
            .filter_map(|k| chosen[k])
            .map(|s| s.run.bottom)
            .max()
            .unwrap_or(0);
        // Horizontal runs of this row's ink on every pixel row: (row, left edge, right edge,
        // centroid), edges sub-pixel from the coverage of the end pixels.
        let mut crossings: Vec<(u32, f32, f32, f32)> = Vec::new();
        for r in top..=bottom {
            let mut k = k0;
            while k < k1 {
                if !owned(k, r) {
                    k += 1;
                    continue;
                }
                let start = k;
                while k < k1 && owned(k, r) {
                    k += 1;
                }
                let lo = (xa + start).saturating_sub(1);
                let hi = (xa + k).min(ink.width - 1);
                let w = |x: usize| weight(ink.get(x, r as usize));
                let (mut m, mut mx) = (0f32, 0f32);
                for x in lo..=hi {
                    m += w(x);
                    mx += w(x) * x as f32;
                }
                if m < 0.3 {
                    continue;
                }
                let (first, last) = (xa + start, xa + k - 1);
                let left =
                    first as f32 + 0.5 - (w(first) + if first > lo { w(lo) } else { 0.0 }).min(2.0);
                let right =
                    last as f32 - 0.5 + (w(last) + if hi > last { w(hi) } else { 0.0 }).min(2.0);
                crossings.push((r, left, right.max(left), mx / m));
            }
        }
        // A single stroke's horizontal width, from the runs narrow enough to be one stroke.
        let mut widths: Vec<f32> = crossings
            .iter()
            .map(|c| c.2 - c.1)
            .filter(|&wd| wd <= max_width as f32)
            .collect();
        widths.sort_by(f32::total_cmp);
        let single = widths.get(widths.len() / 2).copied().unwrap_or(thickness);
        // The rows' points, with their row, to be put in the trace's order.
        let mut strokes: Vec<([f32; 2], u32, bool)> = Vec::new();
        let mut push = |x: f32, r: u32, paired: bool| {
            let col = (x.round() as usize).saturating_sub(xa).min(n - 1);
            let mut y = r as f32;
            if let Some(s) = chosen[col] {
                y = y.clamp(
                    s.run.top_edge + half,
                    (s.run.bottom_edge - half).max(s.run.top_edge + half),
                );
            }
            strokes.push(([x, y], r, paired));
        };
        for &(r, left, right, centre) in &crossings {
            let width = right - left;
            if width <= (single + 1.0).min(max_width as f32) {
                push(centre, r, false);
            } else if width <= 2.0 * single + max_width as f32 {
                // The two strokes of a peak, merged on this row: one stroke's width in from
                // either edge.
                let (a, b) = (left + single / 2.0, right - single / 2.0);
                if a < b {
                    push(a, r, true);
                    push(b, r, true);
                }
            }
            // Wider: a shallow stretch, which the column centroids cover.
        }
        let before = points.last().map(|p: &[f32; 2]| p[1]);
        let after = chosen[j..].iter().flatten().next().map(|s| s.run.centroid);
        order_strokes(&mut strokes, before, after);
        points.extend(strokes.iter().map(|s| s.0));
        extremum_points(chosen, xa, i, j, ink, weight, thickness, &mut points);
        // Where the rows gave nothing (e.g. a dense zigzag inks whole rows), fall back to the
        // middle of the column's ink, which a straight stroke crosses at the column centre.
        let mut covered = vec![false; j - i];
        for p in &points[group_start..] {
            let c = p[0].round() as isize - (xa + i) as isize;
            if c >= 0 && (c as usize) < covered.len() {
                covered[c as usize] = true;
            }
        }
        for (c, hit) in covered.into_iter().enumerate() {
            if !hit {
                if let Some(s) = chosen[i + c] {
                    points.push([
                        (xa + i + c) as f32,
                        (s.run.top_edge + s.run.bottom_edge) / 2.0,
                    ]);
                }
            }
        }
        i = j;
    }
    points.sort_by(|a, b| a[0].total_cmp(&b[0]));
    untangle_vertical_runs(&mut points, thickness);
    points
}

/// Puts the points a steep group's pixel rows gave in the order the trace runs through them,
/// by x. Each point comes with its row and whether the row held two strokes (a peak's sides)
/// rather than one. A stroke is a chain of points on consecutive rows less than
/// [`STROKE_LINK_PX`] apart. Time runs on along it, so its x moves one way only: the jitter
/// of the row centres (which, on a stroke a pixel wide, otherwise orders its rows at random)
/// is smoothed by a monotone fit of x against the row, rising or falling, whichever fits
/// closer. Of a stroke too upright to tell, one side of a peak runs toward its end nearer the
/// trace after the group (`after`, a y), else from its end nearer the trace before it
/// (`before`); a lone upright stroke (a bar, a pulse's edge) is left to
/// [`untangle_vertical_runs`].
fn order_strokes(points: &mut [([f32; 2], u32, bool)], before: Option<f32>, after: Option<f32>) {
    points.sort_by(|p, q| p.1.cmp(&q.1).then(p.0[0].total_cmp(&q.0[0])));
    // Chains: each point joins the chain ending nearest it on the row above, if close enough.
    let mut chains: Vec<Vec<usize>> = Vec::new();
    let mut ends: Vec<(u32, f32)> = Vec::new(); // per chain: last row, last x
    for (k, &([x, _], r, _)) in points.iter().enumerate() {
        let best = ends
            .iter()
            .enumerate()
            .filter(|(_, e)| e.0 + 1 == r && (e.1 - x).abs() < STROKE_LINK_PX)
            .min_by(|a, b| (a.1 .1 - x).abs().total_cmp(&(b.1 .1 - x).abs()))
            .map(|(i, _)| i);
        let c = best.unwrap_or_else(|| {
            chains.push(Vec::new());
            ends.push((r, x));
            ends.len() - 1
        });
        chains[c].push(k);
        ends[c] = (r, x);
    }
    // Each point is in one chain, so a chain's points are read before any is moved.
    for idx in &chains {
        if idx.len() < 3 {
            continue;
        }
        let xs: Vec<f32> = idx.iter().map(|&k| points[k].0[0]).collect();
        let rising = monotone_fit(&xs, false);
        let falling = monotone_fit(&xs, true);
        let sse = |f: &[f32]| {
            xs.iter()
                .zip(f)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
        };
        let span = |f: &[f32]| (f[f.len() - 1] - f[0]).abs();
        // x rising with the row: the stroke runs down (time runs with the rows).
        let down = if span(&rising).max(span(&falling)) >= VERTICAL_SPAN_PX {
            sse(&rising) <= sse(&falling)
        } else if idx.iter().filter(|&&k| points[k].2).count() * 2 < idx.len() {
            continue;
        } else {
            // Upright: toward the end nearer the trace after the group.
            let (top, bottom) = (points[idx[0]].0[1], points[idx[idx.len() - 1]].0[1]);
            let nearer_top = |y: f32| (y - top).abs() < (y - bottom).abs();
            match (before, after) {
                (_, Some(a)) => !nearer_top(a),
                (Some(b), None) => nearer_top(b),
                _ => true,
            }
        };
        let mut fit = if down { rising } else { falling };
        // Ties (a stroke straight down the column) spread a little, in the stroke's order.
        let n = fit.len();
        let spread = TIE_SPREAD_PX.min(MAX_TIE_SPREAD_PX / n as f32);
        let order: Vec<usize> = if down {
            (0..n).collect()
        } else {
            (0..n).rev().collect()
        };
        for w in 1..n {
            let (p, q) = (order[w - 1], order[w]);
            fit[q] = fit[q].max(fit[p] + spread);
        }
        for (&k, x) in idx.iter().zip(fit) {
            points[k].0[0] = x;
        }
    }
}

/// Points on consecutive rows closer than this (pixels) are one stroke's.
const STROKE_LINK_PX: f32 = 1.5;
/// A stroke whose fitted x moves less than this (pixels) is too vertical to tell its
/// direction from its own points.
const VERTICAL_SPAN_PX: f32 = 0.5;
/// Points of a stroke that share one x are spread this far apart (pixels), in its order.
const TIE_SPREAD_PX: f32 = 0.02;
/// ... and at most this far in all.
const MAX_TIE_SPREAD_PX: f32 = 0.4;

/// Least-squares monotone fit of `xs` in their order (pool adjacent violators), rising or,
/// if `falling`, falling; each pooled block's value is then interpolated linearly between
/// the block centres, so the fit is smooth where it can be.
fn monotone_fit(xs: &[f32], falling: bool) -> Vec<f32> {
    let sign = if falling { -1.0 } else { 1.0 };
    // Blocks of (sum, count, first index).
    let mut blocks: Vec<(f32, usize, usize)> = Vec::new();
    for (k, &x) in xs.iter().enumerate() {
        blocks.push((sign * x, 1, k));
        while blocks.len() >= 2 {
            let (b, a) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
            if a.0 / a.1 as f32 <= b.0 / b.1 as f32 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (a.0 + b.0, a.1 + b.1, a.2);
        }
    }
    // Block centres (index) and values.
    let centres: Vec<(f32, f32)> = blocks
        .iter()
        .map(|&(sum, count, first)| {
            (
                first as f32 + (count - 1) as f32 / 2.0,
                sign * sum / count as f32,
            )
        })
        .collect();
    (0..xs.len())
        .map(|k| {
            let t = k as f32;
            let m = centres.partition_point(|c| c.0 <= t);
            match (m.checked_sub(1).map(|i| centres[i]), centres.get(m)) {
                (Some(a), Some(b)) => a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0),
                (Some(a), None) => a.1,
                (None, Some(b)) => b.1,
                (None, None) => xs[k],
            }
        })
        .collect()
}

/// Orders points that share (almost) one x. Where a peak's strokes merge, every pixel row
/// gives one point at the same x: only the tip is right there, so the rest go. On a truly
/// vertical stroke the points are kept, ordered in the stroke's direction.
fn untangle_vertical_runs(points: &mut Vec<[f32; 2]>, thickness: f32) {
    let mut out: Vec<[f32; 2]> = Vec::with_capacity(points.len());
    let mut i = 0;
    while i < points.len() {
        let mut j = i + 1;
        while j < points.len() && points[j][0] - points[i][0] < 0.5 {
            j += 1;
        }
        let cluster = &mut points[i..j];
        let (lo, hi) = cluster
            .iter()
            .fold((f32::MAX, f32::MIN), |a, p| (a.0.min(p[1]), a.1.max(p[1])));
        if cluster.len() < 3 || hi - lo <= 2.0 * thickness {
            out.extend_from_slice(cluster);
            i = j;
            continue;
        }
        let before = out.last().map(|p| p[1]);
        let after = points.get(j).map(|p| p[1]);
        let cluster = &mut points[i..j];
        let mid = (lo + hi) / 2.0;
        let side = |v: Option<f32>| v.map(|v| v > mid);
        match (side(before), side(after)) {
            // Both neighbours below the cluster's middle: a peak; both above: a trough.
            (Some(true), Some(true)) => {
                out.push(*cluster.iter().min_by(|a, b| a[1].total_cmp(&b[1])).unwrap())
            }
            (Some(false), Some(false)) => {
                out.push(*cluster.iter().max_by(|a, b| a[1].total_cmp(&b[1])).unwrap())
            }
            (b, _) => {
                // Monotone: from the side the trace comes from.
                let descending = b == Some(false);
                cluster.sort_by(|p, q| {
                    if descending {
                        p[1].total_cmp(&q[1])
                    } else {
                        q[1].total_cmp(&p[1])
                    }
                });
                let x = cluster.iter().map(|p| p[0]).sum::<f32>() / cluster.len() as f32;
                let n = cluster.len() as f32;
                for (k, p) in cluster.iter().enumerate() {
                    // Spread them across the cluster's width so x stays increasing.
                    out.push([x - 0.2 + 0.4 * k as f32 / n, p[1]]);
                }
            }
        }
        i = j;
    }
    *points = out;
}

/// Adds the tips of the peaks and troughs in the steep group `i..j`. A column whose run reaches
/// further than its neighbours within three columns, which themselves fall back by more than
/// a stroke, holds a tip; the tip's x is the ink centre of its outermost half stroke of rows.
#[allow(clippy::too_many_arguments)]
fn extremum_points(
    chosen: &[Option<Step>],
    xa: usize,
    i: usize,
    j: usize,
    ink: &Plane,
    weight: &impl Fn(f32) -> f32,
    thickness: f32,
    points: &mut Vec<[f32; 2]>,
) {
    let half = thickness / 2.0;
    for top in [true, false] {
        for k in i..j {
            let k = k as isize;
            let Some(e) = outer_edge(chosen, k, top) else {
                continue;
            };
            let falls = |m: isize| outer_edge(chosen, m, top).is_some_and(|v| v - e > thickness);
            if !(reaches_furthest(chosen, k, top, 3) && falls(k - 3) && falls(k + 3)) {
                continue;
            }
            // The tip's rows: from the outer edge inwards by half a stroke.
            let r_tip = if top { e } else { -e };
            let (ya, yb) = if top {
                (r_tip, r_tip + half)
            } else {
                (r_tip - half, r_tip)
            };
            let (mut m, mut mx) = (0f32, 0f32);
            let x_lo = (xa + k as usize).saturating_sub(2);
            let x_hi = (xa + k as usize + 2).min(ink.width - 1);
            for y in (ya.floor().max(0.0) as usize)..=(yb.ceil() as usize).min(ink.height - 1) {
                for x in x_lo..=x_hi {
                    let w = weight(ink.get(x, y));
                    m += w;
                    mx += w * x as f32;
                }
            }
            if m > 0.3 {
                let y = if top { r_tip + half } else { r_tip - half };
                points.push([mx / m, y]);
            }
        }
    }
}

/// Column `k`'s run end on its `top` side, signed so that further out is always smaller.
fn outer_edge(chosen: &[Option<Step>], k: isize, top: bool) -> Option<f32> {
    let s = chosen.get(usize::try_from(k).ok()?).copied().flatten()?;
    Some(if top {
        s.run.top_edge
    } else {
        -s.run.bottom_edge
    })
}

/// Whether column `k`'s run reaches further out on its `top` side than every run within
/// `reach` columns (ties go to the leftmost): a peak's or a trough's tip.
fn reaches_furthest(chosen: &[Option<Step>], k: isize, top: bool, reach: isize) -> bool {
    let Some(e) = outer_edge(chosen, k, top) else {
        return false;
    };
    (k - reach..=k + reach)
        .filter(|&m| m != k)
        .all(|m| outer_edge(chosen, m, top).is_none_or(|v| v > e || (v == e && m > k)))
}

/// Lengthens the runs at the tips of peaks and troughs into faint ink beyond them.
///
/// A QRS tip is the thinnest part of the trace: on a coarse or noisy scan its last pixels
/// are lighter than the threshold that cut the runs, and the peak would read short. Beyond
/// a tip column's end, ink that stays above `tip_weight` (with single-pixel gaps bridged)
/// and within the row's band still belongs to the tip, up to `max_tip_extension_mm`.
#[allow(clippy::too_many_arguments)]
fn extend_tips(
    chosen: &mut [Option<Step>],
    xa: usize,
    ink: &Plane,
    weight: &impl Fn(f32) -> f32,
    row: &Row,
    thickness: f32,
    px_per_mm_y: f32,
    o: &TraceOptions,
) {
    if o.tip_weight >= 1.0 {
        return;
    }
    let n = chosen.len();
    let max_px = (o.max_tip_extension_mm * px_per_mm_y).round() as i64;
    // The tip may lean into a neighbouring column, where a pixel is narrow enough that the
    // other side of a narrow peak is further away than that.
    let lean = usize::from(px_per_mm_y >= o.tip_lean_px_per_mm);
    let mut grow = Vec::new();
    for top in [true, false] {
        for k in 0..n {
            let Some(s) = chosen[k] else { continue };
            if !is_tall(&s.run, thickness) {
                continue;
            }
            if !reaches_furthest(chosen, k as isize, top, 3) {
                continue;
            }
            let x = xa + k;
            let (step, start) = if top {
                (-1i64, s.run.top as i64)
            } else {
                (1i64, s.run.bottom as i64)
            };
            let (lo, hi) = (row.band_top as i64, row.band_bottom as i64);
            let mut last = start;
            let mut gap = 0;
            let mut y = start + step;
            while (y - start).abs() <= max_px
                && y >= lo.max(0)
                && y <= hi.min(ink.height as i64 - 1)
            {
                let w = (x.saturating_sub(lean)..=(x + lean).min(ink.width - 1))
                    .map(|xx| weight(ink.get(xx, y as usize)))
                    .fold(0f32, f32::max);
                if w >= o.tip_weight {
                    last = y;
                    gap = 0;
                } else {
                    gap += 1;
                    if gap > 1 {
                        break;
                    }
                }
                y += step;
            }
            if last != start {
                grow.push((k, top, last));
            }
        }
    }
    for (k, top, last) in grow {
        if let Some(s) = chosen[k].as_mut() {
            if top {
                s.run.top = last as u32;
                s.run.top_edge = last as f32 - 0.5;
            } else {
                s.run.bottom = last as u32;
                s.run.bottom_edge = last as f32 + 0.5;
            }
        }
    }
}

/// Whether a column's run is taller than a stroke of `thickness` crossing it flat: a steep
/// stroke (a QRS), not a flat stretch.
fn is_tall(run: &Run, thickness: f32) -> bool {
    run.extent() > thickness + 1.5
}

/// Median extent of the short runs: the stroke's thickness on flat stretches.
fn typical_thickness(chosen: &[Option<Step>]) -> f32 {
    let mut lens: Vec<u32> = chosen.iter().flatten().map(|c| c.run.len()).collect();
    if lens.is_empty() {
        return 2.0;
    }
    lens.sort_unstable();
    let short = lens[lens.len() / 2] + 1;
    let mut extents: Vec<f32> = chosen
        .iter()
        .flatten()
        .filter(|c| c.run.len() <= short)
        .map(|c| c.run.extent())
        .collect();
    extents.sort_by(f32::total_cmp);
    extents[extents.len() / 2].max(0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(points: Vec<[f32; 2]>) -> RowTrace {
        RowTrace {
            x_from: 0,
            ys: Vec::new(),
            points,
            thickness_px: 2.0,
        }
    }

    fn run(top: u32, bottom: u32) -> Run {
        Run {
            top,
            bottom,
            mass: (bottom - top + 1) as f32,
            centroid: (top + bottom) as f32 / 2.0 + 0.5,
            top_edge: top as f32,
            bottom_edge: bottom as f32 + 1.0,
            component: 0,
        }
    }

    #[test]
    fn a_qrs_column_cut_in_two_is_joined_when_its_neighbours_ink_the_gap() {
        // Column 1 of a spike (rows 10-40 either side) lost rows 31-34 with a grid line; the
        // path took the stub below the cut. Column 4's stub has no inked neighbours.
        let step = |r: Run| {
            Some(Step {
                run: r,
                entry: r.bottom as f32,
                exit_top: true,
            })
        };
        let columns = vec![
            vec![run(10, 40)],
            vec![run(10, 30), run(35, 36)],
            vec![run(9, 41)],
            vec![run(38, 40)],
            vec![run(10, 30), run(35, 36)],
            vec![run(38, 40)],
        ];
        let mut chosen: Vec<Option<Step>> = vec![
            columns[0][0],
            columns[1][1],
            columns[2][0],
            columns[3][0],
            columns[4][1],
            columns[5][0],
        ]
        .into_iter()
        .map(step)
        .collect();
        let runs = ColumnRuns {
            columns,
            height: 50,
            components: Vec::new(),
        };
        bridge_split_columns(&mut chosen, &runs, 0, 3.0);
        let got = |k: usize| chosen[k].map(|s| (s.run.top, s.run.bottom));
        assert_eq!(got(1), Some((10, 36)));
        assert_eq!(got(4), Some((35, 36)));
    }

    #[test]
    fn hidden_start_heading_to_rest_is_extrapolated_and_stops_at_rest() {
        // Visible from x = 10 on, rising 4 px per column towards rest at y = 100 going left.
        let t = trace(
            (10..20)
                .map(|x| [x as f32, 60.0 + 4.0 * (x - 10) as f32])
                .collect(),
        );
        // A stroke that climbs away from rest going right came from rest: one column out
        // the slope still holds, further out it stops at rest.
        assert_eq!(t.y_filled(9.0, 0.0, 30.0, 40.0), Some(56.0));
        assert_eq!(t.y_filled(0.0, 0.0, 30.0, 40.0), Some(40.0));
        // Rest beyond the other side: the edge is held, not pushed away from rest.
        assert_eq!(t.y_filled(5.0, 0.0, 30.0, 100.0), Some(60.0));
        // Inside the visible part it is plain interpolation.
        assert_eq!(t.y_filled(12.5, 0.0, 30.0, 40.0), t.y_at(12.5, 0.0, 30.0));
    }

    #[test]
    fn hidden_end_is_filled_from_the_last_points() {
        let t = trace((0..10).map(|x| [x as f32, 50.0 - 2.0 * x as f32]).collect());
        // Falling 2 px per column towards rest at y = 20: extrapolated, then held at rest.
        assert_eq!(t.y_filled(10.0, 0.0, 30.0, 20.0), Some(30.0));
        assert_eq!(t.y_filled(25.0, 0.0, 30.0, 20.0), Some(20.0));
        // A panel's range excludes its neighbour's points: filled from its own last point.
        assert_eq!(t.y_filled(8.0, 0.0, 5.0, 0.0), Some(34.0));
    }

    #[test]
    fn a_peak_reaches_into_the_faint_ink_of_its_tip() {
        // A peak at column 5 whose run stops at row 20, with its tip's last pixels (rows
        // 15..20) too light for the run threshold; the flanks fall away either side.
        let mut ink = Plane::new(11, 100, 0.0);
        for y in 15..20 {
            ink.set(5, y, 0.5);
        }
        let tops = [60, 58, 50, 40, 30, 20, 30, 40, 50, 58, 60];
        let peak = || -> Vec<Option<Step>> {
            tops.iter()
                .map(|&t| {
                    Some(Step {
                        run: run(t, 62),
                        entry: 61.0,
                        exit_top: false,
                    })
                })
                .collect()
        };
        let mut chosen = peak();
        let row = Row {
            center_y: 60.0,
            band_top: 0.0,
            band_bottom: 99.0,
            x_start: 0.0,
            x_end: 11.0,
            pulse: None,
            end_pulse: None,
            separators: vec![],
            label_zones: vec![],
        };
        let o = TraceOptions::default();
        extend_tips(&mut chosen, 0, &ink, &|v: f32| v, &row, 2.0, 8.0, &o);
        assert_eq!(chosen[5].unwrap().run.top, 15);
        assert_eq!(chosen[4].unwrap().run.top, 30, "only the tip grows");
        // Not beyond the longest extension: 1.5 mm at 2 px/mm is 3 px.
        let mut again = peak();
        extend_tips(&mut again, 0, &ink, &|v: f32| v, &row, 2.0, 2.0, &o);
        assert_eq!(again[5].unwrap().run.top, 17);
    }

    /// Ink of polylines two pixels thick, sampled densely.
    fn draw(ink: &mut Plane, lines: &[&[(f32, f32)]]) {
        for line in lines {
            for w in line.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                for k in 0..=400 {
                    let t = k as f32 / 400.0;
                    let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
                    let (x, y) = (x.round() as usize, y.round() as usize);
                    ink.set(x, y, 1.0);
                    ink.set(x, y + 1, 1.0);
                }
            }
        }
    }

    fn row_at(center_y: f32, band_top: f32, band_bottom: f32) -> Row {
        Row {
            center_y,
            band_top,
            band_bottom,
            x_start: 0.0,
            x_end: 59.0,
            pulse: None,
            end_pulse: None,
            separators: vec![],
            label_zones: vec![],
        }
    }

    #[test]
    fn a_deep_stroke_reaches_past_the_next_rows_trace() {
        // Rows at y = 100 and 200 (each band ends at the other's centre line). The upper
        // row's S wave plunges through the lower row's flat trace to y = 230.
        let mut ink = Plane::new(60, 300, 0.0);
        draw(
            &mut ink,
            &[
                &[
                    (0.0, 100.0),
                    (20.0, 100.0),
                    (23.0, 230.0),
                    (26.0, 100.0),
                    (59.0, 100.0),
                ],
                &[(0.0, 200.0), (59.0, 200.0)],
                // A line of the page's own, crossing the band's edge but joined to no trace.
                &[(40.0, 185.0), (48.0, 290.0)],
            ],
        );
        let runs = ColumnRuns::build(&ink, 0.5, |v| v);
        let o = TraceOptions::default();
        let upper = row_at(100.0, 0.0, 200.0);
        let path = follow_row(&runs, &upper, None, 0, 59, 8.0, &o, &[]);
        let tip = path[23].expect("the tip column is on the path").run;
        assert!(tip.bottom >= 228, "the tip is read to its end: {tip:?}");
        assert!(
            path[30].is_some_and(|s| s.run.bottom < 110),
            "back on its own trace"
        );
        let costs = RowCosts::new(&runs, &upper, 0, 60, 8.0, &o);
        let past = |x: usize| {
            runs.columns[x]
                .iter()
                .filter(|r| r.top as f32 > 200.0)
                .copied()
                .collect::<Vec<_>>()
        };
        assert!(past(23).iter().any(|r| costs.admits(23, r)));
        assert!(
            (43..48).all(|x| past(x).iter().all(|r| !costs.admits(x, r))),
            "the unjoined line stays out"
        );
        // The lower row's own trace stays flat: it does not take the upper row's tip.
        let lower = row_at(200.0, 100.0, 299.0);
        let path = follow_row(&runs, &lower, None, 0, 59, 8.0, &o, &[]);
        assert!(path[10].is_some_and(|s| s.run.top >= 199));
    }

    #[test]
    fn where_the_page_prints_a_label_the_path_keeps_to_the_thinner_trace() {
        // A row at y = 100 whose panel starts at column 0 (after a separator: the path may
        // start anywhere). Its label, 45 px below, is a heavier blob of ink than the trace,
        // and touches the trace's S wave at column 29.
        let mut ink = Plane::new(60, 200, 0.0);
        draw(
            &mut ink,
            &[&[
                (0.0, 100.0),
                (27.0, 100.0),
                (29.0, 150.0),
                (31.0, 100.0),
                (59.0, 100.0),
            ]],
        );
        for x in 0..=29 {
            for y in 136..=153 {
                ink.set(x, y, 1.0);
            }
        }
        let runs = ColumnRuns::build(&ink, 0.5, |v| v);
        let o = TraceOptions::default();
        let mut row = row_at(100.0, 0.0, 199.0);
        let on_trace = |row: &Row| {
            let path = follow_row(&runs, row, None, 0, 59, 8.0, &o, &[]);
            (8..24).all(|x| path[x].is_some_and(|s| s.run.bottom < 110))
        };
        assert!(
            !on_trace(&row),
            "unless told, the label's ink outweighs the trace's"
        );
        row.label_zones = vec![[0.0, 32.0, 130.0, 160.0]];
        assert!(on_trace(&row));
    }

    #[test]
    fn a_path_that_strayed_for_want_of_its_own_ink_is_searched_again_without_it() {
        // Rows at y = 100 and 200. The lower row's trace is lost over columns 60..100 (it lay
        // along a grid line), then goes on in pieces a few columns apart; from column 40 on,
        // the upper row's trace runs through the lower row's band at y = 112.
        let mut ink = Plane::new(240, 300, 0.0);
        draw(
            &mut ink,
            &[
                &[(40.0, 112.0), (239.0, 112.0)],
                &[(0.0, 200.0), (59.0, 200.0)],
                &[(100.0, 200.0), (149.0, 200.0)],
                &[(154.0, 200.0), (199.0, 200.0)],
                &[(204.0, 200.0), (239.0, 200.0)],
            ],
        );
        let runs = ColumnRuns::build(&ink, 0.5, |v| v);
        let o = TraceOptions::default();
        let mut lower = row_at(200.0, 100.0, 299.0);
        lower.x_end = 239.0;
        let centres = [100.0, 200.0];
        let search =
            |foreign: &[Vec<Run>]| follow_row(&runs, &lower, None, 0, 239, 8.0, &o, foreign);
        let drop = |p: &mut [Option<Step>]| drop_foreign(p, 1, &centres, 20, o.max_stray, 8.0);
        let found = search(&[]);
        let own = |p: &[Option<Step>], x: usize| p[x].is_some_and(|s| s.run.top >= 195);
        // Its pieces cost more than the other row's unbroken trace, which it takes instead,
        // and which is then dropped, with the pieces lost under it.
        assert!(own(&found, 20));
        assert!(
            found[120].is_some_and(|s| s.run.bottom < 120),
            "{:?}",
            found[120]
        );
        let once = own_path(found.clone(), search, drop, 0);
        assert!(once[120].is_none() && once[220].is_none());
        let path = own_path(found, search, drop, o.foreign_searches);
        for x in [20, 120, 170, 220] {
            assert!(own(&path, x), "column {x}: {:?}", path[x]);
        }
        assert!(
            path.iter().flatten().all(|s| s.run.top >= 195),
            "no foreign ink left"
        );
    }

    #[test]
    fn only_ink_reaching_well_beyond_a_bar_is_kept() {
        // A bar over rows 50..=80 merged with a stroke running down to row 95.
        let parts: Vec<Run> = clear_of_bar(run(50, 95), 50.0, 80.0, 4.0).collect();
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].top, parts[0].bottom), (82, 95));
        assert!(parts[0].mass < 15.0 && parts[0].centroid > 82.0);
        // The bar's own blurred ends are not trace.
        assert_eq!(clear_of_bar(run(48, 82), 50.0, 80.0, 4.0).count(), 0);
        // Overshooting both ends gives both parts.
        let both: Vec<(u32, u32)> = clear_of_bar(run(30, 99), 50.0, 80.0, 4.0)
            .map(|r| (r.top, r.bottom))
            .collect();
        assert_eq!(both, vec![(30, 48), (82, 99)]);
    }

    #[test]
    fn a_shared_stroke_belongs_to_the_row_whose_path_leads_into_it() {
        // The upper row's deep S wave (baseline near 100) runs down to the lower row's
        // baseline near 300: tall runs lead into the two shared columns. Both paths turn
        // there, the upper at the tip, the lower reading the stroke as its own R wave.
        let mut paths = vec![
            vec![
                step(98, 104, 101.0, false),
                step(100, 250, 101.0, false),
                step(180, 302, 181.0, true),
                step(240, 302, 241.0, true),
                step(150, 290, 289.0, true),
                step(98, 104, 101.0, false),
            ],
            vec![
                step(296, 304, 300.0, false),
                step(290, 300, 299.0, true),
                step(180, 302, 301.0, true),
                step(240, 302, 301.0, true),
                step(296, 306, 297.0, false),
                step(296, 304, 300.0, false),
            ],
        ];
        resolve_shared(&mut paths, &[101.0, 300.0], 8);
        assert!(
            paths[0].iter().all(|s| s.is_some()),
            "the owner keeps its stroke"
        );
        assert_eq!(paths[1][2], None);
        assert_eq!(paths[1][3], None);
        assert!(paths[1][1].is_some() && paths[1][4].is_some());
    }

    /// A path step on run `top..=bottom`, entered at `entry`, left at its top or bottom.
    fn step(top: u32, bottom: u32, entry: f32, exit_top: bool) -> Option<Step> {
        Some(Step {
            run: run(top, bottom),
            entry,
            exit_top,
        })
    }

    /// A level stretch's step at `y`.
    fn level(y: u32) -> Option<Step> {
        step(y - 1, y + 1, y as f32, false)
    }

    #[test]
    fn a_long_level_stretch_belongs_to_the_row_it_lies_on() {
        // The lower row's path climbs its R wave (a tall run) onto the upper row's level
        // trace and follows it for 12 columns: that stretch is the upper row's.
        let mut lower: Vec<Option<Step>> = vec![level(300); 4];
        lower.push(step(100, 300, 300.0, true));
        lower.extend(vec![level(101); 12]);
        lower.extend(vec![level(300); 4]);
        let upper: Vec<Option<Step>> = vec![level(101); lower.len()];
        let mut paths = vec![upper, lower];
        resolve_shared(&mut paths, &[101.0, 300.0], 8);
        assert!(
            paths[0].iter().all(|s| s.is_some()),
            "the upper row keeps its trace"
        );
        assert!(paths[1][5..17].iter().all(|s| s.is_none()));
    }

    #[test]
    fn a_path_that_jumps_onto_something_else_loses_that_stretch() {
        let stray = TraceOptions::default().max_stray;
        // Row at 300 (the other at 100): the path jumps up to 150 for 30 columns and back.
        let mut path: Vec<Option<Step>> = vec![level(300); 10];
        path.extend(vec![level(150); 30]);
        path.extend(vec![level(300); 10]);
        let reached = path.clone();
        drop_foreign(&mut path, 0, &[300.0, 100.0], 20, stray, 16.0);
        assert!(path[10..40].iter().all(|s| s.is_none()));
        assert!(path[..10].iter().chain(&path[40..]).all(|s| s.is_some()));
        // Too brief a stray is a stroke and stays.
        let mut brief = reached.clone();
        drop_foreign(&mut brief, 0, &[300.0, 100.0], 40, stray, 16.0);
        assert_eq!(brief, reached);
        // A tall wave the trace's own stroke leads up to stays too.
        let mut wave: Vec<Option<Step>> = vec![level(300); 10];
        wave.push(step(150, 300, 300.0, true));
        wave.extend(vec![level(150); 30]);
        wave.push(step(150, 300, 150.0, false));
        wave.extend(vec![level(300); 10]);
        let before = wave.clone();
        drop_foreign(&mut wave, 0, &[300.0, 100.0], 20, stray, 16.0);
        assert_eq!(wave, before);
        // A trace erased for a stretch (a photo's grid taken out with it) and the path gone
        // a quarter of the way to the next row, onto a crease's shadow: dropped too.
        let mut shadow: Vec<Option<Step>> = vec![level(300); 10];
        shadow.extend(vec![None; 5]);
        shadow.extend(vec![level(252); 30]);
        drop_foreign(&mut shadow, 0, &[300.0, 100.0], 20, stray, 16.0);
        assert!(shadow[10..].iter().all(|s| s.is_none()));
    }

    #[test]
    fn the_two_strokes_of_a_narrow_spike_are_put_in_the_traces_order() {
        // A spike from row 60 up to row 20 and down again, its rising stroke about column
        // 10.5 and its falling stroke about column 13, drawn a pixel wide: each row's
        // centre jitters by a few tenths of a pixel, more than the strokes lean.
        let jitter = |r: u32| [0.0, 0.3, -0.2, 0.25, -0.3][r as usize % 5];
        let mut points: Vec<([f32; 2], u32, bool)> = Vec::new();
        for r in 20..=60u32 {
            let up = 11.0 - (r - 20) as f32 / 80.0 + jitter(r);
            let down = 12.5 + (r - 20) as f32 / 80.0 - jitter(r + 2);
            points.push(([up, r as f32], r, true));
            points.push(([down, r as f32], r, true));
        }
        let unimodal = |pts: &[([f32; 2], u32, bool)]| {
            let mut p: Vec<[f32; 2]> = pts.iter().map(|p| p.0).collect();
            p.sort_by(|a, b| a[0].total_cmp(&b[0]));
            let tip = p
                .iter()
                .enumerate()
                .min_by(|a, b| a.1[1].total_cmp(&b.1[1]))
                .unwrap()
                .0;
            p.windows(2).enumerate().all(|(k, w)| {
                if k < tip {
                    w[1][1] <= w[0][1]
                } else {
                    w[1][1] >= w[0][1]
                }
            })
        };
        assert!(!unimodal(&points), "the jitter orders the rows at random");
        order_strokes(&mut points, Some(60.0), Some(60.0));
        assert!(unimodal(&points));
        // Each stroke keeps its place: none moved by more than its jitter.
        assert!(points.iter().all(|p| p.0[0] > 10.0 && p.0[0] < 14.0));
    }

    #[test]
    fn a_monotone_fit_pools_what_runs_the_wrong_way() {
        let fit = monotone_fit(&[1.0, 3.0, 2.0, 4.0, 4.0], false);
        // 3 and 2 pool to 2.5 (at index 1.5); between block centres the fit is linear.
        assert_eq!(fit, vec![1.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(monotone_fit(&[1.0, 3.0, 2.0], true), vec![2.0, 2.0, 2.0]);
    }
}
