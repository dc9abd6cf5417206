//! Stage 7, signal: turn row traces into calibrated leads on a common 500 Hz timeline.
//!
//! Time comes from the column (x0 and px per second), amplitude from the row's baseline
//! and the gain; both scales are the grid's measured px/mm, never the page's width.
//! A lead printed twice (a short panel and a rhythm strip) is averaged where both exist.

use crate::calibration::{Baseline, Calibration, Source};
use crate::layout::Layout;
use crate::lead::Lead;
use crate::traces::RowTrace;
use serde::Serialize;

/// One lead's signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadSignal {
    /// The lead.
    pub lead: Lead,
    /// Index of the first sample on the page timeline (`start_sample / fs_hz` seconds).
    pub start_sample: usize,
    /// Millivolts per sample from `start_sample` on; `None` where the lead is not visible.
    pub samples_mv: Vec<Option<f32>>,
    /// Share of the lead's samples read directly from ink (not bridged), 0 to 1.
    pub confidence: f32,
}

impl LeadSignal {
    /// Start time in seconds.
    pub fn start_s(&self, fs_hz: f32) -> f32 {
        self.start_sample as f32 / fs_hz
    }

    /// The value at page sample `n`, if visible.
    pub fn at(&self, n: usize) -> Option<f32> {
        n.checked_sub(self.start_sample)
            .and_then(|i| self.samples_mv.get(i).copied().flatten())
    }
}

/// All leads on the page timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    /// Samples per second.
    pub fs_hz: f32,
    /// Length of the page timeline in samples.
    pub n_samples: usize,
    /// Leads found, in CSV column order.
    pub leads: Vec<LeadSignal>,
    /// Each row's baseline as used (the calibration's, or estimated from the trace).
    pub baselines: Vec<Baseline>,
}

/// Converts traces to millivolts.
pub fn convert(
    traces: &[RowTrace],
    layout: &Layout,
    calibration: &Calibration,
    px_per_mm_y: f32,
    fs_hz: f32,
) -> Signals {
    let end_s = layout.panels.iter().map(|p| p.t_to_s).fold(0f32, f32::max);
    let n_samples = (end_s * fs_hz).round() as usize;
    let px_per_mv = calibration.gain_mm_per_mv * px_per_mm_y;
    let baselines: Vec<Baseline> = traces
        .iter()
        .zip(&calibration.baselines)
        .map(|(t, b)| b.unwrap_or_else(|| trace_baseline(t)))
        .collect();

    // Per lead, the panels' sample values (several when the lead is printed twice).
    let mut pieces: Vec<Vec<Piece>> = vec![Vec::new(); 12];
    for panel in &layout.panels {
        let Some(trace) = traces.get(panel.row) else {
            continue;
        };
        let lo = layout.panel_x(panel, panel.t_from_s);
        let hi = layout.panel_x(panel, panel.t_to_s) - 1e-3;
        let first = (panel.t_from_s * fs_hz).ceil() as usize;
        let last = ((panel.t_to_s * fs_hz).ceil() as usize).min(n_samples);
        let known_lo = trace.x_from as f32 - 3.0;
        let known_hi = (trace.x_from + trace.ys.len()) as f32 + 2.0;
        let base = baselines[panel.row];
        let mut values = Vec::with_capacity(last.saturating_sub(first));
        let mut direct = 0usize;
        for n in first..last {
            let x = layout.panel_x(panel, n as f32 / fs_hz);
            let v = if x < known_lo || x > known_hi {
                None
            } else {
                if trace.has(x.round() as usize) {
                    direct += 1;
                }
                trace
                    .y_filled(x, lo, hi, base.y)
                    .map(|y| (base.y - y) / px_per_mv)
            };
            values.push(v);
        }
        let total = values.len().max(1);
        pieces[panel.lead.index()].push(Piece {
            first,
            values,
            confidence: direct as f32 / total as f32,
            source: base.source,
        });
    }
    let leads = Lead::ALL
        .into_iter()
        .filter_map(|lead| merge(lead, &pieces[lead.index()]))
        .collect();
    Signals {
        fs_hz,
        n_samples,
        leads,
        baselines,
    }
}

