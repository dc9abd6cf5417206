//! JSON: the whole [`Digitization`]: leads, start times, scales, gain, speed, rotation,
//! layout, confidences, warnings and the overlay geometry.

use crate::page::Digitization;

/// Pretty-printed JSON, byte for byte what the CLI writes.
pub fn to_json(d: &Digitization) -> String {
    // Serialising plain structs of numbers and strings cannot fail.
    let mut s =
        serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests_support::page;

    #[test]
    fn json_carries_leads_and_calibration() {
        let v: serde_json::Value = serde_json::from_str(&to_json(&page())).unwrap();
        assert_eq!(v["leads"][0]["lead"], "II");
        assert_eq!(v["gain_mm_per_mv"], 10.0);
        assert_eq!(v["gain_source"], "pulse");
        assert!(v["leads"][0]["samples_mv"][2].is_null());
    }
}
