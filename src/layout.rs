//! Stage 4, layout: find the trace rows, the calibration pulses and column separators,
//! the page's time origin, and which lead is printed where.
//!
//! A trace row is a horizontal band that holds ink in most pixel columns; header text and
//! lead labels do not. Rows are found as peaks of that *coverage*. Each row's first ink is
//! either its calibration pulse (two tall strokes one pulse-width apart) or the trace itself.
//! Short vertical bars with identical extent over several columns are lead separators; they
//! mark column boundaries exactly and fix the time origin.

use crate::error::Error;
use crate::ink::{ColumnRuns, InkView, Run};
use crate::lead::Lead;
use crate::options::LayoutSpec;
use serde::Serialize;

/// Tuning knobs of row, pulse and separator detection (lengths in mm of paper).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutOptions {
    /// Ink within this distance of a candidate row line counts toward its coverage.
    pub row_reach_mm: f32,
    /// A candidate row whose ink barely moves (this percentile of the absolute deviation
    /// under `max_rule_deviation_px`) is a frame line or a ruler, not a trace: a trace
    /// leaves its line for every wave.
    pub rule_deviation_percentile: f32,
    /// See `rule_deviation_percentile`.
    pub max_rule_deviation_px: f32,
    /// Closest spacing of two trace rows.
    pub min_row_gap_mm: f32,
    /// A candidate row line must cover at least this share of the best-covered line.
    pub min_row_coverage: f32,
    /// A trace row covers at least this share of the columns the best-covered trace row
    /// covers (frame lines and rulers, which may cover more, aside). A line of header or
    /// footer text covers less: its words leave gaps, and it rarely spans the page.
    pub min_trace_row_coverage: f32,
    /// A row at the page's top or bottom with no pulse and no separator, while every other
    /// row has one, is header or footer ink when it lies more than this many row spacings
    /// from the next row (see `drop_stray_edge_rows`).
    pub max_stray_row_gap: f32,
    /// A run counts toward a row's coverage and extent when its ink mass reaches this many
    /// pixels of full ink (lone specks of noise weigh less)...
    pub row_run_mass: f32,
    /// ... or this share of the page's median run mass, when that is lower: a thin light
    /// trace, anti-aliased over two pixels, weighs less than a pixel of full ink per column.
    pub row_run_mass_of_median: f32,
    /// Gaps in a row's ink up to this long still belong to one trace.
    pub max_row_gap_mm: f32,
    /// Shortest vertical stroke that can be a pulse edge or a separator.
    pub min_stroke_mm: f32,
    /// Widest separator bar.
    pub max_separator_mm: f32,
    /// Narrowest separator bar.
    pub min_separator_mm: f32,
    /// Separators sit on the baseline: their centre must lie this close to the row's centre.
    pub separator_reach_mm: f32,
    /// Separators sit on column boundaries: at most this far from where the layout puts one.
    pub separator_slack_mm: f32,
    /// A pulse stroke's foot lies this close to the row's centre line.
    pub pulse_foot_reach_mm: f32,
    /// Calibration pulse width range, in seconds of paper time.
    pub pulse_width_s: (f32, f32),
    /// Nominal page duration in seconds, used when there are no separators and the longest
    /// row spans within 15% of it.
    pub nominal_duration_s: f32,
    /// Label reading.
    pub labels: crate::labels::LabelOptions,
    /// A label names a panel when it starts within this many mm before, or twice as many
    /// after, the panel's start.
    pub label_slack_mm: f32,
    /// Labels read at least this well (template distance) vote for a layout.
    pub label_vote_distance: f32,
    /// Labels read at least this well rename a panel against the layout's order.
    pub label_rename_distance: f32,
    /// Labels standing within this many mm of the page's usual label offset from a row
    /// belong to that row.
    pub label_row_tolerance_mm: f32,
    /// Labels standing within this many mm of the page's usual distance from their panels'
    /// starts name those panels; a glyph's advance (about 1.1 mm at 11 pt) is more.
    pub label_column_tolerance_mm: f32,
    /// Labels rename short panels against the layout's order only when at least this many
    /// of them disagree with it.
    pub min_label_disagreements: usize,
    /// Standard width of the 1 mV calibration pulse, in seconds.
    pub pulse_s: f32,
    /// Heights a calibration pulse may have, in mm (1 mV at 5 to 20 mm/mV, with slack).
    pub pulse_height_mm: (f32, f32),
    /// How long after the trace's first sample the pulse's falling edge is drawn, in seconds.
    /// ECG-Image-Kit pads its 0.2 s pulse with two samples at 500 Hz, so its falling edge
    /// lies 3 ms after the trace starts; devices that join pulse and trace put it at 0.
    pub pulse_end_lag_s: f32,
    /// On pages that print calibration pulses, how long before a column boundary its
    /// separator bar is centred, in seconds. ECG-Image-Kit's pulse padding delays the traces
    /// but not the bars by one 500 Hz sample (measured: 0.39 px at 200 DPI on every dev page
    /// with both cues); on its pages without pulses the bars sit on the boundary.
    pub separator_lead_s: f32,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            row_reach_mm: 3.0,
            rule_deviation_percentile: 0.5,
            max_rule_deviation_px: 0.5,
            min_row_gap_mm: 8.0,
            min_row_coverage: 0.35,
            min_trace_row_coverage: 0.55,
            max_stray_row_gap: 1.6,
            row_run_mass: 0.8,
            row_run_mass_of_median: 0.5,
            max_row_gap_mm: 4.0,
            min_stroke_mm: 3.0,
            max_separator_mm: 2.0,
            min_separator_mm: 0.3,
            separator_reach_mm: 4.0,
            separator_slack_mm: 2.0,
            pulse_foot_reach_mm: 5.0,
            pulse_width_s: (0.08, 0.5),
            nominal_duration_s: 10.0,
            labels: Default::default(),
            label_slack_mm: 3.0,
            label_vote_distance: 0.2,
            label_rename_distance: 0.15,
            label_row_tolerance_mm: 2.0,
            label_column_tolerance_mm: 0.6,
            min_label_disagreements: 2,
            pulse_s: 0.2,
            pulse_height_mm: (4.0, 24.0),
            pulse_end_lag_s: 0.003,
            separator_lead_s: 0.002,
        }
    }
}

/// A calibration pulse's bounding geometry, in upright pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PulseBox {
    /// Centre column of the rising edge.
    pub x_rise: f32,
    /// Centre column of the falling edge.
    pub x_fall: f32,
    /// Top of the pulse strokes (first inked row).
    pub y_top: f32,
    /// Bottom of the pulse strokes (last inked row).
    pub y_bottom: f32,
    /// The rising edge touches the image's left border, so it may be cut: the pulse still
    /// gives height and baseline, but not the time origin or the paper speed.
    pub rise_cut: bool,
}

/// A lead separator bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Separator {
    /// First column of the bar.
    pub x_from: usize,
    /// Last column of the bar.
    pub x_to: usize,
    /// Vertical centre of the bar.
    pub y_center: f32,
    /// Top end of the bar (upright pixels).
    pub y_top: f32,
    /// Bottom end of the bar.
    pub y_bottom: f32,
    /// True when the bar was not seen in this row but at the same boundary in another.
    pub borrowed: bool,
}

/// One printed trace row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Typical height of the trace (a first baseline guess), upright pixels.
    pub center_y: f32,
    /// Upper limit of where this row's trace may go.
    pub band_top: f32,
    /// Lower limit of where this row's trace may go.
    pub band_bottom: f32,
    /// First column of the trace proper (after any pulse).
    pub x_start: f32,
    /// Last inked column of the row.
    pub x_end: f32,
    /// The calibration pulse at the row's start, if any.
    pub pulse: Option<PulseBox>,
    /// A calibration pulse after the trace, at the row's right end, on a row without one at
    /// its start. It calibrates; it does not time.
    pub end_pulse: Option<PulseBox>,
    /// Lead separators found in the row.
    pub separators: Vec<Separator>,
    /// Where this row's lead labels stand, read or not, as `[x_from, x_to, y_top, y_bottom]`
    /// in upright pixels: wherever the page's labels keep one place relative to their panels,
    /// every panel's label is expected there, so that the trace is not drawn through one
    /// that touches it.
    pub label_zones: Vec<[f32; 4]>,
}

impl Row {
    /// The centre of the row's own lead separators (the median; bars borrowed from other
    /// rows do not count), if it has any: where they stand, its baseline does.
    pub fn bars_centre(&self) -> Option<f32> {
        let mut ys: Vec<f32> = self
            .separators
            .iter()
            .filter(|s| !s.borrowed)
            .map(|s| s.y_center)
            .collect();
        ys.sort_by(f32::total_cmp);
        ys.get(ys.len() / 2).copied()
    }

    /// Where the row's baseline stands by its furniture: its pulse's foot, else its lead
    /// separators' centre, else [`Row::center_y`] (the centre of the row's ink).
    pub fn anchor_y(&self) -> f32 {
        match self.pulse {
            Some(p) => p.y_bottom,
            None => self.bars_centre().unwrap_or(self.center_y),
        }
    }
}

/// One lead's panel: where on the page it is printed and which seconds it shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Panel {
    /// The lead printed here.
    pub lead: Lead,
    /// Whether it is printed upside down (Cabrera's -aVR).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inverted: bool,
    /// Index into [`Layout::rows`].
    pub row: usize,
    /// First second of the record shown.
    pub t_from_s: f32,
    /// End of the shown interval (exclusive).
    pub t_to_s: f32,
    /// Where the panel starts on the page, in seconds of paper from the time origin.
    pub x_from_s: f32,
}