#[derive(Debug, Clone)]
struct Piece {
    first: usize,
    values: Vec<Option<f32>>,
    confidence: f32,
    source: Source,
}

/// Median of the trace: the baseline guess when neither pulse nor separators show it.
fn trace_baseline(trace: &RowTrace) -> Baseline {
    let mut ys: Vec<f32> = trace.ys.iter().copied().filter(|y| y.is_finite()).collect();
    ys.sort_by(f32::total_cmp);
    Baseline {
        y: ys.get(ys.len() / 2).copied().unwrap_or(0.0),
        source: Source::Trace,
    }
}

/// Joins a lead's pieces on one timeline. Where two overlap, a piece whose baseline was only
/// estimated is first shifted onto the better one, then both are averaged.
fn merge(lead: Lead, pieces: &[Piece]) -> Option<LeadSignal> {
    if pieces.is_empty() {
        return None;
    }
    let start = pieces.iter().map(|p| p.first).min()?;
    let end = pieces.iter().map(|p| p.first + p.values.len()).max()?;
    let rank = |s: Source| match s {
        Source::Pulse | Source::User => 0,
        Source::Separator => 1,
        _ => 2,
    };
    let mut order: Vec<&Piece> = pieces.iter().collect();
    order.sort_by_key(|p| rank(p.source));
    let reference = order[0];
    let mut sum = vec![0f32; end - start];
    let mut count = vec![0u32; end - start];
    let mut conf_weighted = 0f32;
    let mut conf_total = 0f32;
    for p in &order {
        let mut offset = 0f32;
        if rank(p.source) > rank(reference.source) {
            let mut diffs: Vec<f32> = (0..p.values.len())
                .filter_map(|i| {
                    let n = p.first + i;
                    let r = n.checked_sub(reference.first)?;
                    Some(reference.values.get(r).copied().flatten()? - p.values[i]?)
                })
                .collect();
            if diffs.len() > 50 {
                diffs.sort_by(f32::total_cmp);
                offset = diffs[diffs.len() / 2];
            }
        }
        for (i, v) in p.values.iter().enumerate() {
            if let Some(v) = v {
                sum[p.first + i - start] += v + offset;
                count[p.first + i - start] += 1;
            }
        }
        conf_weighted += p.confidence * p.values.len() as f32;
        conf_total += p.values.len() as f32;
    }
    let samples_mv = sum
        .iter()
        .zip(&count)
        .map(|(&s, &c)| (c > 0).then(|| s / c as f32))
        .collect();
    Some(LeadSignal {
        lead,
        start_sample: start,
        samples_mv,
        confidence: if conf_total > 0.0 {
            conf_weighted / conf_total
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(first: usize, values: Vec<Option<f32>>, source: Source) -> Piece {
        Piece {
            first,
            values,
            confidence: 1.0,
            source,
        }
    }

    #[test]
    fn overlapping_pieces_average_and_estimated_baselines_shift_onto_measured_ones() {
        let short = piece(0, vec![Some(1.0); 100], Source::Pulse);
        let rhythm = piece(0, vec![Some(1.5); 200], Source::Trace);
        let s = merge(Lead::II, &[rhythm, short]).unwrap();
        assert_eq!(s.samples_mv.len(), 200);
        // The rhythm strip is shifted by -0.5 mV, so the overlap and the rest agree.
        assert!((s.at(10).unwrap() - 1.0).abs() < 1e-6);
        assert!((s.at(150).unwrap() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn disjoint_pieces_keep_their_own_times() {
        let s = merge(Lead::V1, &[piece(1250, vec![Some(0.2); 10], Source::Pulse)]).unwrap();
        assert_eq!(s.start_sample, 1250);
        assert_eq!(s.at(1249), None);
        assert_eq!(s.at(1251), Some(0.2));
    }
}
