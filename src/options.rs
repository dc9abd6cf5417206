//! What the caller can tune, field by field.

use crate::error::Error;
use crate::lead::Lead;
use serde::{Deserialize, Serialize};

/// How the vertical scale is found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Gain {
    /// Measure it from the 1 mV calibration pulse; without one, read the page's printed text
    /// ("10mm/mV"), else assume 10 mm/mV.
    Auto,
    /// Use this many mm per mV, whatever the page shows.
    MmPerMv(f32),
}

/// Which leads sit where on the page: one entry per printed row, one lead per column.
///
/// Every column in a row spans the same time. With `same_time_columns` false (3x4 pages) the
/// columns show successive seconds, so `[[I, aVR, V1, V4]]` is four 2.5 s panels of a 10 s
/// page; with it true (6x2 pages) every column shows the same first seconds. A row with one
/// lead is a rhythm strip over the whole page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutSpec {
    /// Short name shown to users, e.g. `3x4+II`.
    pub name: String,
    /// Leads of each row, top to bottom, left to right.
    pub rows: Vec<Vec<Lead>>,
    /// Whether the columns of a row show the same seconds rather than successive ones.
    #[serde(default)]
    pub same_time_columns: bool,
    /// Leads printed upside down (Cabrera's -aVR): the trace shows minus the lead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inverted: Vec<Lead>,
}

/// The page layouts recognised by name.
const LAYOUT_NAMES: &str = "3x4, 6x2, 12x1, 6x2-cabrera, 12x1-cabrera, 6x1-limb, 6x1-chest, optionally followed by +<rhythm leads>, e.g. 3x4+II or 3x4+V1,II,V5";

impl LayoutSpec {
    fn with_rhythm(
        base: &str,
        mut rows: Vec<Vec<Lead>>,
        rhythm: &[Lead],
        same_time_columns: bool,
    ) -> LayoutSpec {
        rows.extend(rhythm.iter().map(|&l| vec![l]));
        let mut name = base.to_string();
        if !rhythm.is_empty() {
            let names: Vec<&str> = rhythm.iter().map(|l| l.name()).collect();
            name = format!("{base}+{}", names.join(","));
        }
        LayoutSpec {
            name,
            rows,
            same_time_columns,
            inverted: Vec::new(),
        }
    }

    /// The standard 3x4 page, followed by one rhythm strip per lead in `rhythm`.
    pub fn standard_3x4(rhythm: &[Lead]) -> LayoutSpec {
        use Lead::*;
        let rows = vec![
            vec![I, AVR, V1, V4],
            vec![II, AVL, V2, V5],
            vec![III, AVF, V3, V6],
        ];
        LayoutSpec::with_rhythm("3x4", rows, rhythm, false)
    }

    /// Six rows of two columns (limb leads left, chest leads right), both columns showing the
    /// same seconds, then the rhythm strips.
    pub fn six_by_two(rhythm: &[Lead]) -> LayoutSpec {
        use Lead::*;
        let rows = vec![
            vec![I, V1],
            vec![II, V2],
            vec![III, V3],
            vec![AVR, V4],
            vec![AVL, V5],
            vec![AVF, V6],
        ];
        LayoutSpec::with_rhythm("6x2", rows, rhythm, true)
    }

    /// Twelve rows of one lead each, then the rhythm strips.
    pub fn twelve_by_one(rhythm: &[Lead]) -> LayoutSpec {
        let rows = Lead::ALL.iter().map(|&l| vec![l]).collect();
        LayoutSpec::with_rhythm("12x1", rows, rhythm, false)
    }