/// The page's layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layout {
    /// Which leads go where.
    pub spec: LayoutSpec,
    /// Whether `spec` was detected (false: given by the user).
    pub detected: bool,
    /// Trace rows, top to bottom.
    pub rows: Vec<Row>,
    /// Column of t = 0 s.
    pub x0: f32,
    /// Paper time scale, pixels per second.
    pub px_per_s: f32,
    /// Seconds the page covers.
    pub duration_s: f32,
    /// Every lead panel.
    pub panels: Vec<Panel>,
    /// Printed lead labels read clearly, each naming the panel it stands at.
    pub labels_read: usize,
}

impl Layout {
    /// Column of `t_s` seconds of paper after the time origin.
    pub fn x_of(&self, t_s: f32) -> f32 {
        self.x0 + t_s * self.px_per_s
    }

    /// Column where `panel` draws record time `t_s`.
    pub fn panel_x(&self, panel: &Panel, t_s: f32) -> f32 {
        self.x_of(panel.x_from_s + t_s - panel.t_from_s)
    }
}

/// Finds rows, pulses, separators and lead panels.
#[allow(clippy::too_many_arguments)]
pub fn detect(
    runs: &ColumnRuns,
    ink: &InkView,
    px_per_mm_x: f32,
    px_per_mm_y: f32,
    speed_mm_per_s: f32,
    spec: Option<&LayoutSpec>,
    opts: &LayoutOptions,
    warnings: &mut Vec<String>,
) -> Result<Layout, Error> {
    let width = runs.columns.len();
    // The row stages below read the page's own run-mass floor from the options.
    let opts = &LayoutOptions {
        row_run_mass: row_run_mass(runs, opts),
        ..*opts
    };
    let centers = find_row_centers(runs, px_per_mm_y, opts);
    if centers.is_empty() {
        return Err(Error::NoTraces);
    }
    let px_per_s = px_per_mm_x * speed_mm_per_s;
    let mut rows = Vec::with_capacity(centers.len());
    let mut gaps: Vec<f32> = centers.windows(2).map(|w| w[1] - w[0]).collect();
    let spacing = if gaps.is_empty() {
        40.0 * px_per_mm_y
    } else {
        median(&mut gaps)
    };
    for (i, &cy) in centers.iter().enumerate() {
        let above = if i > 0 { centers[i - 1] } else { cy - spacing };
        let below = if i + 1 < centers.len() {
            centers[i + 1]
        } else {
            cy + spacing
        };
        let band_top = above.max(0.0);
        let band_bottom = below.min(runs.height as f32 - 1.0);
        let near_top = (cy + above) / 2.0;
        let near_bottom = (cy + below) / 2.0;
        let Some((x_first, x_end)) = row_extent(runs, near_top, near_bottom, px_per_mm_x, opts)
        else {
            continue;
        };
        let probe = PulseProbe::new(runs, cy, px_per_mm_y, opts);
        let pulse = find_pulse(
            &probe,
            ink,
            x_first,
            px_per_mm_x,
            px_per_mm_y,
            px_per_s,
            opts,
        );
        let x_start = pulse.map_or(x_first as f32, |p| p.x_fall);
        let end_pulse = if pulse.is_none() {
            find_end_pulse(&probe, ink, x_end, px_per_mm_x, px_per_mm_y, px_per_s, opts)
        } else {
            None
        };
        // The trace ends where its pulse rises.
        let x_end = end_pulse.map_or(x_end, |p| (p.x_rise - px_per_mm_x).max(x_start) as usize);
        let separators = find_separators(
            runs,
            (x_start + px_per_mm_x) as usize,
            x_end.saturating_sub(px_per_mm_x as usize),
            near_top,
            near_bottom,
            cy,
            px_per_mm_x,
            px_per_mm_y,
            opts,
        );
        rows.push(Row {
            center_y: cy,
            band_top,
            band_bottom,
            x_start,
            x_end: x_end as f32,
            pulse,
            end_pulse,
            separators,
            label_zones: Vec::new(),
        });
    }
    if rows.is_empty() {
        return Err(Error::NoTraces);
    }
    drop_stray_edge_rows(
        &mut rows,
        opts.max_stray_row_gap,
        opts.separator_slack_mm * px_per_mm_x,
    );

    // Time origin and page width from where the rows start and end.
    let mut starts: Vec<f32> = rows.iter().map(|r| r.x_start).collect();
    let x0_rows = median(&mut starts);
    let duration_s = page_duration_s(&rows, x0_rows, px_per_s, opts);
    let reads = crate::labels::read(runs, ink, px_per_mm_y, &opts.labels);
    let confident: Vec<crate::labels::LabelRead> = reads
        .iter()
        .filter(|l| l.distance <= opts.label_vote_distance)
        .copied()
        .collect();
    let label_dy = label_offset(&rows, &confident, opts.label_row_tolerance_mm * px_per_mm_y);
    let label_tol_x = opts.label_column_tolerance_mm * px_per_mm_x;
    if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
        for l in &reads {
            eprintln!(
                "label {:?} at ({:.0}..{:.0}, {:.0}) d {:.3}",
                l.lead, l.x_left, l.x_right, l.y_center, l.distance
            );
        }
    }
    let columns: Vec<Option<usize>> = rows
        .iter()
        .map(|r| row_columns(runs, r, x0_rows, duration_s, px_per_s, px_per_mm_x, opts))
        .collect();
    let (spec, detected) = match spec {
        Some(s) => {
            if s.rows.len() != rows.len() {
                warnings.push(format!(
                    "layout {} has {} rows but the page shows {}; rows were matched top to bottom",
                    s.name,
                    s.rows.len(),
                    rows.len()
                ));
            }
            (s.clone(), false)
        }
        None => {
            let geometry = PageGeometry {
                rows: &rows,
                columns: &columns,
                x0: x0_rows,
                duration_s,
                px_per_s,
                px_per_mm_x,
                label_dy,
                label_dx: label_offset_x(&confident, x0_rows, duration_s, px_per_s, label_tol_x),
            };
            (choose_spec(&geometry, &reads, opts, warnings)?, true)
        }
    };
    let n = spec.rows.len().min(rows.len());
    rows.truncate(n);

    // Separators count only where the layout puts a column boundary; anything else that looks
    // like a bar (a dense noise burst, a glyph) is the trace's own ink.
    // The boundaries' phase comes from the bars themselves: where the page's left edge is
    // cropped, the ink starts at the edge rather than at the time origin.
    let col_px_of = |r: usize| duration_s / spec.rows[r].len() as f32 * px_per_s;
    let boundary = |r: usize, xc: f32| {
        let k = ((xc - x0_rows) / col_px_of(r)).round();
        (k, xc - x0_rows - k * col_px_of(r))
    };
    let mut residuals: Vec<f32> = rows
        .iter()
        .enumerate()
        .filter(|(r, _)| spec.rows.get(*r).is_some_and(|l| l.len() >= 2))
        .flat_map(|(r, row)| {
            row.separators
                .iter()
                .map(move |s| boundary(r, (s.x_from + s.x_to) as f32 / 2.0))
        })
        .filter(|(k, _)| *k >= 1.0)
        .map(|(_, d)| d)
        .collect();
    let phase = if residuals.len() >= 2 {
        median(&mut residuals)
    } else {
        0.0
    };
    let lead_px = if rows.iter().any(|r| r.pulse.is_some()) {
        opts.separator_lead_s * px_per_s
    } else {
        0.0
    };
    let mut x0_ticks = Vec::new();
    for (r, row) in rows.iter_mut().enumerate() {
        let cols = spec.rows[r].len();
        let col_px = col_px_of(r);
        row.separators.retain(|s| {
            let xc = (s.x_from + s.x_to) as f32 / 2.0;
            let (k, off) = boundary(r, xc - phase);
            let ok =
                k >= 1.0 && k < cols as f32 && off.abs() < opts.separator_slack_mm * px_per_mm_x;
            if ok {
                // The bar's sub-pixel centre: its antialiased edge columns are not "steady".
                let h = 0.25 * (s.y_bottom - s.y_top);
                let centre = ink
                    .stroke_x(
                        s.x_from.saturating_sub(2),
                        s.x_to + 2,
                        s.y_top + h,
                        s.y_bottom - h,
                    )
                    .unwrap_or(xc);
                x0_ticks.push(centre + lead_px - k * col_px);
            }
            ok
        });
    }
    // Bars line up across rows: where one row's bar was missed (a QRS beside it, blur), borrow
    // the nearest row's bar at that boundary, so the trace search still skips the bar's ink.
    let found: Vec<(usize, Separator)> = rows
        .iter()
        .enumerate()
        .flat_map(|(r, row)| row.separators.iter().map(move |s| (r, *s)))
        .collect();
    let rows_centre: Vec<f32> = rows.iter().map(|r| r.center_y).collect();
    for (r, row) in rows.iter_mut().enumerate() {
        let cols = spec.rows[r].len();
        if cols < 2 {
            continue;
        }
        let col_px = duration_s / cols as f32 * px_per_s;
        for k in 1..cols {
            let xb = x0_rows + k as f32 * col_px;
            let near = |s: &Separator| {
                ((s.x_from + s.x_to) as f32 / 2.0 - xb).abs()
                    < opts.separator_slack_mm * px_per_mm_x
            };
            if row.separators.iter().any(near) {
                continue;
            }
            if let Some((o, s)) = found
                .iter()
                .filter(|(o, s)| *o != r && spec.rows[*o].len() == cols && near(s))
                .min_by_key(|(o, _)| o.abs_diff(r))
            {
                // Bars sit at the same height relative to their rows.
                let shift = row.center_y - rows_centre[*o];
                row.separators.push(Separator {
                    y_center: row.center_y,
                    y_top: s.y_top + shift,
                    y_bottom: s.y_bottom + shift,
                    borrowed: true,
                    ..*s
                });
            }
        }
        row.separators.sort_by_key(|s| s.x_from);
    }
    // A trace touching its bar changes the bar's apparent extent on that row: narrower where
    // the trace hides an edge column, wider where a steep stroke beside it looks like bar.
    // Bars are printed alike at the same columns on every row, so each boundary takes its
    // columns from the row whose bar has the page's usual width, and every row then finds the
    // bar's ends in its cleanest column, where the bar stands alone at its usual height.
    let own: Vec<Separator> = rows
        .iter()
        .flat_map(|r| r.separators.iter().filter(|s| !s.borrowed).copied())
        .collect();
    let bar_width = |s: &Separator| (s.x_to - s.x_from) as f32;
    let mut widths: Vec<f32> = own.iter().map(bar_width).collect();
    let usual_width = median(&mut widths);
    let mut heights: Vec<f32> = own
        .iter()
        .filter(|s| (bar_width(s) - usual_width).abs() <= 1.0)
        .map(|s| s.y_bottom - s.y_top)
        .collect();
    let usual_height = median(&mut heights);
    for row in &mut rows {
        for s in &mut row.separators {
            let reference = own
                .iter()
                .filter(|o| o.x_from <= s.x_to + 2 && o.x_to + 2 >= s.x_from)
                .min_by(|a, b| {
                    (bar_width(a) - usual_width)
                        .abs()
                        .total_cmp(&(bar_width(b) - usual_width).abs())
                });
            if let Some(o) = reference {
                s.x_from = o.x_from;
                s.x_to = o.x_to;
            }
            let h = usual_height;
            let cleanest = (s.x_from..=s.x_to.min(runs.columns.len() - 1))
                .filter_map(|x| tallest(runs, x, s.y_center - h, s.y_center + h))
                .filter(|r| r.len() as f32 >= 0.8 * h)
                // Nearest the usual height, not shortest: on a photo a bar's edge column can
                // print faint at one end, and its short run left that end to the trace.
                .min_by(|a, b| {
                    let off = |r: &Run| (r.len() as f32 - h).abs();
                    off(a).total_cmp(&off(b)).then(a.len().cmp(&b.len()))
                });
            if let Some(r) = cleanest {
                s.y_top = r.top as f32;
                s.y_bottom = r.bottom as f32;
                if !s.borrowed {
                    s.y_center = (s.y_top + s.y_bottom) / 2.0;
                }
            }
        }
    }
    // Time origin, best cue first: the pulses' rising edges (the falling edge can merge with
    // a steep start of the trace; pulse strokes are not snapped to the pixel grid by renderers,
    // unlike separator bars), then the separators, then where the ink starts.
    let mut x0_pulses: Vec<f32> = rows
        .iter()
        .filter_map(|r| r.pulse)
        .filter(|p| !p.rise_cut)
        .map(|p| p.x_rise + (opts.pulse_s - opts.pulse_end_lag_s) * px_per_s)
        .collect();
    let x0 = if !x0_pulses.is_empty() {
        median(&mut x0_pulses)
    } else if x0_ticks.len() >= 2 {
        median(&mut x0_ticks)
    } else {
        x0_rows
    };
    if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
        for r in &rows {
            eprintln!(
                "row {} separators {:?} pulse {:?}",
                r.center_y, r.separators, r.pulse
            );
        }
        eprintln!("x0 {x0} from ticks {x0_ticks:?} rows {x0_rows} starts {starts:?}");
    }
    // The origin may lie left of a cropped page, as long as some of the page is on it.
    if x0 + duration_s * px_per_s <= 0.0 || x0 >= width as f32 {
        return Err(Error::NoTraces);
    }

    let mut panels = Vec::new();
    for (r, leads) in spec.rows.iter().enumerate().take(n) {
        let step = duration_s / leads.len() as f32;
        for (c, &lead) in leads.iter().enumerate() {
            let t_from_s = if spec.same_time_columns {
                0.0
            } else {
                c as f32 * step
            };
            panels.push(Panel {
                lead,
                inverted: spec.is_inverted(lead),
                row: r,
                t_from_s,
                t_to_s: t_from_s + step,
                x_from_s: c as f32 * step,
            });
        }
    }
    // Labels that name the panel they stand at: evidence that the page reads this way up.
    let geometry = PageGeometry {
        rows: &rows,
        columns: &[],
        x0,
        duration_s,
        px_per_s,
        px_per_mm_x,
        label_dy,
        label_dx: label_offset_x(&confident, x0, duration_s, px_per_s, label_tol_x),
    };
    // Confident labels that name the panel they stand at, with their row and column.
    let naming: Vec<(&crate::labels::LabelRead, usize, usize)> = confident
        .iter()
        .filter_map(|l| {
            let r = geometry.row_of(l.y_center);
            let leads = spec.rows.get(r)?;
            let c = geometry.column_of(l.x_left, leads.len(), opts.label_slack_mm)?;
            (leads[c] == l.lead).then_some((l, r, c))
        })
        .collect();
    let labels_read = naming.len();
    if let Some((dx, dy, anchors)) = label_place(&geometry, &spec, &naming) {
        let zones = label_zones(
            &spec, &anchors, &confident, x0, dx, dy, duration_s, px_per_s,
        );
        for (row, z) in rows.iter_mut().zip(zones) {
            row.label_zones = z;
        }
    }
    Ok(Layout {
        labels_read,
        spec,
        detected,
        rows,
        x0,
        px_per_s,
        duration_s,
        panels,
    })
}

