//! Scoring against ground truth, both ways the field reports it.
//!
//! * **Raw SNR** (PhysioNet Challenge 2024): per lead, `10·log10(Σx² / Σ(x−y)²)` over the
//!   samples the truth marks visible; a missing prediction counts as 0 mV.
//! * **Aligned** (Kaggle 2025 style): per lead, the best shift within ±0.2 s and the best
//!   constant offset are removed first; signal and error powers are summed over a page's
//!   leads, the page ratio is capped at 384 (25.84 dB), and the score is 10·log10 of the
//!   mean page ratio.

use crate::lead::Lead;
use std::collections::BTreeMap;

/// Cap on a page's aligned signal-to-error power ratio (25.84 dB).
pub const ALIGNED_RATIO_CAP: f64 = 384.0;

/// One CSV in the reference format: a value or a hole per lead and sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Samples per lead, in [`Lead::ALL`] order; `None` is an empty cell.
    pub leads: Vec<Vec<Option<f64>>>,
    /// Sampling rate inferred from the time column.
    pub fs_hz: f64,
}

impl Table {
    /// Writes the table in the reference format (`time_s,I,...,V6`, mV with 3 decimals).
    pub fn to_csv(&self) -> String {
        let n = self.leads.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = String::from("time_s");
        for lead in Lead::ALL {
            out.push(',');
            out.push_str(lead.name());
        }
        out.push('\n');
        for i in 0..n {
            out.push_str(&format!("{:.3}", i as f64 / self.fs_hz));
            for col in &self.leads {
                out.push(',');
                if let Some(v) = col.get(i).copied().flatten() {
                    out.push_str(&crate::export::fmt_mv(v as f32));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Reads a `time_s,I,...,V6` CSV. Columns are matched by lead name; absent leads stay empty.
pub fn parse_csv(text: &str) -> Result<Table, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    if headers.get(0).map(str::trim) != Some("time_s") {
        return Err("first column is not time_s".into());
    }
    let map: Vec<Option<usize>> = headers
        .iter()
        .map(|h| Lead::from_name(h).map(|l| l.index()))
        .collect();
    let mut leads = vec![Vec::new(); 12];
    let mut times = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        times.push(rec.get(0).and_then(|t| t.trim().parse::<f64>().ok()));
        for col in leads.iter_mut() {
            col.push(None);
        }
        for (j, cell) in rec.iter().enumerate() {
            if let Some(Some(i)) = map.get(j) {
                let cell = cell.trim();
                if !cell.is_empty() {
                    let v = cell
                        .parse::<f64>()
                        .map_err(|_| format!("bad number '{cell}'"))?;
                    *leads[*i].last_mut().unwrap() = Some(v);
                }
            }
        }
    }
    let fs_hz = match (
        times.first().copied().flatten(),
        times.get(1).copied().flatten(),
    ) {
        (Some(a), Some(b)) if b > a => (1.0 / (b - a)).round(),
        _ => 500.0,
    };
    Ok(Table { leads, fs_hz })
}

/// Scores of one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageScore {
    /// Raw SNR per lead in dB; `None` where the truth shows nothing or is flat.
    pub raw_db: Vec<Option<f64>>,
    /// Per lead, (signal power, error power after alignment).
    pub aligned_powers: Vec<Option<(f64, f64)>>,
}

impl PageScore {
    /// Page signal-to-error ratio after alignment, capped.
    pub fn aligned_ratio(&self) -> f64 {
        let (s, e) = self
            .aligned_powers
            .iter()
            .flatten()
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        if e <= 0.0 {
            ALIGNED_RATIO_CAP
        } else {
            (s / e).min(ALIGNED_RATIO_CAP)
        }
    }

    /// Mean raw SNR over the page's scored leads.
    pub fn mean_raw_db(&self) -> f64 {
        mean(self.raw_db.iter().flatten().copied())
    }
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it.fold((0.0, 0usize), |a, v| (a.0 + v, a.1 + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// Scores `pred` against `truth`. Shifts are searched within `max_shift_s`.
pub fn score_page(truth: &Table, pred: &Table, max_shift_s: f64) -> PageScore {
    let max_shift = (max_shift_s * truth.fs_hz).round() as isize;
    let mut raw_db = Vec::with_capacity(12);
    let mut aligned_powers = Vec::with_capacity(12);
    for i in 0..12 {
        let x = &truth.leads[i];
        let y = &pred.leads[i];
        let yv = |n: isize| -> f64 {
            if n < 0 {
                0.0
            } else {
                y.get(n as usize).copied().flatten().unwrap_or(0.0)
            }
        };
        let visible: Vec<(isize, f64)> = x
            .iter()
            .enumerate()
            .filter_map(|(n, v)| v.map(|v| (n as isize, v)))
            .collect();
        let signal: f64 = visible.iter().map(|(_, v)| v * v).sum();
        if visible.is_empty() || signal <= 0.0 {
            raw_db.push(None);
            aligned_powers.push(None);
            continue;
        }
        let noise: f64 = visible.iter().map(|&(n, v)| (v - yv(n)).powi(2)).sum();
        raw_db.push(Some(if noise > 0.0 {
            10.0 * (signal / noise).log10()
        } else {
            f64::INFINITY
        }));
        let count = visible.len() as f64;
        let mut best = f64::INFINITY;
        for s in -max_shift..=max_shift {
            let (mut sum, mut sq) = (0.0, 0.0);
            for &(n, v) in &visible {
                let d = v - yv(n - s);
                sum += d;
                sq += d * d;
            }
            best = best.min(sq - sum * sum / count);
        }
        aligned_powers.push(Some((signal, best.max(0.0))));
    }
    PageScore {
        raw_db,
        aligned_powers,
    }
}

/// A set of scored pages with an optional group per page (e.g. the distortion recipe).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// (page id, group, score).
    pub pages: Vec<(String, Option<String>, PageScore)>,
}

/// Aggregate numbers over some pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Pages counted.
    pub pages: usize,
    /// Mean raw SNR over (page, lead) pairs, dB.
    pub mean_raw_db: f64,
    /// 10·log10 of the mean capped page ratio, dB.
    pub aligned_db: f64,
    /// Lowest page's aligned score, dB.
    pub worst_aligned_db: f64,
}

impl Report {
    fn aggregate<'a>(scores: impl Iterator<Item = &'a PageScore> + Clone) -> Aggregate {
        let pages = scores.clone().count();
        let mean_raw_db = mean(
            scores
                .clone()
                .flat_map(|p| p.raw_db.iter().flatten().copied()),
        );
        let ratio = mean(scores.clone().map(|p| p.aligned_ratio()));
        let worst = scores
            .map(|p| p.aligned_ratio())
            .fold(f64::INFINITY, f64::min);
        Aggregate {
            pages,
            mean_raw_db,
            aligned_db: 10.0 * ratio.log10(),
            worst_aligned_db: 10.0 * worst.log10(),
        }
    }

    /// Over all pages.
    pub fn overall(&self) -> Aggregate {
        Self::aggregate(self.pages.iter().map(|p| &p.2))
    }

    /// Per group, sorted by name.
    pub fn by_group(&self) -> BTreeMap<String, Aggregate> {
        let mut names: Vec<String> = self.pages.iter().filter_map(|p| p.1.clone()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|g| {
                let agg = Self::aggregate(
                    self.pages
                        .iter()
                        .filter(|p| p.1.as_deref() == Some(g.as_str()))
                        .map(|p| &p.2),
                );
                (g, agg)
            })
            .collect()
    }

    /// Per lead: (mean raw dB, aligned dB from the lead's own capped ratios).
    pub fn by_lead(&self) -> Vec<(Lead, f64, f64)> {
        Lead::ALL
            .iter()
            .map(|&lead| {
                let i = lead.index();
                let raw = mean(self.pages.iter().filter_map(|p| p.2.raw_db[i]));
                let ratio = mean(self.pages.iter().filter_map(|p| {
                    p.2.aligned_powers[i].map(|(s, e)| {
                        if e <= 0.0 {
                            ALIGNED_RATIO_CAP
                        } else {
                            (s / e).min(ALIGNED_RATIO_CAP)
                        }
                    })
                }));
                (lead, raw, 10.0 * ratio.log10())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(f: impl Fn(usize) -> Option<f64>) -> Table {
        let mut leads = vec![vec![None; 1000]; 12];
        leads[1] = (0..1000).map(f).collect();
        Table {
            leads,
            fs_hz: 500.0,
        }
    }

    fn wave(n: usize) -> f64 {
        (n as f64 * 0.05).sin() + 0.3 * (n as f64 * 0.21).sin()
    }

    #[test]
    fn missing_prediction_scores_zero_db_raw() {
        let truth = table(|n| Some(wave(n)));
        let pred = table(|_| None);
        let s = score_page(&truth, &pred, 0.2);
        assert!(s.raw_db[1].unwrap().abs() < 1e-9);
        assert!(s.raw_db[0].is_none());
    }

    #[test]
    fn shifted_and_offset_prediction_is_forgiven_only_when_aligned() {
        let truth = table(|n| Some(wave(n)));
        let pred = table(|n| Some(wave(n.saturating_sub(20)) + 0.5));
        let s = score_page(&truth, &pred, 0.2);
        assert!(s.raw_db[1].unwrap() < 5.0);
        // Only the first 20 samples stay misaligned after the best shift.
        assert!(10.0 * s.aligned_ratio().log10() > 15.0);
    }

    #[test]
    fn perfect_prediction_hits_the_cap() {
        let truth = table(|n| Some(wave(n)));
        let s = score_page(&truth, &truth.clone(), 0.2);
        assert_eq!(s.aligned_ratio(), ALIGNED_RATIO_CAP);
    }

    #[test]
    fn csv_columns_are_matched_by_name_and_holes_kept() {
        let t = parse_csv("time_s,II,I\n0.000,0.5,\n0.002,,1.5\n").unwrap();
        assert_eq!(t.leads[1], vec![Some(0.5), None]);
        assert_eq!(t.leads[0], vec![None, Some(1.5)]);
        assert_eq!(t.fs_hz, 500.0);
    }
}
