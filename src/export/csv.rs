//! CSV: `time_s,I,II,...,V6` at the page sampling rate, mV, empty where a lead is not visible.

use crate::export::fmt_mv;
use crate::lead::Lead;
use crate::page::Digitization;

/// The CSV text, byte for byte what the CLI writes.
pub fn to_csv(d: &Digitization) -> String {
    let mut out = String::with_capacity(d.n_samples * 80);
    out.push_str("time_s");
    for lead in Lead::ALL {
        out.push(',');
        out.push_str(lead.name());
    }
    out.push('\n');
    let columns: Vec<Option<&crate::signal::LeadSignal>> =
        Lead::ALL.iter().map(|&l| d.lead(l)).collect();
    for n in 0..d.n_samples {
        out.push_str(&format!("{:.3}", n as f64 / d.fs_hz as f64));
        for col in &columns {
            out.push(',');
            if let Some(v) = col.and_then(|s| s.at(n)) {
                out.push_str(&fmt_mv(v));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests_support::page;

    #[test]
    fn header_and_rows_match_the_reference_format() {
        let csv = to_csv(&page());
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "time_s,I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6"
        );
        assert_eq!(lines.next().unwrap(), "0.000,,0.100,,,,,,,,,,");
        assert_eq!(lines.next().unwrap(), "0.002,,-0.250,,,,,,,,,,");
        assert_eq!(lines.next().unwrap(), "0.004,,,,,,,,,,,,");
        assert_eq!(csv.lines().count(), 1 + 4);
    }
}