/// Seconds the page shows: the nominal duration when the longest row spans within 15% of it
/// (separators are too easily missed to count columns by), else the extent to half a second.
fn page_duration_s(rows: &[Row], x0: f32, px_per_s: f32, opts: &LayoutOptions) -> f32 {
    let extent_s = rows
        .iter()
        .map(|r| (r.x_end - x0) / px_per_s)
        .fold(0f32, f32::max);
    if (extent_s / opts.nominal_duration_s - 1.0).abs() <= 0.15 {
        opts.nominal_duration_s
    } else {
        ((extent_s / 0.5).round() * 0.5).max(0.5)
    }
}

/// How far below its row's centre line this page prints a lead's label (negative: above).
///
/// A printer puts every label the same way: below the trace's start (ECG-Image-Kit), above
/// it, or on the baseline. Where rows are close (12x1 pages) a label below one row is nearly
/// as close to the next, so the nearest row alone would misplace it. The offset that puts
/// the most labels within `tol` px of some row wins; ties go to the smallest offset.
fn label_offset(rows: &[Row], reads: &[crate::labels::LabelRead], tol: f32) -> f32 {
    let offsets: Vec<f32> = reads
        .iter()
        .flat_map(|l| rows.iter().map(move |r| l.y_center - r.center_y))
        .collect();
    let support = |d: f32| {
        reads
            .iter()
            .filter(|l| {
                rows.iter()
                    .any(|r| (l.y_center - r.center_y - d).abs() <= tol)
            })
            .count()
    };
    let mut best = (0usize, 0f32);
    for &d in &offsets {
        let n = support(d);
        if n > best.0 || (n == best.0 && d.abs() < best.1.abs()) {
            best = (n, d);
        }
    }
    if best.0 == 0 {
        return 0.0;
    }
    // Refine to the median of the labels it explains.
    let mut near: Vec<f32> = offsets
        .iter()
        .copied()
        .filter(|o| (o - best.1).abs() <= tol)
        .collect();
    median(&mut near)
}

/// Where every panel's label stands, as `(dx, dy, anchors)`: `dx` px after its panel's
/// start and `dy` px below its row's anchor. `dx` comes from the page-wide agreement of the
/// labels read or, failing that, from the labels `naming` their panel (row and column); `dy`
/// is kept from the rows' baselines ([`Row::anchor_y`]) where such labels show it, since a
/// photo's ink centre can lie 3 mm off the baseline.
fn label_place(
    g: &PageGeometry,
    spec: &LayoutSpec,
    naming: &[(&crate::labels::LabelRead, usize, usize)],
) -> Option<(f32, f32, Vec<f32>)> {
    let col_px = |r: usize| g.duration_s / spec.rows[r].len() as f32 * g.px_per_s;
    let mut dxs: Vec<f32> = naming
        .iter()
        .map(|(l, r, c)| l.x_left - g.x0 - *c as f32 * col_px(*r))
        .collect();
    let dx = match g.label_dx {
        Some((dx, _)) => dx,
        None if !dxs.is_empty() => median(&mut dxs),
        None => return None,
    };
    let mut dys: Vec<f32> = naming
        .iter()
        .map(|(l, r, _)| l.y_center - g.rows[*r].anchor_y())
        .collect();
    Some(if dys.is_empty() {
        let centres = g.rows.iter().map(|r| r.center_y).collect();
        (dx, g.label_dy, centres)
    } else {
        let anchors = g.rows.iter().map(Row::anchor_y).collect();
        (dx, median(&mut dys), anchors)
    })
}

/// Each row's expected label boxes (see [`Row::label_zones`]): `dx` px after every panel's
/// start and `dy` px below its row's `anchors` entry, as this page prints its labels; as
/// wide as its widest label read and as tall as the tallest, with a little margin for blur.
#[allow(clippy::too_many_arguments)]
fn label_zones(
    spec: &LayoutSpec,
    anchors: &[f32],
    reads: &[crate::labels::LabelRead],
    x0: f32,
    dx: f32,
    dy: f32,
    duration_s: f32,
    px_per_s: f32,
) -> Vec<Vec<[f32; 4]>> {
    let width = reads
        .iter()
        .map(|l| l.x_right - l.x_left)
        .fold(0f32, f32::max);
    let height = reads.iter().map(|l| l.height).fold(0f32, f32::max);
    let margin = 0.15 * height;
    anchors
        .iter()
        .enumerate()
        .map(|(r, anchor)| {
            let cols = spec.rows.get(r).map_or(0, Vec::len);
            (0..cols)
                .map(|c| {
                    let x = x0 + dx + c as f32 * duration_s / cols as f32 * px_per_s;
                    let y = anchor + dy;
                    [
                        x - margin,
                        x + width + margin,
                        y - height / 2.0 - margin,
                        y + height / 2.0 + margin,
                    ]
                })
                .collect()
        })
        .collect()
}