    /// The order of ECG-Image-Kit (the generator of the PhysioNet Challenge 2024 images) for
    /// `columns` columns of the same seconds: it fills rows from the bottom up with III, aVF,
    /// V3, V6, II, aVL, V2, V5, I, aVR, V1, V4, so a 6x2 page reads V1|V4, I|aVR, V2|V5, II|aVL,
    /// V3|V6, III|aVF from the top. Its 3x4 pages are the standard order.
    pub fn bottom_up(columns: usize, rhythm: &[Lead]) -> LayoutSpec {
        use Lead::*;
        const ORDER: [Lead; 12] = [III, AVF, V3, V6, II, AVL, V2, V5, I, AVR, V1, V4];
        let columns = columns.clamp(1, 12);
        let mut rows: Vec<Vec<Lead>> = ORDER.chunks(columns).map(<[Lead]>::to_vec).collect();
        rows.reverse();
        let base = format!("{}x{columns}", 12usize.div_ceil(columns));
        LayoutSpec::with_rhythm(&base, rows, rhythm, (2..4).contains(&columns))
    }

    /// Cabrera's order of the limb leads, by their heart axis: aVL, I, -aVR, II, aVF, III.
    const CABRERA_LIMB: [Lead; 6] = [
        Lead::AVL,
        Lead::I,
        Lead::AVR,
        Lead::II,
        Lead::AVF,
        Lead::III,
    ];

    /// Six rows of two columns, the limb leads in Cabrera's order (aVR printed inverted) on
    /// the left and V1-V6 on the right, both showing the same seconds; then the rhythm strips.
    pub fn cabrera_6x2(rhythm: &[Lead]) -> LayoutSpec {
        let rows = (0..6)
            .map(|k| vec![Self::CABRERA_LIMB[k], Lead::ALL[6 + k]])
            .collect();
        let mut spec = LayoutSpec::with_rhythm("6x2-cabrera", rows, rhythm, true);
        spec.inverted = vec![Lead::AVR];
        spec
    }

    /// Twelve rows, the limb leads in Cabrera's order (aVR printed inverted), then V1-V6;
    /// then the rhythm strips.
    pub fn cabrera_12x1(rhythm: &[Lead]) -> LayoutSpec {
        let rows = Self::CABRERA_LIMB
            .iter()
            .chain(&Lead::ALL[6..])
            .map(|&l| vec![l])
            .collect();
        let mut spec = LayoutSpec::with_rhythm("12x1-cabrera", rows, rhythm, false);
        spec.inverted = vec![Lead::AVR];
        spec
    }

    /// Whether `lead` is printed upside down.
    pub fn is_inverted(&self, lead: Lead) -> bool {
        self.inverted.contains(&lead)
    }

    /// The factor from `lead` to its printed trace: -1 where it is printed upside down.
    pub fn sign(&self, lead: Lead) -> f32 {
        if self.is_inverted(lead) {
            -1.0
        } else {
            1.0
        }
    }

    /// The six limb leads, one per row.
    pub fn limb_6x1() -> LayoutSpec {
        let rows = Lead::ALL[..6].iter().map(|&l| vec![l]).collect();
        LayoutSpec::with_rhythm("6x1-limb", rows, &[], false)
    }

    /// The six chest leads, one per row.
    pub fn chest_6x1() -> LayoutSpec {
        let rows = Lead::ALL[6..].iter().map(|&l| vec![l]).collect();
        LayoutSpec::with_rhythm("6x1-chest", rows, &[], false)
    }

    /// Which rows are rhythm strips: single-lead rows after every lead of the page has been
    /// shown once (the last row of 3x4+II, 12x1+II), which repeat a lead at full length.
    pub fn rhythm_rows(&self) -> Vec<bool> {
        let mut all = [false; 12];
        for l in self.rows.iter().flatten() {
            all[l.index()] = true;
        }
        let mut seen = [false; 12];
        self.rows
            .iter()
            .map(|row| {
                let rhythm = row.len() == 1 && seen == all;
                for l in row {
                    seen[l.index()] = true;
                }
                rhythm
            })
            .collect()
    }

    /// The rhythm strips a 3x4 page most often carries when it has `count` of them.
    pub fn default_rhythm_leads(count: usize) -> Vec<Lead> {
        match count {
            0 => vec![],
            1 => vec![Lead::II],
            2 => vec![Lead::II, Lead::V1],
            3 => vec![Lead::V1, Lead::II, Lead::V5],
            n => std::iter::repeat_n(Lead::II, n).collect(),
        }
    }

