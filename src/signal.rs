//! Stage 7, signal: turn row traces into calibrated leads on a common 500 Hz timeline.
//!
//! Time comes from the column (x0 and px per second), amplitude from the row's baseline
//! and the gain; both scales are the grid's measured px/mm, never the page's width.
//! Each panel's samples are band-limited to what one value per image column can carry.
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

/// Tuning of the conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalOptions {
    /// Low-pass cut-off in cycles per image column. The trace holds one value per column,
    /// so what it shows above half a cycle per column is the step between columns and the
    /// jitter of sub-pixel points, not the heart. 0 turns the filter off.
    pub band_limit_cycles_per_px: f32,
    /// Half the low-pass filter's length, in image columns; the longer, the sharper its
    /// cut-off. Its transition band is about `1 / this` cycles per column wide.
    pub band_limit_half_span_px: f32,
}

impl Default for SignalOptions {
    fn default() -> Self {
        SignalOptions {
            band_limit_cycles_per_px: 0.5,
            band_limit_half_span_px: 3.0,
        }
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
    opts: &SignalOptions,
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
        let sign = if panel.inverted { -1.0 } else { 1.0 };
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
                    .map(|y| sign * (base.y - y) / px_per_mv)
            };
            values.push(v);
        }
        let px_per_sample = (hi - lo) / ((panel.t_to_s - panel.t_from_s) * fs_hz);
        band_limit(&mut values, px_per_sample, opts);
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

/// Low-passes each run of known samples, `px_per_sample` image columns apart, as `opts`
/// says, with a Hann-windowed sinc; a run is turned about its end points, so its edges keep
/// their level and slope. Runs too short to hold the filter are left as they are.
fn band_limit(values: &mut [Option<f32>], px_per_sample: f32, opts: &SignalOptions) {
    let cut = opts.band_limit_cycles_per_px * px_per_sample;
    let half = (opts.band_limit_half_span_px / px_per_sample).ceil() as usize;
    if !(cut > 0.0 && cut < 0.5) || half == 0 {
        return;
    }
    let pi = std::f32::consts::PI;
    let mut taps: Vec<f32> = (-(half as isize)..=half as isize)
        .map(|n| {
            let n = n as f32;
            // libm, not std: the same bits natively and in wasm, so both give one output.
            let window = 0.5 + 0.5 * libm::cosf(pi * n / (half as f32 + 1.0));
            let sinc = if n == 0.0 {
                2.0 * cut
            } else {
                libm::sinf(2.0 * pi * cut * n) / (pi * n)
            };
            sinc * window
        })
        .collect();
    let sum: f32 = taps.iter().sum();
    taps.iter_mut().for_each(|t| *t /= sum);

    let mut i = 0;
    while i < values.len() {
        if values[i].is_none() {
            i += 1;
            continue;
        }
        let start = i;
        while i < values.len() && values[i].is_some() {
            i += 1;
        }
        let run: Vec<f32> = values[start..i].iter().flatten().copied().collect();
        let len = run.len();
        if len <= 2 * half + 1 {
            continue;
        }
        // Beyond an end, the run turned about its end point: level and slope carry on.
        let mirrored = |j: isize| -> f32 {
            let last = len as isize - 1;
            if j < 0 {
                2.0 * run[0] - run[(-j) as usize]
            } else if j > last {
                2.0 * run[last as usize] - run[(2 * last - j) as usize]
            } else {
                run[j as usize]
            }
        };
        for (k, v) in values[start..i].iter_mut().enumerate() {
            let at = k as isize - half as isize;
            let y: f32 = taps
                .iter()
                .enumerate()
                .map(|(t, w)| w * mirrored(at + t as isize))
                .sum();
            *v = Some(y);
        }
    }
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

    /// A band-limited copy of `f` sampled at 2.5 samples per column (200 DPI, 25 mm/s).
    fn filtered(f: impl Fn(f32) -> f32, n: usize) -> Vec<Option<f32>> {
        let px_per_sample = 0.4;
        let mut v: Vec<Option<f32>> = (0..n).map(|i| Some(f(i as f32 * px_per_sample))).collect();
        band_limit(&mut v, px_per_sample, &SignalOptions::default());
        v
    }

    #[test]
    fn the_band_limit_keeps_slow_waves_and_removes_what_columns_cannot_hold() {
        let tau = std::f32::consts::TAU;
        // 0.1 cycles per column (20 Hz at 200 DPI) passes within 1%, even at the run's ends.
        let slow = |x: f32| (tau * 0.1 * x).sin();
        for (i, v) in filtered(slow, 400).iter().enumerate() {
            assert!(
                (v.unwrap() - slow(i as f32 * 0.4)).abs() < 0.01,
                "sample {i}"
            );
        }
        // 0.8 cycles per column is jitter between columns: it keeps under a tenth.
        let fast = filtered(|x| (tau * 0.8 * x).sin(), 400);
        let peak = fast[20..380]
            .iter()
            .map(|v| v.unwrap().abs())
            .fold(0.0, f32::max);
        assert!(peak < 0.1, "{peak}");
    }

    #[test]
    fn the_band_limit_leaves_gaps_and_short_runs_alone() {
        let mut v: Vec<Option<f32>> = (0..100).map(|i| Some((i % 2) as f32)).collect();
        v[50] = None;
        for x in &mut v[60..] {
            *x = None;
        }
        v[95] = Some(3.0);
        // One sample per column: 0.2 cycles per sample, 8 taps either side.
        let opts = SignalOptions {
            band_limit_cycles_per_px: 0.2,
            band_limit_half_span_px: 8.0,
        };
        band_limit(&mut v, 1.0, &opts);
        assert!(v[10..40]
            .iter()
            .all(|x| x.is_some_and(|y| (0.3..0.7).contains(&y))));
        assert_eq!(v[50], None);
        // Samples 51..60 are too few to hold 17 taps; 95 stands alone.
        assert_eq!(v[51], Some(1.0));
        assert_eq!(v[95], Some(3.0));
        assert_eq!(v[96], None);
    }

    #[test]
    fn disjoint_pieces_keep_their_own_times() {
        let s = merge(Lead::V1, &[piece(1250, vec![Some(0.2); 10], Source::Pulse)]).unwrap();
        assert_eq!(s.start_sample, 1250);
        assert_eq!(s.at(1249), None);
        assert_eq!(s.at(1251), Some(0.2));
    }
}
