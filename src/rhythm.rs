//! Stage 6b, rhythm: name each rhythm strip by the short panel it repeats.
//!
//! A rhythm strip is one lead printed for the whole page, and that lead also appears as a
//! short panel somewhere above it, at the same seconds and so at the same columns. The strip's
//! trace over a panel's columns therefore matches that panel's trace, up to a vertical shift;
//! the best-matched panel names the strip. This needs no label reading and works whichever
//! lead the strip shows (II, V1, V5, ...).

use crate::layout::Layout;
use crate::lead::Lead;
use crate::traces::RowTrace;

/// Tuning of the matching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RhythmOptions {
    /// A strip is renamed only when its best match scores at least this well.
    pub min_correlation: f32,
    /// ... and better than the currently assumed lead's panel by this margin.
    pub margin: f32,
}

impl Default for RhythmOptions {
    fn default() -> Self {
        RhythmOptions {
            min_correlation: 0.9,
            margin: 0.05,
        }
    }
}

/// One rhythm strip's naming decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Naming {
    /// Row of the strip.
    pub row: usize,
    /// The lead the strip was matched to.
    pub lead: Lead,
    /// How well it matched (see `correlation`: 1 for the same trace).
    pub correlation: f32,
    /// Whether the match changed the layout's assumption.
    pub changed: bool,
}

/// Renames rhythm strips (rows with one panel spanning the page) after the short panel they
/// repeat, and returns what was decided for each strip.
pub fn identify(layout: &mut Layout, traces: &[RowTrace], opts: &RhythmOptions) -> Vec<Naming> {
    let mut out = Vec::new();
    let strips: Vec<usize> = (0..layout.rows.len())
        .filter(|&r| layout.panels.iter().filter(|p| p.row == r).count() == 1)
        .collect();
    for r in strips {
        let Some(strip) = traces.get(r) else { continue };
        let mut scores: Vec<(Lead, f32)> = layout
            .panels
            .iter()
            .filter(|p| !strips_contain(layout, p.row))
            .filter_map(|p| {
                let other = traces.get(p.row)?;
                correlation(layout, strip, other, p).map(|c| (p.lead, c))
            })
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let Some(&(best, corr)) = scores.first() else {
            continue;
        };
        let Some(panel) = layout.panels.iter_mut().find(|p| p.row == r) else {
            continue;
        };
        let current = scores
            .iter()
            .find(|s| s.0 == panel.lead)
            .map_or(-1.0, |s| s.1);
        let changed =
            best != panel.lead && corr >= opts.min_correlation && corr > current + opts.margin;
        if changed {
            panel.lead = best;
            // It repeats that panel's ink, printed the same way up.
            panel.inverted = layout.spec.is_inverted(best);
            if let Some(row) = layout.spec.rows.get_mut(r) {
                *row = vec![best];
            }
        }
        out.push(Naming {
            row: r,
            lead: panel.lead,
            correlation: corr,
            changed,
        });
    }
    if out.iter().any(|n| n.changed) {
        refresh_name(layout);
    }
    out
}

fn strips_contain(layout: &Layout, row: usize) -> bool {
    layout.panels.iter().filter(|p| p.row == row).count() == 1
}

/// Rewrites `3x4+II` style names after renaming strips.
fn refresh_name(layout: &mut Layout) {
    if let Some((base, _)) = layout.spec.name.split_once('+') {
        let strips: Vec<&str> = layout
            .spec
            .rows
            .iter()
            .filter(|r| r.len() == 1)
            .map(|r| r[0].name())
            .collect();
        layout.spec.name = format!("{base}+{}", strips.join(","));
    }
}