/// How far after a panel's start this page prints its label, in pixels, if at least two
/// confident labels agree within `tol` px. Panel starts are taken at quarter points of the
/// page from `x0`, which covers 3x4, 6x2 and 12x1 pages alike.
fn label_offset_x(
    reads: &[crate::labels::LabelRead],
    x0: f32,
    duration_s: f32,
    px_per_s: f32,
    tol: f32,
) -> Option<(f32, f32)> {
    let quarter = duration_s / 4.0 * px_per_s;
    if quarter <= 0.0 {
        return None;
    }
    let offsets: Vec<f32> = reads
        .iter()
        .map(|l| {
            let k = ((l.x_left - x0) / quarter).round().clamp(0.0, 3.0);
            l.x_left - x0 - k * quarter
        })
        .collect();
    let support = |d: f32| offsets.iter().filter(|o| (*o - d).abs() <= tol).count();
    let best = offsets.iter().copied().max_by(|a, b| {
        support(*a)
            .cmp(&support(*b))
            .then(b.abs().total_cmp(&a.abs()))
    })?;
    if support(best) < 2 {
        return None;
    }
    let mut near: Vec<f32> = offsets
        .iter()
        .copied()
        .filter(|o| (o - best).abs() <= tol)
        .collect();
    Some((median(&mut near), tol))
}

/// Where the rows are, for choosing a layout.
struct PageGeometry<'a> {
    rows: &'a [Row],
    columns: &'a [Option<usize>],
    x0: f32,
    duration_s: f32,
    px_per_s: f32,
    px_per_mm_x: f32,
    /// Where this page prints a lead's label relative to its row's centre line, in pixels
    /// (positive: below it); see [`label_offset`].
    label_dy: f32,
    /// Where the labels stand after their panels' starts, with the tolerance, in pixels,
    /// when enough labels agree on it; see [`label_offset_x`].
    label_dx: Option<(f32, f32)>,
}

impl PageGeometry<'_> {
    /// The row a label belongs to: the one it stands from as the page's labels do.
    fn row_of(&self, y: f32) -> usize {
        let off = |r: usize| (y - self.rows[r].center_y - self.label_dy).abs();
        (0..self.rows.len())
            .min_by(|&a, &b| off(a).total_cmp(&off(b)))
            .unwrap_or(0)
    }

    /// The column whose start a label at `x` marks, in a row of `cols` columns, if it sits
    /// within `slack_mm` of one.
    /// Where the page's labels all stand at the same distance from their panels' starts, a
    /// label must stand there too: a word read without its first glyph (`V1` seen as `I`
    /// because the `V` touches the trace) is one glyph further right, and names no panel.
    fn column_of(&self, x: f32, cols: usize, slack_mm: f32) -> Option<usize> {
        let col_px = self.duration_s / cols as f32 * self.px_per_s;
        if let Some((dx, tol)) = self.label_dx {
            let k = ((x - self.x0 - dx) / col_px).round();
            let off = x - self.x0 - dx - k * col_px;
            return (k >= 0.0 && (k as usize) < cols && off.abs() <= tol).then_some(k as usize);
        }
        let k = ((x - self.x0) / col_px).round();
        let off = x - self.x0 - k * col_px;
        (k >= 0.0
            && (k as usize) < cols
            && off > -slack_mm * self.px_per_mm_x
            && off < 2.0 * slack_mm * self.px_per_mm_x)
            .then_some(k as usize)
    }
}

/// Picks the known layout that agrees best with the rows' columns and the printed labels, then
/// lets confident labels rename panels (printers differ in lead order).
fn choose_spec(
    g: &PageGeometry,
    reads: &[crate::labels::LabelRead],
    opts: &LayoutOptions,
    warnings: &mut Vec<String>,
) -> Result<LayoutSpec, Error> {
    let candidates = LayoutSpec::candidates(g.rows.len());
    let score = |spec: &LayoutSpec| -> f32 {
        // Prior: how common each layout is among printouts, so that a page without separators
        // or readable labels gets the usual one.
        let mut s = match spec.name.split('+').next().unwrap_or("") {
            "3x4" => 1.0,
            "6x2" => 0.5,
            _ => 0.0,
        };
        for (r, leads) in spec.rows.iter().enumerate() {
            match g.columns.get(r).copied().flatten() {
                Some(c) if c == leads.len() => s += 2.0,
                Some(_) => s -= 3.0,
                None => {}
            }
        }
        for l in reads {
            let r = g.row_of(l.y_center);
            let Some(leads) = spec.rows.get(r) else {
                continue;
            };
            if let Some(c) = g.column_of(l.x_left, leads.len(), opts.label_slack_mm) {
                s += if leads[c] == l.lead { 1.0 } else { -1.0 };
            }
        }
        s
    };
    let Some(mut spec) = candidates
        .into_iter()
        .max_by(|a, b| score(a).total_cmp(&score(b)))
    else {
        let n = g.rows.len();
        return Err(Error::LayoutNotRecognised(if n <= 2 {
            let rows = if n == 1 {
                "1 trace row"
            } else {
                "2 trace rows"
            };
            format!(
                "found only {rows}, too few for any 12-lead layout (3x4, 6x2, 12x1): is this an ECG printout?"
            )
        } else {
            format!(
                "found {n} trace rows, which matches no 12-lead layout (3x4, 6x2, 12x1): choose the layout by hand if this is an ECG"
            )
        }));
    };
    let renamed = name_panels_from_labels(&mut spec, g, reads, opts);
    if renamed > 0 {
        warnings.push(format!(
            "{renamed} panel(s) were named from their printed labels"
        ));
    }
    Ok(spec)
}

/// Lets confident labels name the panels they stand at, whatever the layout's order says.
///
/// The twelve short panels each show a different lead, so labels are taken best read first
/// and a lead already given to a panel is not given again. The panels left without a label
/// then keep their template lead where it is still free, and otherwise share out the leads
/// nobody claimed, in the standard order. Rhythm strips (a lead printed again over the whole
/// page) take their label as it is. Returns how many panels changed name.
fn name_panels_from_labels(
    spec: &mut LayoutSpec,
    g: &PageGeometry,
    reads: &[crate::labels::LabelRead],
    opts: &LayoutOptions,
) -> usize {
    let before = spec.rows.clone();
    let rhythm = spec.rhythm_rows();
    let mut named: Vec<Vec<Option<Lead>>> = spec.rows.iter().map(|r| vec![None; r.len()]).collect();
    let mut taken = [false; 12];
    let mut sure: Vec<&crate::labels::LabelRead> = reads
        .iter()
        .filter(|l| l.distance <= opts.label_rename_distance)
        .collect();
    sure.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    for l in sure {
        let r = g.row_of(l.y_center);
        let Some(cols) = spec.rows.get(r).map(Vec::len) else {
            continue;
        };
        let Some(c) = g.column_of(l.x_left, cols, opts.label_slack_mm) else {
            continue;
        };
        if named[r][c].is_some() {
            continue;
        }
        if rhythm[r] {
            named[r][c] = Some(l.lead);
        } else if !taken[l.lead.index()] {
            taken[l.lead.index()] = true;
            named[r][c] = Some(l.lead);
        }
    }
    // One label against the template is more likely a misread (`III` read as `II` when its
    // last glyph touches the trace) than a printer's own order, which moves two leads at least.
    let against = spec
        .rows
        .iter()
        .zip(&named)
        .enumerate()
        .filter(|(r, _)| !rhythm[*r])
        .flat_map(|(_, (row, names))| row.iter().zip(names))
        .filter(|(t, n)| n.is_some_and(|n| n != **t))
        .count();
    if against < opts.min_label_disagreements {
        for (_, names) in named.iter_mut().enumerate().filter(|(r, _)| !rhythm[*r]) {
            names.fill(None);
        }
        taken = [false; 12];
    }
    if named.iter().flatten().all(Option::is_none) {
        return 0;
    }
    // Unlabelled short panels: the template's lead if free, else the free leads in turn,
    // column by column as the leads are read.
    let mut open = Vec::new();
    for (r, row) in spec.rows.iter().enumerate().filter(|(r, _)| !rhythm[*r]) {
        for (c, &lead) in row.iter().enumerate() {
            if named[r][c].is_none() {
                if taken[lead.index()] {
                    open.push((c, r));
                } else {
                    taken[lead.index()] = true;
                    named[r][c] = Some(lead);
                }
            }
        }
    }
    open.sort();
    // Only leads the layout prints: a limb-lead page gets no chest lead.
    let mut printed = [false; 12];
    for (_, row) in before.iter().enumerate().filter(|(r, _)| !rhythm[*r]) {
        for l in row {
            printed[l.index()] = true;
        }
    }
    let mut free = Lead::ALL
        .iter()
        .filter(|l| printed[l.index()] && !taken[l.index()]);
    for (c, r) in open {
        named[r][c] = free.next().copied();
    }
    for (r, row) in spec.rows.iter_mut().enumerate() {
        for (c, lead) in row.iter_mut().enumerate() {
            if let Some(l) = named[r][c] {
                *lead = l;
            }
        }
    }
    spec.rows
        .iter()
        .flatten()
        .zip(before.iter().flatten())
        .filter(|(a, b)| a != b)
        .count()
}