    /// Every layout the detector tries, for pages with `rows` trace rows. Where two orders
    /// share a geometry, the more common one comes last (it wins ties).
    pub fn candidates(rows: usize) -> Vec<LayoutSpec> {
        let mut out = Vec::new();
        if (3..=6).contains(&rows) {
            out.push(LayoutSpec::standard_3x4(&LayoutSpec::default_rhythm_leads(
                rows - 3,
            )));
        }
        if (6..=7).contains(&rows) {
            let rhythm = LayoutSpec::default_rhythm_leads(rows - 6);
            out.push(LayoutSpec::cabrera_6x2(&rhythm));
            out.push(LayoutSpec::bottom_up(2, &rhythm));
            out.push(LayoutSpec::six_by_two(&rhythm));
        }
        if rows == 6 {
            out.push(LayoutSpec::limb_6x1());
            out.push(LayoutSpec::chest_6x1());
        }
        if (12..=13).contains(&rows) {
            let rhythm = LayoutSpec::default_rhythm_leads(rows - 12);
            out.push(LayoutSpec::cabrera_12x1(&rhythm));
            out.push(LayoutSpec::bottom_up(1, &rhythm));
            out.push(LayoutSpec::twelve_by_one(&rhythm));
        }
        out
    }

    /// Parses a layout name: `3x4`, `3x4+II`, `3x4+V1,II,V5`, `6x2`, `6x2+II`, `12x1`,
    /// `6x2-cabrera`, `12x1-cabrera` (each with optional rhythm strips), `6x1-limb`,
    /// `6x1-chest`.
    pub fn parse(text: &str) -> Result<LayoutSpec, Error> {
        let text = text.trim();
        let (base, rhythm) = match text.split_once('+') {
            Some((b, r)) => (b, Some(r)),
            None => (text, None),
        };
        let mut leads = Vec::new();
        if let Some(r) = rhythm {
            for name in r.split(',') {
                let lead = Lead::from_name(name).ok_or_else(|| {
                    Error::InvalidOption(format!("unknown lead '{name}' in layout '{text}'"))
                })?;
                leads.push(lead);
            }
        }
        let unknown = || {
            Error::InvalidOption(format!(
                "unknown layout '{text}': expected auto, {LAYOUT_NAMES}"
            ))
        };
        match base.to_ascii_lowercase().as_str() {
            "3x4" => Ok(LayoutSpec::standard_3x4(&leads)),
            "6x2" => Ok(LayoutSpec::six_by_two(&leads)),
            "12x1" => Ok(LayoutSpec::twelve_by_one(&leads)),
            "6x2-cabrera" => Ok(LayoutSpec::cabrera_6x2(&leads)),
            "12x1-cabrera" => Ok(LayoutSpec::cabrera_12x1(&leads)),
            "6x1-limb" if leads.is_empty() => Ok(LayoutSpec::limb_6x1()),
            "6x1-chest" if leads.is_empty() => Ok(LayoutSpec::chest_6x1()),
            _ => Err(unknown()),
        }
    }
}

/// Limits that keep hostile files from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecodeLimits {
    /// Largest accepted width or height, in pixels.
    pub max_side_px: u32,
    /// Largest accepted pixel count (width × height).
    pub max_pixels: u64,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_side_px: 65_000,
            max_pixels: 100_000_000,
            max_alloc_bytes: 1 << 30,
        }
    }
}

