//! WFDB: a `.hea` header and a format-16 `.dat` file (interleaved little-endian 16-bit
//! samples, 1000 adu/mV), as described in <https://physionet.org/physiotools/wag/header-5.htm>
//! and <https://physionet.org/physiotools/wag/signal-5.htm>. Invisible samples are written as
//! -32768, WFDB's "no value" for format 16.

use crate::lead::Lead;
use crate::page::Digitization;

/// Digital units per millivolt (1 µV resolution, ±32.767 mV range).
pub const ADU_PER_MV: f32 = 1000.0;
const INVALID: i16 = i16::MIN;

/// A WFDB record ready to be written as `<name>.hea` and `<name>.dat`.
#[derive(Debug, Clone, PartialEq)]
pub struct WfdbRecord {
    /// Header text.
    pub header: String,
    /// Signal file bytes.
    pub data: Vec<u8>,
}

/// A WFDB record name for a file stem: letters, digits, `_` and `-` only, others become `_`.
pub fn record_name(stem: &str) -> String {
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "page".to_string()
    } else {
        name
    }
}

/// Builds the record named `name`, with all twelve leads as signals.
pub fn to_wfdb(d: &Digitization, name: &str) -> WfdbRecord {
    let leads: Vec<Option<&crate::signal::LeadSignal>> =
        Lead::ALL.iter().map(|&l| d.lead(l)).collect();
    let mut data = Vec::with_capacity(d.n_samples * 12 * 2);
    let mut checksums = [0i32; 12];
    let mut first = [None::<i16>; 12];
    for n in 0..d.n_samples {
        for (i, lead) in leads.iter().enumerate() {
            let v = match lead.and_then(|s| s.at(n)) {
                Some(mv) => (mv * ADU_PER_MV).round().clamp(-32767.0, 32767.0) as i16,
                None => INVALID,
            };
            if first[i].is_none() {
                first[i] = Some(v);
            }
            checksums[i] = checksums[i].wrapping_add(v as i32);
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    let fs = if d.fs_hz.fract() == 0.0 {
        format!("{}", d.fs_hz as u32)
    } else {
        format!("{}", d.fs_hz)
    };
    let mut header = format!("{name} 12 {fs} {}\n", d.n_samples);
    for (i, lead) in Lead::ALL.iter().enumerate() {
        header.push_str(&format!(
            "{name}.dat 16 {}/mV 16 0 {} {} 0 {}\n",
            ADU_PER_MV as u32,
            first[i].unwrap_or(0),
            checksums[i] as i16,
            lead.name()
        ));
    }
    header.push_str(&format!(
        "# digitized by ecg-digitize {}: layout {}, gain {} mm/mV ({:?}), speed {} mm/s\n",
        env!("CARGO_PKG_VERSION"),
        d.layout,
        d.gain_mm_per_mv,
        d.gain_source,
        d.speed_mm_per_s
    ));
    WfdbRecord { header, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests_support::page;

    #[test]
    fn record_names_keep_only_safe_characters() {
        assert_eq!(record_name("dev 002 (copy)"), "dev_002__copy_");
        assert_eq!(record_name("a-b_c9"), "a-b_c9");
        assert_eq!(record_name(""), "page");
    }

    #[test]
    fn header_declares_format_16_at_1000_adu_per_mv() {
        let r = to_wfdb(&page(), "rec");
        let mut lines = r.header.lines();
        assert_eq!(lines.next().unwrap(), "rec 12 500 4");
        let ii = lines.nth(1).unwrap();
        assert_eq!(ii, "rec.dat 16 1000/mV 16 0 100 32618 0 II");
        assert_eq!(r.data.len(), 4 * 12 * 2);
        // Sample 1 of lead II is -0.25 mV = -250 adu.
        let at = (12 + 1) * 2;
        assert_eq!(i16::from_le_bytes([r.data[at], r.data[at + 1]]), -250);
        // Lead I is absent: no-value marker.
        assert_eq!(i16::from_le_bytes([r.data[0], r.data[1]]), i16::MIN);
    }
}