/// How well the strip matches a short panel over the panel's seconds, read at 200 Hz where
/// both traces have ink: twice their covariance over the sum of their variances. That is
/// their correlation, scaled down as their amplitudes differ (Lin's concordance, without a
/// mean term: the strip sits lower on the page). Both are printed at one gain, while a lead
/// of a similar shape need not have the strip's height: aVF beside II, V5 beside V6.
fn correlation(
    layout: &Layout,
    strip: &RowTrace,
    other: &RowTrace,
    p: &crate::layout::Panel,
) -> Option<f32> {
    let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    let (lo, hi) = (layout.panel_x(p, p.t_from_s), layout.panel_x(p, p.t_to_s));
    let steps = ((p.t_to_s - p.t_from_s) * 200.0) as usize;
    for i in 0..steps {
        let t = p.t_from_s + i as f32 / 200.0;
        let (xa, xb) = (layout.x_of(t), layout.panel_x(p, t));
        if !(strip.has(xa.round() as usize) && other.has(xb.round() as usize)) {
            continue;
        }
        let (Some(ya), Some(yb)) = (strip.y_at(xa, f32::MIN, f32::MAX), other.y_at(xb, lo, hi))
        else {
            continue;
        };
        let (ya, yb) = (ya as f64, yb as f64);
        n += 1.0;
        sa += ya;
        sb += yb;
        saa += ya * ya;
        sbb += yb * yb;
        sab += ya * yb;
    }
    if n < 50.0 {
        return None;
    }
    let va = saa / n - (sa / n).powi(2);
    let vb = sbb / n - (sb / n).powi(2);
    if va <= 1e-9 || vb <= 1e-9 {
        return None;
    }
    Some((2.0 * (sab / n - sa * sb / (n * n)) / (va + vb)) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Panel, Row};
    use crate::options::LayoutSpec;

    fn trace(ys: Vec<f32>) -> RowTrace {
        RowTrace {
            x_from: 0,
            points: ys.iter().enumerate().map(|(i, &y)| [i as f32, y]).collect(),
            ys,
            thickness_px: 2.0,
        }
    }

    fn row() -> Row {
        Row {
            center_y: 0.0,
            band_top: 0.0,
            band_bottom: 0.0,
            x_start: 0.0,
            x_end: 400.0,
            pulse: None,
            end_pulse: None,
            separators: vec![],
            label_zones: vec![],
        }
    }

    /// A page of two short panels side by side, 5 s each, above a 10 s strip assumed to be
    /// `strip`: 40 px a second.
    fn strip_below(short: [Lead; 2], strip: Lead) -> Layout {
        Layout {
            spec: LayoutSpec {
                name: format!("test+{}", strip.name()),
                rows: vec![short.to_vec(), vec![strip]],
                same_time_columns: false,
                inverted: Vec::new(),
            },
            detected: true,
            rows: vec![row(), row()],
            x0: 0.0,
            px_per_s: 40.0,
            duration_s: 10.0,
            labels_read: 0,
            panels: [
                (short[0], 0, 0.0, 5.0),
                (short[1], 0, 5.0, 10.0),
                (strip, 1, 0.0, 10.0),
            ]
            .map(|(lead, row, t_from_s, t_to_s)| Panel {
                lead,
                inverted: false,
                row,
                t_from_s,
                t_to_s,
                x_from_s: t_from_s,
            })
            .to_vec(),
        }
    }

    #[test]
    fn strip_is_named_after_the_panel_it_repeats() {
        // Two short rows: [I | V1] and a strip assumed to be II that really repeats V1.
        let mut layout = strip_below([Lead::I, Lead::V1], Lead::II);
        let wave = |x: usize, f: f32| 100.0 + 10.0 * (x as f32 * f).sin();
        let top: Vec<f32> = (0..400)
            .map(|x| {
                if x < 200 {
                    wave(x, 0.05)
                } else {
                    wave(x, 0.13)
                }
            })
            .collect();
        // The strip is V1's wave throughout, shifted down by 30 px.
        let strip: Vec<f32> = (0..400).map(|x| wave(x, 0.13) + 30.0).collect();
        let names = identify(
            &mut layout,
            &[trace(top), trace(strip)],
            &RhythmOptions::default(),
        );
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].lead, Lead::V1);
        assert!(names[0].changed);
        assert_eq!(layout.panels[2].lead, Lead::V1);
        assert_eq!(layout.spec.name, "test+V1");
    }

    #[test]
    fn a_strip_is_not_renamed_after_a_smaller_copy_of_its_own_lead() {
        // [II | aVF] above a strip of II. On a photo the short II panel is read with noise;
        // aVF has II's shape at half its height (aVF = (II + III) / 2 on a page with a small
        // III), so it correlates better and only the amplitude tells them apart.
        let mut layout = strip_below([Lead::II, Lead::AVF], Lead::II);
        let wave = |x: usize| 10.0 * (x as f32 * 0.13).sin();
        let top: Vec<f32> = (0..400)
            .map(|x| {
                if x < 200 {
                    100.0 + wave(x) + 5.0 * (x as f32 * 2.3).sin()
                } else {
                    100.0 + 0.5 * wave(x)
                }
            })
            .collect();
        let strip: Vec<f32> = (0..400).map(|x| 130.0 + wave(x)).collect();
        let names = identify(
            &mut layout,
            &[trace(top), trace(strip)],
            &RhythmOptions::default(),
        );
        assert_eq!(names[0].lead, Lead::II);
        assert!(!names[0].changed);
    }
}
