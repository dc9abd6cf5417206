//! Stage 8, export: CSV, WFDB and JSON writers. All are pure functions of a
//! [`Digitization`](crate::Digitization), so the CLI and the web page write the same bytes.

pub mod csv;
pub mod json;
pub mod wfdb;

/// Formats millivolts with three decimals (1 µV, the resolution of the reference files),
/// never printing `-0.000`.
pub(crate) fn fmt_mv(v: f32) -> String {
    let s = format!("{v:.3}");
    if s == "-0.000" {
        "0.000".to_string()
    } else {
        s
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use crate::calibration::Source;
    use crate::lead::Lead;
    use crate::page::Digitization;
    use crate::signal::LeadSignal;

    /// A four-sample page with lead II only.
    pub fn page() -> Digitization {
        Digitization {
            fs_hz: 500.0,
            n_samples: 4,
            leads: vec![LeadSignal {
                lead: Lead::II,
                start_sample: 0,
                samples_mv: vec![Some(0.1), Some(-0.25), None, Some(-0.0001)],
                confidence: 1.0,
            }],
            px_per_mm_x: 7.874,
            px_per_mm_y: 7.874,
            grid_found: true,
            gain_mm_per_mv: 10.0,
            gain_source: Source::Pulse,
            speed_mm_per_s: 25.0,
            speed_source: Source::Assumed,
            rotation_deg: 0.0,
            layout: "3x4+II".into(),
            layout_detected: true,
            image_size: [100, 100],
            rows: vec![],
            panels: vec![],
            warnings: vec![],
        }
    }
}
