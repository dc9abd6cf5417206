//! Stage 6b, Einthoven: tell the page's lead order from the traces themselves.
//!
//! The six limb leads are two signals seen six ways (Einthoven's and Goldberger's relations):
//! III = II − I, aVR = −(I + II)/2, aVL = I − II/2, aVF = II − I/2, whatever the heart does.
//! On pages that print the limb leads over the same seconds (6x2, 12x1), the order that
//! names the panels right is the one whose limb leads obey these relations; a wrong order
//! mixes chest leads in and breaks them. This needs no label reading, so it holds where the
//! labels are too small, too noisy or missing.
//! See <https://en.wikipedia.org/wiki/Einthoven%27s_triangle>.

use crate::layout::Layout;
use crate::lead::Lead;
use crate::options::LayoutSpec;
use crate::traces::RowTrace;

/// Tuning of the order check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EinthovenOptions {
    /// Samples per second at which panels are compared.
    pub rate_hz: f32,
    /// Fewest common samples for a relation to count.
    pub min_samples: usize,
    /// An other order replaces the layout's only when its residual is below this ...
    pub max_residual: f32,
    /// ... and below this share of the layout's own residual.
    pub max_ratio: f32,
}

impl Default for EinthovenOptions {
    fn default() -> Self {
        EinthovenOptions {
            rate_hz: 100.0,
            min_samples: 100,
            max_residual: 0.35,
            max_ratio: 0.5,
        }
    }
}

/// The relations, as coefficients over the limb leads (I, II, III, aVR, aVL, aVF: the first
/// six of [`Lead::ALL`]) that sum to zero.
const RELATIONS: [[f32; 6]; 4] = [
    [1.0, -1.0, 1.0, 0.0, 0.0, 0.0],
    [1.0, 1.0, 0.0, 2.0, 0.0, 0.0],
    [-2.0, 1.0, 0.0, 0.0, 2.0, 0.0],
    [1.0, -2.0, 0.0, 0.0, 0.0, 2.0],
];

/// What the check decided.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderCheck {
    /// Residual of the layout's own order (0: the relations hold exactly, about 1 or more:
    /// they do not hold at all), if it could be measured.
    pub residual: Option<f32>,
    /// The order taken instead, with its residual.
    pub replaced_by: Option<(LayoutSpec, f32)>,
}

/// How badly `naming` (its leads per layout row, as the panels are laid out, and those it
/// prints upside down) breaks the limb-lead relations on this page: the relations' power over the leads' own, after removing each
/// panel's mean (rows sit at different heights). `None` where the limb leads do not share
/// enough seconds to tell.
pub fn residual(
    layout: &Layout,
    naming: &LayoutSpec,
    traces: &[RowTrace],
    opts: &EinthovenOptions,
) -> Option<f32> {
    let rows = &naming.rows;
    // The short panel that shows each limb lead under this naming.
    let rhythm = naming.rhythm_rows();
    let mut col = vec![0usize; rows.len()];
    let mut panel_of: [Option<usize>; 6] = [None; 6];
    for (k, p) in layout.panels.iter().enumerate() {
        let c = col[p.row];
        col[p.row] += 1;
        if rhythm.get(p.row).copied().unwrap_or(true) {
            continue;
        }
        let Some(&lead) = rows.get(p.row).and_then(|r| r.get(c)) else {
            continue;
        };
        if let Some(i) = Lead::ALL[..6].iter().position(|&l| l == lead) {
            panel_of[i].get_or_insert(k);
        }
    }
    let (mut bad, mut total) = (0f64, 0f64);
    for rel in &RELATIONS {
        let used: Vec<(usize, f32)> = (0..6)
            .filter(|&i| rel[i] != 0.0)
            // A lead printed upside down enters with the opposite sign.
            .map(|i| panel_of[i].map(|k| (k, naming.sign(Lead::ALL[i]) * rel[i])))
            .collect::<Option<_>>()?;
        // Each panel with the columns it spans.
        let panels: Vec<_> = used
            .iter()
            .map(|&(k, _)| {
                let p = &layout.panels[k];
                (
                    p,
                    layout.panel_x(p, p.t_from_s),
                    layout.panel_x(p, p.t_to_s),
                )
            })
            .collect();
        let from = panels.iter().map(|p| p.0.t_from_s).fold(f32::MIN, f32::max);
        let to = panels.iter().map(|p| p.0.t_to_s).fold(f32::MAX, f32::min);
        let n = ((to - from) * opts.rate_hz).floor().max(0.0) as usize;
        // Every lead of the relation at each common instant, where all have ink.
        let mut samples: Vec<Vec<f32>> = vec![Vec::new(); used.len()];
        for s in 0..n {
            let t = from + (s as f32 + 0.5) / opts.rate_hz;
            let ys: Option<Vec<f32>> = panels
                .iter()
                .map(|&(p, lo, hi)| {
                    let tr = traces.get(p.row)?;
                    let x = layout.panel_x(p, t);
                    if !tr.has(x.round().max(0.0) as usize) {
                        return None;
                    }
                    tr.y_at(x, lo, hi)
                })
                .collect();
            if let Some(ys) = ys {
                for (v, y) in samples.iter_mut().zip(ys) {
                    v.push(y);
                }
            }
        }
        if samples[0].len() < opts.min_samples {
            return None;
        }
        for v in samples.iter_mut() {
            let mean = v.iter().sum::<f32>() / v.len() as f32;
            v.iter_mut().for_each(|y| *y -= mean);
        }
        for s in 0..samples[0].len() {
            let mut sum = 0f64;
            for (v, &(_, c)) in samples.iter().zip(&used) {
                sum += (c * v[s]) as f64;
                total += ((c * v[s]) as f64).powi(2);
            }
            bad += sum * sum;
        }
    }
    (total > 0.0).then(|| (bad / total) as f32)
}