/// How many columns a row shows: 4 when separator bars or gaps in the ink stand at quarter
/// points, 2 when only at the middle, `None` without either.
fn row_columns(
    runs: &ColumnRuns,
    row: &Row,
    x0: f32,
    duration_s: f32,
    px_per_s: f32,
    px_per_mm_x: f32,
    opts: &LayoutOptions,
) -> Option<usize> {
    let quarter = duration_s / 4.0 * px_per_s;
    let slack = opts.separator_slack_mm * px_per_mm_x;
    let (top, bottom) = (
        (row.center_y + row.band_top) / 2.0,
        (row.center_y + row.band_bottom) / 2.0,
    );
    let mut at = [false; 4];
    for s in &row.separators {
        let xc = (s.x_from + s.x_to) as f32 / 2.0;
        let k = ((xc - x0) / quarter).round();
        if (1.0..=3.0).contains(&k) && (xc - x0 - k * quarter).abs() < slack {
            at[k as usize] = true;
        }
    }
    // Printers that leave a small gap between panels instead of a bar.
    for (k, hit) in at.iter_mut().enumerate().skip(1) {
        let xb = x0 + k as f32 * quarter;
        let (a, b) = (
            (xb - slack).max(0.0) as usize,
            ((xb + slack) as usize).min(runs.columns.len() - 1),
        );
        if a >= b || xb > row.x_end {
            continue;
        }
        let empty = (a..=b)
            .filter(|&x| {
                !runs.columns[x].iter().any(|r| {
                    r.mass >= opts.row_run_mass && r.centroid >= top && r.centroid <= bottom
                })
            })
            .count();
        if empty >= 2 && empty < b - a {
            *hit = true;
        }
    }
    if at[1] || at[3] {
        Some(4)
    } else if at[2] {
        Some(2)
    } else {
        None
    }
}

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The lightest run that counts as a row's ink on this page (see
/// [`LayoutOptions::row_run_mass_of_median`]).
fn row_run_mass(runs: &ColumnRuns, opts: &LayoutOptions) -> f32 {
    let mut masses: Vec<f32> = runs.columns.iter().flatten().map(|r| r.mass).collect();
    if masses.is_empty() {
        return opts.row_run_mass;
    }
    let mid = masses.len() / 2;
    let (_, median, _) = masses.select_nth_unstable_by(mid, f32::total_cmp);
    opts.row_run_mass.min(opts.row_run_mass_of_median * *median)
}

/// Drops a row at the top or bottom of the page that shows nothing a printed row has (no
/// calibration pulse at either end, no lead separator in line with another row's) and lies
/// more than `max_gap` row spacings from the next row, while every other row shows a pulse
/// or separators: the header's text and a page edge beside it, on a photo, can ink most
/// columns like a trace, and a letter's stem can pass for a separator. Separators line up
/// when they start within `tolerance_px` of each other and are about as tall (bars are
/// printed alike on every row; a stem is as tall as its letter). The row beside it gets the
/// band an edge row has.
fn drop_stray_edge_rows(rows: &mut Vec<Row>, max_gap: f32, tolerance_px: f32) {
    while rows.len() >= 3 {
        let mut gaps: Vec<f32> = rows
            .windows(2)
            .map(|w| w[1].center_y - w[0].center_y)
            .collect();
        let spacing = median(&mut gaps);
        let n = rows.len();
        let printed = |k: usize| {
            let r = &rows[k];
            let others = || {
                rows.iter()
                    .enumerate()
                    .filter(move |&(m, _)| m != k)
                    .map(|(_, o)| o)
            };
            let in_line = |s: &Separator| {
                others().all(|o| o.separators.is_empty())
                    || others().any(|o| {
                        o.separators.iter().any(|t| {
                            let ratio = (s.y_bottom - s.y_top) / (t.y_bottom - t.y_top).max(1.0);
                            (t.x_from as f32 - s.x_from as f32).abs() <= tolerance_px
                                && (0.7..=1.0 / 0.7).contains(&ratio)
                        })
                    })
            };
            r.pulse.is_some() || r.end_pulse.is_some() || r.separators.iter().any(in_line)
        };
        let stray = |k: usize, next: usize| {
            !printed(k)
                && (rows[k].center_y - rows[next].center_y).abs() > max_gap * spacing
                && (0..n).filter(|&m| m != k).all(printed)
        };
        if stray(0, 1) {
            rows.remove(0);
            rows[0].band_top = (rows[0].center_y - spacing).max(0.0);
        } else if stray(n - 1, n - 2) {
            rows.pop();
            let last = rows.len() - 1;
            rows[last].band_bottom = rows[last].band_bottom.min(rows[last].center_y + spacing);
        } else {
            break;
        }
    }
}

/// Rows where most columns hold ink nearby, top to bottom.
fn find_row_centers(runs: &ColumnRuns, px_per_mm_y: f32, opts: &LayoutOptions) -> Vec<f32> {
    let h = runs.height;
    let reach = (opts.row_reach_mm * px_per_mm_y).round() as i64;
    let mut diff = vec![0i64; h + 1];
    for col in &runs.columns {
        // Union of the column's runs widened by `reach`, counted once per column.
        let mut cur: Option<(i64, i64)> = None;
        for r in col {
            if r.mass < opts.row_run_mass {
                continue;
            }
            let (a, b) = (
                (r.top as i64 - reach).max(0),
                (r.bottom as i64 + reach).min(h as i64 - 1),
            );
            cur = match cur {
                Some((s, e)) if a <= e + 1 => Some((s, e.max(b))),
                Some((s, e)) => {
                    diff[s as usize] += 1;
                    diff[e as usize + 1] -= 1;
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((s, e)) = cur {
            diff[s as usize] += 1;
            diff[e as usize + 1] -= 1;
        }
    }
    let mut coverage = vec![0f32; h];
    let mut acc = 0i64;
    for y in 0..h {
        acc += diff[y];
        coverage[y] = acc as f32;
    }
    let best = coverage.iter().cloned().fold(0f32, f32::max);
    if best < 10.0 {
        return Vec::new();
    }
    let min_gap = (opts.min_row_gap_mm * px_per_mm_y) as usize;
    // Greedy non-maximum suppression, strongest first; plateaus resolve to their middle.
    let mut order: Vec<usize> = (0..h)
        .filter(|&y| coverage[y] >= opts.min_row_coverage * best)
        .collect();
    order.sort_by(|&a, &b| coverage[b].total_cmp(&coverage[a]));
    let mut picked: Vec<f32> = Vec::new();
    for y in order {
        if picked
            .iter()
            .any(|&p| (p - y as f32).abs() < min_gap as f32)
        {
            continue;
        }
        let v = coverage[y];
        let (mut a, mut b) = (y, y);
        while a > 0 && coverage[a - 1] >= v {
            a -= 1;
        }
        while b + 1 < h && coverage[b + 1] >= v {
            b += 1;
        }
        picked.push((a + b) as f32 / 2.0);
    }
    if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
        let info: Vec<_> = picked
            .iter()
            .map(|&c| {
                (
                    c,
                    coverage[c as usize],
                    is_straight_rule(runs, c, reach as f32, opts),
                )
            })
            .collect();
        eprintln!("row candidates {info:?} best {best}");
    }
    picked.retain(|&cy| !is_straight_rule(runs, cy, reach as f32, opts));
    let best_trace = picked
        .iter()
        .map(|&c| coverage[c as usize])
        .fold(0f32, f32::max);
    picked.retain(|&c| coverage[c as usize] >= opts.min_trace_row_coverage * best_trace);
    picked.sort_by(f32::total_cmp);
    picked
}

/// Frame lines and rulers run dead straight; a trace never does. True when the ink nearest
/// `cy` barely moves (see [`LayoutOptions::rule_deviation_percentile`]).
fn is_straight_rule(runs: &ColumnRuns, cy: f32, reach: f32, opts: &LayoutOptions) -> bool {
    let mut ys: Vec<f32> = runs
        .columns
        .iter()
        .filter_map(|col| {
            col.iter()
                .filter(|r| (r.centroid - cy).abs() <= reach)
                .min_by(|a, b| (a.centroid - cy).abs().total_cmp(&(b.centroid - cy).abs()))
                .map(|r| r.centroid)
        })
        .collect();
    if ys.len() < 10 {
        return true;
    }
    let m = median(&mut ys);
    let mut dev: Vec<f32> = ys.iter().map(|y| (y - m).abs()).collect();
    let k = ((dev.len() as f32 * opts.rule_deviation_percentile) as usize).min(dev.len() - 1);
    *dev.select_nth_unstable_by(k, f32::total_cmp).1 < opts.max_rule_deviation_px
}

/// Longest stretch of columns with ink between `top` and `bottom`, small gaps bridged.
fn row_extent(
    runs: &ColumnRuns,
    top: f32,
    bottom: f32,
    px_per_mm_x: f32,
    opts: &LayoutOptions,
) -> Option<(usize, usize)> {
    let max_gap = (opts.max_row_gap_mm * px_per_mm_x) as usize;
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (x, col) in runs.columns.iter().enumerate() {
        let has = col
            .iter()
            .any(|r| r.mass >= opts.row_run_mass && r.centroid >= top && r.centroid <= bottom);
        if !has {
            continue;
        }
        cur = match cur {
            Some((s, e)) if x - e <= max_gap => Some((s, x)),
            Some(seg) => {
                if best.is_none_or(|b| seg.1 - seg.0 > b.1 - b.0) {
                    best = Some(seg);
                }
                Some((x, x))
            }
            None => Some((x, x)),
        };
    }
    if let Some(seg) = cur {
        if best.is_none_or(|b| seg.1 - seg.0 > b.1 - b.0) {
            best = Some(seg);
        }
    }
    best.filter(|&(s, e)| e - s > (20.0 * px_per_mm_x) as usize)
}

/// The tallest run of a column within a band.
fn tallest(runs: &ColumnRuns, x: usize, top: f32, bottom: f32) -> Option<Run> {
    runs.in_band(x, top, bottom)
        .max_by_key(|r| r.len())
        .copied()
}

/// Groups of adjacent columns whose tallest run is at least `min_len` px tall.
fn stroke_groups(
    runs: &ColumnRuns,
    x_from: usize,
    x_to: usize,
    top: f32,
    bottom: f32,
    min_len: u32,
) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut cur: Option<(usize, usize)> = None;
    for x in x_from..=x_to.min(runs.columns.len() - 1) {
        let tall = tallest(runs, x, top, bottom).is_some_and(|r| r.len() >= min_len);
        cur = match (cur, tall) {
            (Some((s, _)), true) => Some((s, x)),
            (None, true) => Some((x, x)),
            (Some(g), false) => {
                groups.push(g);
                None
            }
            (None, false) => None,
        };
    }
    if let Some(g) = cur {
        groups.push(g);
    }
    groups
}

/// Where a row's pulse strokes stand: tall runs whose foot lies on the row's baseline.
struct PulseProbe<'a> {
    runs: &'a ColumnRuns,
    centre_y: f32,
    min_len: u32,
    /// How far from the row's centre a stroke's foot may lie: the neighbouring rows' pulses
    /// (tall at high gain) reach into this band, but their feet stand on their own rows.
    foot_reach: f32,
    /// How closely two strokes' tops, or a top and the flat ink joining them, must agree.
    tol: f32,
}