/// Everything [`crate::digitize`] can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Paper speed in mm/s; `None` reads it from the page's printed text ("25mm/s"), else
    /// from the calibration pulse's width (0.2 s), and assumes 25 mm/s without either.
    pub speed_mm_per_s: Option<f32>,
    /// Vertical scale: measured from the calibration pulse, or given.
    pub gain: Gain,
    /// The page layout; `None` detects it.
    pub layout: Option<LayoutSpec>,
    /// Output sampling rate in Hz.
    pub fs_hz: f32,
    /// Decoder limits for untrusted files.
    pub limits: DecodeLimits,
    /// Pages whose longer side exceeds this many pixels are downscaled first, to bound time
    /// and memory; 300 DPI letter paper (3300 px) stays untouched.
    pub max_working_side_px: u32,
    /// Resolution of the image in dots per inch, for pages without a grid to measure;
    /// `None` takes the one the file states, where it makes a printout-sized page that
    /// agrees with the calibration pulses.
    #[serde(default)]
    pub dpi: Option<f32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            speed_mm_per_s: None,
            gain: Gain::Auto,
            layout: None,
            fs_hz: 500.0,
            limits: DecodeLimits::default(),
            max_working_side_px: 4000,
            dpi: None,
        }
    }
}

impl Options {
    /// Options from the user-facing settings shared by the CLI and the web page:
    /// paper speed as `auto` or mm/s, gain as `auto` or mm/mV, layout as `auto` or a name such
    /// as `3x4+II`, resolution as `auto` or dpi. `None` keeps the default.
    pub fn from_settings(
        speed: Option<&str>,
        gain: Option<&str>,
        layout: Option<&str>,
        dpi: Option<&str>,
    ) -> Result<Options, Error> {
        let mut o = Options {
            dpi: auto_or_number(dpi, "resolution", "dpi")?,
            ..Options::default()
        };
        if let Some(v) = auto_or_number(speed, "paper speed", "mm/s")? {
            o.speed_mm_per_s = Some(v);
        }
        if let Some(v) = auto_or_number(gain, "gain", "mm/mV")? {
            o.gain = Gain::MmPerMv(v);
        }
        if let Some(l) = layout
            .map(str::trim)
            .filter(|l| !l.eq_ignore_ascii_case("auto"))
        {
            o.layout = Some(LayoutSpec::parse(l)?);
        }
        o.validate()?;
        Ok(o)
    }

    /// Checks ranges, so that later stages can trust the numbers.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(v) = self.speed_mm_per_s {
            if !(v.is_finite() && (1.0..=1000.0).contains(&v)) {
                return Err(Error::InvalidOption(format!(
                    "paper speed {v} mm/s is outside 1–1000 mm/s"
                )));
            }
        }
        if let Gain::MmPerMv(g) = self.gain {
            if !(g.is_finite() && (0.5..=200.0).contains(&g)) {
                return Err(Error::InvalidOption(format!(
                    "gain {g} mm/mV is outside 0.5–200 mm/mV"
                )));
            }
        }
        if !(self.fs_hz.is_finite() && (50.0..=5000.0).contains(&self.fs_hz)) {
            return Err(Error::InvalidOption(format!(
                "sampling rate {} Hz is outside 50–5000 Hz",
                self.fs_hz
            )));
        }
        if let Some(d) = self.dpi {
            if !(d.is_finite() && (20.0..=2400.0).contains(&d)) {
                return Err(Error::InvalidOption(format!(
                    "resolution {d} dpi is outside 20–2400 dpi"
                )));
            }
        }
        if self.max_working_side_px < 500 {
            return Err(Error::InvalidOption(
                "working resolution must be at least 500 px".into(),
            ));
        }
        Ok(())
    }
}