/// Checks the layout's lead order against the other known orders of the same geometry, and
/// takes the one the traces agree with when it is clearly better. Rhythm strips keep their
/// leads.
pub fn check_order(
    layout: &mut Layout,
    traces: &[RowTrace],
    opts: &EinthovenOptions,
) -> OrderCheck {
    let own = residual(layout, &layout.spec, traces, opts);
    let mut check = OrderCheck {
        residual: own,
        replaced_by: None,
    };
    let shape = |s: &LayoutSpec| -> Vec<usize> { s.rows.iter().map(Vec::len).collect() };
    let rhythm = layout.spec.rhythm_rows();
    let mut best: Option<(LayoutSpec, f32)> = None;
    for mut alt in LayoutSpec::candidates(layout.rows.len()) {
        if shape(&alt) != shape(&layout.spec)
            || alt.same_time_columns != layout.spec.same_time_columns
            || alt.rows == layout.spec.rows
        {
            continue;
        }
        // The page's own rhythm strips, whatever the template assumed.
        for (r, row) in alt.rows.iter_mut().enumerate() {
            if rhythm.get(r).copied().unwrap_or(false) {
                *row = layout.spec.rows[r].clone();
            }
        }
        if let Some(e) = residual(layout, &alt, traces, opts) {
            if best.as_ref().is_none_or(|b| e < b.1) {
                best = Some((alt, e));
            }
        }
    }
    let Some((alt, e)) = best else {
        return check;
    };
    let clearly = e <= opts.max_residual && own.is_none_or(|o| e <= opts.max_ratio * o);
    if clearly {
        let mut col = vec![0usize; alt.rows.len()];
        for p in layout.panels.iter_mut() {
            if let Some(&lead) = alt.rows.get(p.row).and_then(|r| r.get(col[p.row])) {
                p.lead = lead;
                p.inverted = alt.is_inverted(lead);
            }
            col[p.row] += 1;
        }
        layout.spec.rows = alt.rows.clone();
        layout.spec.inverted = alt.inverted.clone();
        check.replaced_by = Some((alt, e));
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Panel, Row};
    use crate::render::synthetic_ecg;

    /// A 6x2 page's layout and traces drawn straight from a synthetic record in `order`.
    fn page(order: &LayoutSpec) -> (Layout, Vec<RowTrace>) {
        let ecg = synthetic_ecg(5, 70.0, 10.0, 500.0);
        let px_per_s = 100.0;
        let rows: Vec<Row> = (0..order.rows.len())
            .map(|r| Row {
                center_y: 100.0 * (r + 1) as f32,
                band_top: 0.0,
                band_bottom: 0.0,
                x_start: 0.0,
                x_end: 1000.0,
                pulse: None,
                end_pulse: None,
                separators: vec![],
                label_zones: vec![],
            })
            .collect();
        let mut panels = Vec::new();
        let mut traces = Vec::new();
        for (r, leads) in order.rows.iter().enumerate() {
            let step = 10.0 / leads.len() as f32;
            let mut ys = vec![f32::NAN; 1000];
            for (c, &lead) in leads.iter().enumerate() {
                panels.push(Panel {
                    lead,
                    inverted: false,
                    row: r,
                    t_from_s: 0.0,
                    t_to_s: step,
                    x_from_s: c as f32 * step,
                });
                let x0 = (c as f32 * step * px_per_s) as usize;
                for (i, y) in ys
                    .iter_mut()
                    .enumerate()
                    .skip(x0)
                    .take((step * px_per_s) as usize)
                {
                    let s = ((i - x0) as f32 / px_per_s * 500.0) as usize;
                    // 10 px per mV, y down, each row at its own height.
                    *y = rows[r].center_y - 10.0 * order.sign(lead) * ecg.lead(lead)[s];
                }
            }
            let points = ys
                .iter()
                .enumerate()
                .filter(|(_, y)| y.is_finite())
                .map(|(x, &y)| [x as f32, y])
                .collect();
            traces.push(RowTrace {
                x_from: 0,
                ys,
                points,
                thickness_px: 2.0,
            });
        }
        let layout = Layout {
            spec: LayoutSpec::six_by_two(&[Lead::II]),
            detected: true,
            rows,
            x0: 0.0,
            px_per_s,
            duration_s: 10.0,
            panels,
            labels_read: 0,
        };
        (layout, traces)
    }

    #[test]
    fn the_true_order_obeys_einthoven_and_a_wrong_one_does_not() {
        let truth = LayoutSpec::bottom_up(2, &[Lead::II]);
        let (layout, traces) = page(&truth);
        let o = EinthovenOptions::default();
        let right = residual(&layout, &truth, &traces, &o).unwrap();
        let wrong = residual(&layout, &LayoutSpec::six_by_two(&[Lead::II]), &traces, &o).unwrap();
        assert!(right < 0.01, "right order residual {right}");
        assert!(wrong > 0.5, "wrong order residual {wrong}");
    }

    #[test]
    fn a_page_read_in_the_wrong_order_is_renamed_from_its_traces() {
        let truth = LayoutSpec::bottom_up(2, &[Lead::II]);
        let (mut layout, traces) = page(&truth);
        let check = check_order(&mut layout, &traces, &EinthovenOptions::default());
        assert!(check.replaced_by.is_some());
        assert_eq!(layout.spec.rows, truth.rows);
        assert_eq!(layout.panels[0].lead, Lead::V1);
        assert_eq!(layout.panels[3].lead, Lead::AVR);
    }

    #[test]
    fn the_right_order_is_kept() {
        let truth = LayoutSpec::six_by_two(&[Lead::II]);
        let (mut layout, traces) = page(&truth);
        let check = check_order(&mut layout, &traces, &EinthovenOptions::default());
        assert!(check.replaced_by.is_none());
        assert!(check.residual.unwrap() < 0.01);
        assert_eq!(layout.spec.rows, truth.rows);
    }

    #[test]
    fn a_cabrera_page_is_recognised_with_its_inverted_avr() {
        let truth = LayoutSpec::cabrera_6x2(&[Lead::II]);
        let (mut layout, traces) = page(&truth);
        let check = check_order(&mut layout, &traces, &EinthovenOptions::default());
        assert!(check.replaced_by.is_some());
        assert_eq!(layout.spec.rows, truth.rows);
        assert_eq!(layout.spec.inverted, vec![Lead::AVR]);
        let avr = layout.panels.iter().find(|p| p.lead == Lead::AVR).unwrap();
        assert!(avr.inverted && avr.row == 2);
        assert!(layout.panels.iter().filter(|p| p.inverted).count() == 1);
        // Read upright, the printed -aVR breaks the relations.
        let o = EinthovenOptions::default();
        let upright = LayoutSpec {
            inverted: Vec::new(),
            ..truth
        };
        let upright = residual(&layout, &upright, &traces, &o).unwrap();
        assert!(upright > 0.5, "residual with aVR upright {upright}");
    }
}