impl<'a> PulseProbe<'a> {
    /// The probe of the row whose baseline lies near `centre_y`.
    fn new(runs: &'a ColumnRuns, centre_y: f32, px_per_mm_y: f32, opts: &LayoutOptions) -> Self {
        PulseProbe {
            runs,
            centre_y,
            min_len: (opts.min_stroke_mm * px_per_mm_y) as u32,
            foot_reach: opts.pulse_foot_reach_mm * px_per_mm_y,
            tol: px_per_mm_y,
        }
    }

    /// The column's tall stroke standing on the baseline, if any.
    fn stroke(&self, x: usize) -> Option<Run> {
        let off = |r: &Run| (r.bottom as f32 - self.centre_y).abs();
        self.runs.columns[x]
            .iter()
            .filter(|r| r.len() >= self.min_len && off(r) <= self.foot_reach)
            .min_by(|a, b| off(a).total_cmp(&off(b)))
            .copied()
    }

    /// The stroke over a group of columns `g`, from the highest top to the lowest foot of
    /// their strokes: an edge leaning across the columns.
    fn leaning_stroke(&self, g: (usize, usize)) -> Option<Run> {
        let strokes: Vec<Run> = (g.0..=g.1).filter_map(|x| self.stroke(x)).collect();
        let mid = self.stroke((g.0 + g.1) / 2)?;
        Some(Run {
            top: strokes.iter().map(|r| r.top).min()?,
            bottom: strokes.iter().map(|r| r.bottom).max()?,
            ..mid
        })
    }

    /// Runs of adjacent columns holding a stroke, over `range`.
    fn groups(&self, range: std::ops::RangeInclusive<usize>) -> Vec<(usize, usize)> {
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for x in range {
            if self.stroke(x).is_some() {
                match groups.last_mut() {
                    Some(g) if g.1 + 1 == x => g.1 = x,
                    _ => groups.push((x, x)),
                }
            }
        }
        groups
    }

    /// The column's stroke starts at `top`, as a pulse's second edge starts at its first's.
    fn starts_at(&self, x: usize, top: u32) -> bool {
        self.stroke(x)
            .is_some_and(|r| (r.top as f32 - top as f32).abs() <= self.tol)
    }

    /// Flat ink at `top` over most of `range`, as along a pulse's top.
    fn flat_top(&self, range: std::ops::Range<usize>, top: u32) -> bool {
        let n = range.len();
        let joined = range
            .filter(|&x| {
                self.runs
                    .in_band(x, top as f32 - self.tol, top as f32 + self.tol)
                    .next()
                    .is_some()
            })
            .count();
        n > 0 && joined as f32 >= 0.8 * n as f32
    }
}

/// Sub-pixel centre of a pulse edge over columns `g`, measured between rows `ya` and `yb`.
fn edge_x(ink: &InkView, g: (usize, usize), ya: f32, yb: f32) -> f32 {
    ink.stroke_x(g.0.saturating_sub(2), g.1 + 2, ya, yb)
        .unwrap_or((g.0 + g.1) as f32 / 2.0)
}

/// The pulse's box from its two edges' column groups and strokes, sub-pixel.
fn pulse_box(
    ink: &InkView,
    (rise_cols, rise): ((usize, usize), Run),
    (fall_cols, fall): ((usize, usize), Run),
) -> PulseBox {
    // The rising stroke's top: the falling one can run on into ink above the pulse (on a
    // photo, what is left of a grid line it crosses).
    let (y_top, y_bottom) = (rise.top as f32, rise.bottom.max(fall.bottom) as f32);
    let h = y_bottom - y_top;
    let (ya, yb) = (y_top + 0.25 * h, y_bottom - 0.25 * h);
    PulseBox {
        x_rise: edge_x(ink, rise_cols, ya, yb),
        x_fall: edge_x(ink, fall_cols, ya, yb),
        y_top,
        y_bottom,
        rise_cut: rise_cols.0 == 0,
    }
}

fn find_pulse(
    probe: &PulseProbe,
    ink: &InkView,
    x_first: usize,
    px_per_mm_x: f32,
    px_per_mm_y: f32,
    px_per_s: f32,
    opts: &LayoutOptions,
) -> Option<PulseBox> {
    let x_to = (x_first + (opts.pulse_width_s.1 * px_per_s + 2.0 * px_per_mm_x) as usize)
        .min(probe.runs.columns.len() - 1);
    let groups = probe.groups(x_first.saturating_sub(px_per_mm_x as usize)..=x_to);
    let first = groups
        .first()
        .and_then(|&g| Some((g, probe.stroke((g.0 + g.1) / 2)?)));
    if let Some((first, rise)) = first {
        // A page cropped through its pulse: ink from the left border along the top, then
        // the falling edge. Its height still calibrates; its edges cannot time anything.
        let height_mm = (rise.bottom - rise.top) as f32 / px_per_mm_y;
        if x_first == 0
            && first.0 > 0
            && (first.0 as f32) < opts.pulse_width_s.1 * px_per_s
            && (opts.pulse_height_mm.0..=opts.pulse_height_mm.1).contains(&height_mm)
            && probe.flat_top(0..first.0, rise.top)
        {
            let h = (rise.bottom - rise.top) as f32;
            let (ya, yb) = (rise.top as f32 + 0.25 * h, rise.bottom as f32 - 0.25 * h);
            return Some(PulseBox {
                x_rise: 0.0,
                x_fall: edge_x(ink, first, ya, yb),
                y_top: rise.top as f32,
                y_bottom: rise.bottom as f32,
                rise_cut: true,
            });
        }
        if first.0 <= x_first + (2.0 * px_per_mm_x) as usize {
            if let Some(p) = full_pulse(probe, ink, first, rise, px_per_s, opts) {
                return Some(p);
            }
        }
    }
    // A photo's flat trace lying along a grid line can go with the line, leaving the row's
    // longest stretch of ink to start before the pulse (a mark in the margin) or after it
    // (a gap after the pulse): the first whole pulse from the page's left edge stands. Its
    // rising edge may lean across columns where the flattening is a pixel off.
    probe
        .groups(0..=x_to)
        .into_iter()
        .find_map(|g| full_pulse(probe, ink, g, probe.leaning_stroke(g)?, px_per_s, opts))
}

/// The pulse that rises at columns `rise_cols` with stroke `rise`: a falling edge a pulse
/// width later that starts at the rise's top, joined to it by a horizontal stroke.
fn full_pulse(
    probe: &PulseProbe,
    ink: &InkView,
    rise_cols: (usize, usize),
    rise: Run,
    px_per_s: f32,
    opts: &LayoutOptions,
) -> Option<PulseBox> {
    let lo = rise_cols.1 + (opts.pulse_width_s.0 * px_per_s) as usize;
    let hi = (rise_cols.1 + (opts.pulse_width_s.1 * px_per_s) as usize)
        .min(probe.runs.columns.len() - 1);
    let fall_start = (lo..=hi).find(|&x| probe.starts_at(x, rise.top))?;
    let mut fall_end = fall_start;
    while fall_end < hi && probe.starts_at(fall_end + 1, rise.top) {
        fall_end += 1;
    }
    let fall = probe.stroke((fall_start + fall_end) / 2)?;
    if !probe.flat_top((rise_cols.1 + 1)..fall_start, rise.top) {
        return None;
    }
    Some(pulse_box(
        ink,
        (rise_cols, rise),
        ((fall_start, fall_end), fall),
    ))
}

/// A calibration pulse printed at the row's right end, after the trace (some devices put it
/// there): the falling edge within 2 mm of the row's last ink, the rising edge a pulse width
/// before it, joined by a flat top. It gives the gain, the baseline and the paper speed, not
/// the time origin.
fn find_end_pulse(
    probe: &PulseProbe,
    ink: &InkView,
    x_end: usize,
    px_per_mm_x: f32,
    px_per_mm_y: f32,
    px_per_s: f32,
    opts: &LayoutOptions,
) -> Option<PulseBox> {
    let w = probe.runs.columns.len();
    let x_from =
        x_end.saturating_sub((opts.pulse_width_s.1 * px_per_s + 2.0 * px_per_mm_x) as usize);
    let last = *probe.groups(x_from..=x_end.min(w - 1)).last()?;
    // A pulse cut by the right border may have lost its falling edge.
    if last.1 + 1 >= w || last.1 + ((2.0 * px_per_mm_x) as usize) < x_end {
        return None;
    }
    let fall = probe.stroke((last.0 + last.1) / 2)?;
    let height_mm = (fall.bottom - fall.top) as f32 / px_per_mm_y;
    if !(opts.pulse_height_mm.0..=opts.pulse_height_mm.1).contains(&height_mm) {
        return None;
    }
    // The rising edge: the nearest columns before it, a pulse width away, whose tall stroke
    // starts at the fall's top.
    let hi = last
        .0
        .checked_sub((opts.pulse_width_s.0 * px_per_s) as usize)?;
    let lo = last
        .0
        .saturating_sub((opts.pulse_width_s.1 * px_per_s) as usize);
    let rise_end = (lo..=hi).rev().find(|&x| probe.starts_at(x, fall.top))?;
    let mut rise_start = rise_end;
    while rise_start > lo && probe.starts_at(rise_start - 1, fall.top) {
        rise_start -= 1;
    }
    let rise = probe.stroke((rise_start + rise_end) / 2)?;
    if !probe.flat_top((rise_end + 1)..last.0, fall.top) {
        return None;
    }
    Some(pulse_box(ink, ((rise_start, rise_end), rise), (last, fall)))
}

