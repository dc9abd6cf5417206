//! The twelve standard leads and their printed names.

use serde::{Deserialize, Serialize};

/// One of the twelve standard ECG leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Lead {
    /// Lead I.
    I,
    /// Lead II.
    II,
    /// Lead III.
    III,
    /// Augmented right.
    #[serde(rename = "aVR")]
    AVR,
    /// Augmented left.
    #[serde(rename = "aVL")]
    AVL,
    /// Augmented foot.
    #[serde(rename = "aVF")]
    AVF,
    /// Precordial V1.
    V1,
    /// Precordial V2.
    V2,
    /// Precordial V3.
    V3,
    /// Precordial V4.
    V4,
    /// Precordial V5.
    V5,
    /// Precordial V6.
    V6,
}

impl Lead {
    /// All leads in the column order of the CSV export.
    pub const ALL: [Lead; 12] = [
        Lead::I,
        Lead::II,
        Lead::III,
        Lead::AVR,
        Lead::AVL,
        Lead::AVF,
        Lead::V1,
        Lead::V2,
        Lead::V3,
        Lead::V4,
        Lead::V5,
        Lead::V6,
    ];

    /// The printed name, as in CSV headers: `I`, `aVR`, `V1`, ...
    pub fn name(self) -> &'static str {
        match self {
            Lead::I => "I",
            Lead::II => "II",
            Lead::III => "III",
            Lead::AVR => "aVR",
            Lead::AVL => "aVL",
            Lead::AVF => "aVF",
            Lead::V1 => "V1",
            Lead::V2 => "V2",
            Lead::V3 => "V3",
            Lead::V4 => "V4",
            Lead::V5 => "V5",
            Lead::V6 => "V6",
        }
    }

    /// Position in [`Lead::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a printed name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Lead> {
        Lead::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl std::fmt::Display for Lead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_csv_order() {
        for (i, lead) in Lead::ALL.into_iter().enumerate() {
            assert_eq!(lead.index(), i);
            assert_eq!(Lead::from_name(lead.name()), Some(lead));
        }
        assert_eq!(Lead::from_name("avr"), Some(Lead::AVR));
        assert_eq!(Lead::from_name("V7"), None);
    }
}