/// A setting that is `auto` (or absent: `None`) or a number in `unit`.
fn auto_or_number(value: Option<&str>, name: &str, unit: &str) -> Result<Option<f32>, Error> {
    match value.map(str::trim) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("auto") => Ok(None),
        Some(v) => v.parse::<f32>().map(Some).map_err(|_| {
            Error::InvalidOption(format!(
                "{name} must be 'auto' or a number of {unit}, got '{v}'"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_parse_to_rows() {
        let l = LayoutSpec::parse("3x4+V1,II,V5").unwrap();
        assert_eq!(l.rows.len(), 6);
        assert_eq!(l.rows[3], vec![Lead::V1]);
        assert_eq!(l.name, "3x4+V1,II,V5");
        assert_eq!(LayoutSpec::parse("3x4").unwrap().rows.len(), 3);
        assert!(LayoutSpec::parse("7x7").is_err());
        assert!(LayoutSpec::parse("3x4+V9").is_err());
        let six = LayoutSpec::parse("6x2+II").unwrap();
        assert_eq!(six.rows.len(), 7);
        assert!(six.same_time_columns);
        assert_eq!(LayoutSpec::parse("12x1").unwrap().rows.len(), 12);
        assert_eq!(
            LayoutSpec::parse("6x1-chest").unwrap().rows[0],
            vec![Lead::V1]
        );
        let cabrera = LayoutSpec::parse("6x2-cabrera+II").unwrap();
        assert_eq!(cabrera.rows[0], vec![Lead::AVL, Lead::V1]);
        assert_eq!(cabrera.rows[2], vec![Lead::AVR, Lead::V3]);
        assert_eq!(cabrera.rows[6], vec![Lead::II]);
        assert!(cabrera.is_inverted(Lead::AVR) && !cabrera.is_inverted(Lead::II));
        let twelve = LayoutSpec::parse("12x1-cabrera").unwrap();
        assert_eq!(twelve.rows[5], vec![Lead::III]);
        assert_eq!(twelve.rows[6], vec![Lead::V1]);
    }

    #[test]
    fn rhythm_rows_are_the_repeats_after_every_lead() {
        let r = LayoutSpec::standard_3x4(&[Lead::V1, Lead::II, Lead::V5]).rhythm_rows();
        assert_eq!(r, vec![false, false, false, true, true, true]);
        let r = LayoutSpec::twelve_by_one(&[Lead::II]).rhythm_rows();
        assert_eq!(r.iter().filter(|&&x| x).count(), 1);
        assert!(r[12]);
        assert!(LayoutSpec::limb_6x1().rhythm_rows().iter().all(|&x| !x));
    }

    #[test]
    fn bottom_up_order_reads_from_the_top_as_the_generator_prints() {
        use Lead::*;
        let six = LayoutSpec::bottom_up(2, &[II]);
        assert_eq!(six.rows[0], vec![V1, V4]);
        assert_eq!(six.rows[5], vec![III, AVF]);
        assert_eq!(six.rows[6], vec![II]);
        assert!(six.same_time_columns);
        assert_eq!(six.name, "6x2+II");
        let twelve = LayoutSpec::bottom_up(1, &[]);
        assert_eq!(twelve.rows.len(), 12);
        assert_eq!(twelve.rows[0], vec![V4]);
        assert_eq!(twelve.rows[11], vec![III]);
        assert_eq!(
            LayoutSpec::bottom_up(4, &[]).rows,
            LayoutSpec::standard_3x4(&[]).rows
        );
    }

    #[test]
    fn settings_strings_become_options() {
        let o =
            Options::from_settings(Some("50"), Some("20"), Some("3x4+II"), Some("150")).unwrap();
        assert_eq!(o.speed_mm_per_s, Some(50.0));
        assert_eq!(o.dpi, Some(150.0));
        assert_eq!(o.gain, Gain::MmPerMv(20.0));
        assert_eq!(o.layout.unwrap().name, "3x4+II");
        let d =
            Options::from_settings(Some("auto"), Some("auto"), Some("auto"), Some("auto")).unwrap();
        assert_eq!(d, Options::default());
        assert!(Options::from_settings(None, Some("loud"), None, None).is_err());
        assert!(Options::from_settings(Some("-1"), None, None, None).is_err());
        assert!(Options::from_settings(Some("fast"), None, None, None).is_err());
        assert!(Options::from_settings(None, None, None, Some("fine")).is_err());
        assert!(Options::from_settings(None, None, None, Some("5")).is_err());
    }

    #[test]
    fn out_of_range_options_are_refused() {
        let mut o = Options::default();
        assert!(o.validate().is_ok());
        o.speed_mm_per_s = Some(0.0);
        assert!(o.validate().is_err());
        o = Options {
            gain: Gain::MmPerMv(f32::NAN),
            ..Options::default()
        };
        assert!(o.validate().is_err());
    }
}