#[allow(clippy::too_many_arguments)]
fn find_separators(
    runs: &ColumnRuns,
    x_from: usize,
    x_to: usize,
    top: f32,
    bottom: f32,
    centre_y: f32,
    px_per_mm_x: f32,
    px_per_mm_y: f32,
    opts: &LayoutOptions,
) -> Vec<Separator> {
    if x_to <= x_from {
        return Vec::new();
    }
    let min_len = (opts.min_stroke_mm * px_per_mm_y) as u32;
    let max_w = (opts.max_separator_mm * px_per_mm_x).ceil() as usize;
    let min_w = ((opts.min_separator_mm * px_per_mm_x).round() as usize).max(2);
    let mut out: Vec<Separator> = Vec::new();
    for (a, b) in stroke_groups(runs, x_from, x_to, top, bottom, min_len) {
        // A bar keeps the same extent across its width; a QRS stroke does not.
        let extents: Vec<Run> = (a..=b)
            .filter_map(|x| tallest(runs, x, top, bottom))
            .collect();
        let mut tops: Vec<f32> = extents.iter().map(|r| r.top as f32).collect();
        let mut bots: Vec<f32> = extents.iter().map(|r| r.bottom as f32).collect();
        // Columns whose stroke ends at `top` and `bottom` (`both`), or at either one.
        let matching = |top: f32, bottom: f32, both: bool| -> Vec<usize> {
            (a..=b)
                .zip(&extents)
                .filter(|(_, r)| {
                    let at_top = (r.top as f32 - top).abs() <= 1.5;
                    let at_bottom = (r.bottom as f32 - bottom).abs() <= 1.5;
                    if both {
                        at_top && at_bottom
                    } else {
                        at_top || at_bottom
                    }
                })
                .map(|(x, _)| x)
                .collect()
        };
        let (mut mt, mut mb) = (median(&mut tops), median(&mut bots));
        let mut steady = matching(mt, mb, true);
        if steady.len() < min_w {
            // A trace touching a narrow bar (a few pixels wide at 100 DPI) lengthens it at one
            // end in some columns: the bar is then the part every column shares, and each
            // column still matches it at its other end.
            let core = (
                tops.iter().copied().fold(f32::MIN, f32::max),
                bots.iter().copied().fold(f32::MAX, f32::min),
            );
            if core.1 - core.0 >= min_len as f32 {
                steady = matching(core.0, core.1, false);
                (mt, mb) = core;
            }
        }
        if steady.len() < min_w
            || steady.len() > max_w
            || ((mt + mb) / 2.0 - centre_y).abs() > opts.separator_reach_mm * px_per_mm_y
        {
            continue;
        }
        out.push(Separator {
            x_from: steady[0],
            x_to: *steady.last().unwrap(),
            y_center: (mt + mb) / 2.0,
            y_top: mt,
            y_bottom: mb,
            borrowed: false,
        });
    }
    // A separator stands alone; a burst of noise makes many bar-like strokes side by side.
    let margin = px_per_mm_x.ceil() as usize;
    let crowded: Vec<bool> = (0..out.len())
        .map(|i| {
            (0..out.len()).any(|j| {
                j != i
                    && out[j].x_from <= out[i].x_to + margin
                    && out[j].x_to + margin >= out[i].x_from
            })
        })
        .collect();
    out.into_iter()
        .zip(crowded)
        .filter(|(_, c)| !c)
        .map(|(s, _)| s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::LabelRead;
    use crate::raster::Plane;

    fn row(center_y: f32) -> Row {
        Row {
            center_y,
            band_top: center_y - 50.0,
            band_bottom: center_y + 50.0,
            x_start: 100.0,
            x_end: 2100.0,
            pulse: None,
            end_pulse: None,
            separators: Vec::new(),
            label_zones: Vec::new(),
        }
    }

    #[test]
    fn a_row_of_header_ink_far_above_the_printed_rows_is_dropped() {
        // ph018 with a smoother mesh: the header's text along the photo's cut top edge read
        // as a fifth row, 2.5 row spacings above four rows that all have a pulse.
        let with_pulse = |y: f32| Row {
            pulse: Some(PulseBox {
                x_rise: 60.0,
                x_fall: 100.0,
                y_top: y - 80.0,
                y_bottom: y,
                rise_cut: false,
            }),
            ..row(y)
        };
        let printed = [790.0, 1071.0, 1352.0, 1618.0].map(with_pulse);
        let mut rows = vec![row(95.0)];
        rows.extend(printed.iter().cloned());
        drop_stray_edge_rows(&mut rows, LayoutOptions::default().max_stray_row_gap, 16.0);
        let centres: Vec<f32> = rows.iter().map(|r| r.center_y).collect();
        assert_eq!(centres, vec![790.0, 1071.0, 1352.0, 1618.0]);
        assert!(
            (rows[0].band_top - (790.0 - 281.0)).abs() < 1.0,
            "{}",
            rows[0].band_top
        );
        // A row without a pulse one spacing above the others is a row, and stays.
        let mut rows = vec![row(510.0)];
        rows.extend(printed.iter().cloned());
        drop_stray_edge_rows(&mut rows, LayoutOptions::default().max_stray_row_gap, 16.0);
        assert_eq!(rows.len(), 5);
    }

    #[test]
    fn a_header_row_is_dropped_though_a_letter_passes_for_a_separator() {
        // ph014 with a refined mesh: a letter's stem in the header read as one separator,
        // where no printed row has one; the rows below have separators at 817, 1318, 1817.
        let bar = |x: usize, y: f32| Separator {
            x_from: x,
            x_to: x + 5,
            y_center: y,
            y_top: y - 25.0,
            y_bottom: y + 25.0,
            borrowed: false,
        };
        let printed: Vec<Row> = [825.0, 1111.0, 1397.0]
            .iter()
            .map(|&y| Row {
                separators: [817, 1318, 1817].iter().map(|&x| bar(x, y)).collect(),
                ..row(y)
            })
            .collect();
        let header = |x: usize| Row {
            separators: vec![bar(x, 136.0)],
            ..row(136.0)
        };
        let mut rows = vec![header(1102)];
        rows.extend(printed.iter().cloned());
        drop_stray_edge_rows(&mut rows, LayoutOptions::default().max_stray_row_gap, 16.0);
        assert_eq!(rows.len(), 3);
        // A bar in line with the printed rows' is a separator, and its row stays.
        let mut rows = vec![header(1320)];
        rows.extend(printed.iter().cloned());
        drop_stray_edge_rows(&mut rows, LayoutOptions::default().max_stray_row_gap, 16.0);
        assert_eq!(rows.len(), 4);
        // ph018 with a refined mesh: a stem 9 px beside a bar's column, but under half a
        // bar's height, is a letter's.
        let stem = Separator {
            x_from: 826,
            x_to: 827,
            y_top: 125.0,
            y_bottom: 148.0,
            ..bar(826, 136.0)
        };
        let mut rows = vec![Row {
            separators: vec![stem],
            ..row(136.0)
        }];
        rows.extend(printed.iter().cloned());
        drop_stray_edge_rows(&mut rows, LayoutOptions::default().max_stray_row_gap, 16.0);
        assert_eq!(rows.len(), 3);
    }

    fn label(lead: Lead, x_left: f32, y_center: f32) -> LabelRead {
        LabelRead {
            lead,
            x_left,
            x_right: x_left + 20.0,
            y_center,
            height: 20.0,
            distance: 0.05,
        }
    }

    fn geometry<'a>(rows: &'a [Row], reads: &[LabelRead]) -> PageGeometry<'a> {
        let px_per_s = 200.0;
        PageGeometry {
            rows,
            columns: &[],
            x0: 100.0,
            duration_s: 10.0,
            px_per_s,
            px_per_mm_x: 8.0,
            label_dy: label_offset(rows, reads, 16.0),
            label_dx: label_offset_x(reads, 100.0, 10.0, px_per_s, 5.0),
        }
    }

    #[test]
    fn a_narrow_bar_lengthened_by_a_touching_trace_is_still_a_bar() {
        // 100 DPI: a 3 px bar over rows 40..=70 on a trace at row 55, which touches the bar's
        // foot in its last two columns as it falls away.
        let mut p = crate::raster::Plane::new(120, 110, 0.0);
        for x in 0..120 {
            p.set(x, 55, 1.0);
        }
        for x in 60..63 {
            for y in 40..=70 {
                p.set(x, y, 1.0);
            }
        }
        for (x, end) in [(61, 72), (62, 75)] {
            for y in 70..=end {
                p.set(x, y, 1.0);
            }
        }
        let runs = ColumnRuns::build(&p, 0.5, |v| v);
        let o = LayoutOptions::default();
        let bars = find_separators(&runs, 10, 110, 20.0, 90.0, 55.0, 3.94, 3.94, &o);
        assert_eq!(bars.len(), 1, "{bars:?}");
        assert_eq!((bars[0].x_from, bars[0].x_to), (60, 62));
        assert_eq!((bars[0].y_top, bars[0].y_bottom), (40.0, 70.0));
    }

    /// 8 px/mm: a 10 mm pulse rising at column 40 and falling at 80 on a baseline at row 100,
    /// the trace going on from its foot, and whatever `extra` draws.
    fn pulse_row(extra: impl Fn(&mut Plane)) -> Plane {
        let mut p = Plane::new(600, 160, 0.0);
        for y in 20..=100 {
            for x in [40, 41, 80, 81] {
                p.set(x, y, 1.0);
            }
        }
        for x in 40..=81 {
            p.set(x, 20, 1.0);
            p.set(x, 21, 1.0);
        }
        for x in 80..600 {
            p.set(x, 100, 1.0);
            p.set(x, 101, 1.0);
        }
        extra(&mut p);
        p
    }

    #[test]
    fn a_pulse_is_found_where_the_rows_longest_stretch_of_ink_does_not_start_with_it() {
        let o = LayoutOptions::default();
        let weight = |v: f32| v;
        let find = |p: &Plane, x_first: usize| {
            let runs = ColumnRuns::build(p, 0.5, |v| v);
            let ink = InkView {
                plane: p,
                weight: &weight,
            };
            let probe = PulseProbe::new(&runs, 100.0, 8.0, &o);
            find_pulse(&probe, &ink, x_first, 8.0, 8.0, 200.0, &o)
        };
        // A mark in the margin starts the row's ink at column 5; a flat stretch lost after
        // the pulse (a trace along a grid line, taken out with it) starts it at column 300.
        let mark = pulse_row(|p| {
            for y in 95..=105 {
                p.set(5, y, 1.0);
            }
        });
        let gap = pulse_row(|p| {
            for x in 90..300 {
                p.set(x, 100, 0.0);
                p.set(x, 101, 0.0);
            }
        });
        // ... and where the flattening leans the rising edge across three columns.
        let lean = pulse_row(|p| {
            for y in 20..=100 {
                for x in [40, 41] {
                    p.set(x, y, 0.0);
                }
                let x = 40 + (100 - y) / 30;
                p.set(x, y, 1.0);
                p.set(x + 1, y, 1.0);
            }
            for y in 95..=105 {
                p.set(5, y, 1.0);
            }
        });
        for (p, x_first) in [(&mark, 5), (&gap, 300), (&lean, 5)] {
            let pulse = find(p, x_first).unwrap_or_else(|| panic!("no pulse, ink from {x_first}"));
            assert!((pulse.x_rise - 41.0).abs() < 1.5, "{pulse:?}");
            assert!((pulse.x_fall - 80.5).abs() < 1.0, "{pulse:?}");
            assert_eq!(pulse.y_top, 20.0);
        }
        // Two strokes a pulse width apart without a top joining them are no pulse.
        let open = pulse_row(|p| {
            for x in 42..80 {
                p.set(x, 20, 0.0);
                p.set(x, 21, 0.0);
            }
        });
        assert_eq!(find(&open, 5), None);
    }

    #[test]
    fn thin_light_trace_rows_are_found_under_a_heavier_line_of_text() {
        // Three hairline traces, each column a single pixel at 0.55 of full ink, and above
        // them a bold line of words. Counting only runs of a full pixel found none of them.
        let (w, h, px_per_mm) = (400, 300, 3.4);
        let mut p = Plane::new(w, h, 0.0);
        for cy in [100.0f32, 180.0, 260.0] {
            for x in 10..390 {
                let y = cy + 3.0 * (x as f32 * 0.15).sin();
                p.set(x, y.round() as usize, 0.55);
            }
        }
        for x in 150..350 {
            if x % 10 < 6 {
                for y in 36..=44 {
                    p.set(x, y, 1.0);
                }
            }
        }
        let runs = ColumnRuns::build(&p, 0.5, |v| v);
        let base = LayoutOptions::default();
        let heavy_only = find_row_centers(&runs, px_per_mm, &base);
        assert!(heavy_only.iter().all(|&c| c < 60.0), "{heavy_only:?}");
        let opts = LayoutOptions {
            row_run_mass: row_run_mass(&runs, &base),
            ..base
        };
        let rows = find_row_centers(&runs, px_per_mm, &opts);
        assert_eq!(rows.len(), 3, "{rows:?}");
        for (found, cy) in rows.iter().zip([100.0, 180.0, 260.0]) {
            assert!((found - cy).abs() <= 4.0, "{rows:?}");
        }
    }

    #[test]
    fn one_label_naming_its_panel_places_every_label_from_the_rows_baselines() {
        // A photo: the rows' ink centres lie 20 px above their baselines (the pulses' feet),
        // and the only label read is V1, 2 px after its panel's start and 45 px below the
        // baseline: too few to agree on a place page-wide.
        let mut rows = vec![row(300.0), row(600.0)];
        for r in &mut rows {
            r.pulse = Some(PulseBox {
                x_rise: 60.0,
                x_fall: 100.0,
                y_top: r.center_y - 60.0,
                y_bottom: r.center_y + 20.0,
                rise_cut: false,
            });
        }
        let reads = vec![label(Lead::V1, 1102.0, 365.0)];
        let g = geometry(&rows, &reads);
        assert_eq!(g.label_dx, None);
        let spec = LayoutSpec::standard_3x4(&[Lead::II]);
        let naming = vec![(&reads[0], 0, 2)];
        let (dx, dy, anchors) = label_place(&g, &spec, &naming).unwrap();
        assert!(
            (dx - 2.0).abs() < 1e-3 && (dy - 45.0).abs() < 1e-3,
            "{dx} {dy}"
        );
        assert_eq!(anchors, [320.0, 620.0]);
        // Without a label naming its panel, no place is guessed.
        assert!(label_place(&g, &spec, &[]).is_none());
    }

    #[test]
    fn label_zones_stand_at_every_panel_start_as_the_page_prints_labels() {
        let anchors = [300.0, 600.0];
        let reads = vec![label(Lead::I, 102.0, 340.0), label(Lead::AVR, 602.0, 340.0)];
        let spec = LayoutSpec {
            name: "test".into(),
            rows: vec![vec![Lead::I, Lead::AVR, Lead::V1, Lead::V4], vec![Lead::II]],
            same_time_columns: false,
            inverted: Vec::new(),
        };
        let zones = label_zones(&spec, &anchors, &reads, 100.0, 2.0, 40.0, 10.0, 200.0);
        assert_eq!(zones[0].len(), 4);
        assert_eq!(zones[1].len(), 1);
        let z = zones[0][2];
        // Third panel starts at 100 + 5 s * 200 px/s; the label 2 px after it, 40 px below.
        assert!(
            z[0] < 1102.0 && z[1] > 1122.0 && z[2] < 330.0 && z[3] > 350.0,
            "{z:?}"
        );
    }

    #[test]
    fn labels_between_close_rows_belong_to_the_row_they_stand_under() {
        // 12x1 rows 110 px apart, every label 60 px below its row: nearer the next row. Only
        // the bottom row's label tells the two readings apart (no row lies below it).
        let rows: Vec<Row> = (0..12).map(|k| row(200.0 + 110.0 * k as f32)).collect();
        let reads: Vec<LabelRead> = (0..12)
            .map(|k| label(Lead::ALL[k], 102.0, 200.0 + 110.0 * k as f32 + 60.0))
            .collect();
        let g = geometry(&rows, &reads);
        assert!((g.label_dy - 60.0).abs() < 1.0, "offset {}", g.label_dy);
        for (k, l) in reads.iter().enumerate() {
            assert_eq!(g.row_of(l.y_center), k);
        }
    }

    #[test]
    fn a_word_read_without_its_first_glyph_names_no_panel() {
        let rows = vec![row(300.0), row(600.0), row(900.0)];
        let reads = vec![
            label(Lead::I, 102.0, 350.0),
            label(Lead::AVR, 602.0, 350.0),
            label(Lead::V4, 1602.0, 350.0),
        ];
        let g = geometry(&rows, &reads);
        assert_eq!(g.column_of(1102.0, 4, 3.0), Some(2));
        // `V1` read as `I`: the same word one glyph (9 px) further right.
        assert_eq!(g.column_of(1111.0, 4, 3.0), None);
    }

    #[test]
    fn labels_rename_a_six_by_two_page_printed_in_another_order() {
        let rows: Vec<Row> = (0..7).map(|k| row(300.0 + 180.0 * k as f32)).collect();
        let truth = LayoutSpec::bottom_up(2, &[Lead::II]);
        let mut reads = Vec::new();
        for (r, leads) in truth.rows.iter().enumerate() {
            for (c, &lead) in leads.iter().enumerate() {
                // Two labels unread, as when they touch a trace.
                if (r, c) != (0, 1) && (r, c) != (2, 1) {
                    reads.push(label(
                        lead,
                        102.0 + 1000.0 * c as f32,
                        rows[r].center_y + 40.0,
                    ));
                }
            }
        }
        let g = geometry(&rows, &reads);
        let mut spec = LayoutSpec::six_by_two(&[Lead::II]);
        let renamed = name_panels_from_labels(&mut spec, &g, &reads, &LayoutOptions::default());
        assert!(renamed >= 10);
        assert_eq!(spec.rows, truth.rows);
    }

    #[test]
    fn one_label_against_the_layout_is_taken_for_a_misread() {
        let rows = vec![row(300.0), row(600.0), row(900.0), row(1200.0)];
        // `III` read as `II`, and the real `II` unread.
        let reads = vec![
            label(Lead::I, 102.0, 340.0),
            label(Lead::II, 102.0, 940.0),
            label(Lead::AVF, 602.0, 940.0),
            label(Lead::V3, 1102.0, 940.0),
        ];
        let g = geometry(&rows, &reads);
        let mut spec = LayoutSpec::standard_3x4(&[Lead::II]);
        let before = spec.clone();
        name_panels_from_labels(&mut spec, &g, &reads, &LayoutOptions::default());
        assert_eq!(spec, before);
    }
}
