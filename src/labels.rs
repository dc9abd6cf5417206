//! Stage 4b, labels: read the printed lead names (I, II, III, aVR, aVL, aVF, V1–V6) and the
//! printed settings ("25mm/s", "10mm/mV").
//!
//! Label glyphs are small ink blobs of similar height standing side by side. Each blob is cut
//! into a coarse grid of mean ink, with its aspect ratio, and matched to the nearest template
//! rendered from common open fonts (`templates.rs`). The glyphs of a word spell a lead name or
//! the word is dropped: the alphabet is tiny, so a word that spells nothing is not a label.
//! Settings are read the same way with digits, `m`, `s` and `/` added: a number followed by
//! `mm/s` or `mm/mV`, whatever text stands around it.

mod templates;

use crate::ink::{BlobBox, ColumnRuns, InkView};
use crate::lead::Lead;
use serde::Serialize;
use templates::{FEATURES, GRID_H, GRID_W, TEMPLATES};

/// The characters of lead names: lead labels are matched against these templates only.
const LEAD_GLYPHS: &str = "IVaARLF123456";
/// Lower-case characters of the templates, as tall as an 'x': the boxes of 's' and '5' look
/// alike once scaled, their heights do not.
const SHORT_GLYPHS: &str = "ams";
/// The templates' other characters: digits, capitals and '/'.
const TALL_GLYPHS: &str = "IVARLF0123456789/";

/// Tuning knobs of label reading (lengths in mm of paper).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelOptions {
    /// Glyph heights outside this range are not label text.
    pub glyph_height_mm: (f32, f32),
    /// Wider blobs are not single glyphs.
    pub glyph_max_width_mm: f32,
    /// Glyphs closer than this horizontally belong to one word.
    pub word_gap_mm: f32,
    /// Weight of the aspect ratio against the cell inks when matching.
    pub aspect_weight: f32,
    /// Glyphs further than this (root mean square over features) from every template are
    /// not letters.
    pub max_distance: f32,
    /// In settings text, glyphs closer than this many glyph heights belong to one word (a
    /// space between number and unit, "25 mm/s", is about half a digit's height).
    pub settings_gap_heights: f32,
    /// In settings text, glyphs shorter than this share of their word's tallest are
    /// lower-case letters ('m', 's'), taller ones digits, capitals or '/'.
    pub short_glyph_share: f32,
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions {
            glyph_height_mm: (1.2, 6.0),
            glyph_max_width_mm: 5.0,
            word_gap_mm: 1.5,
            aspect_weight: 2.0,
            max_distance: 0.3,
            settings_gap_heights: 0.8,
            short_glyph_share: 0.85,
        }
    }
}

/// A lead name read on the page, in upright pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LabelRead {
    /// The lead named.
    pub lead: Lead,
    /// Left edge of the word.
    pub x_left: f32,
    /// Right edge of the word.
    pub x_right: f32,
    /// Vertical centre of the word.
    pub y_center: f32,
    /// Height of the word's ink, in pixels.
    pub height: f32,
    /// Mean template distance of its glyphs (lower is surer).
    pub distance: f32,
}

/// Reads every lead-name label on the page.
pub fn read(
    runs: &ColumnRuns,
    ink: &InkView,
    px_per_mm: f32,
    opts: &LabelOptions,
) -> Vec<LabelRead> {
    let glyphs = glyph_blobs(runs, px_per_mm, opts);
    let gap = opts.word_gap_mm * px_per_mm;
    let mut used = vec![false; glyphs.len()];
    let mut out = Vec::new();
    for i in 0..glyphs.len() {
        if used[i] {
            continue;
        }
        let (word, right) = grow_word(&glyphs, i, &used, |_| gap);
        if word.len() > 3 {
            continue; // no lead name has more than three glyphs
        }
        let chars: Vec<(char, f32)> = word
            .iter()
            .map(|&k| classify(&glyphs[k], ink, opts, LEAD_GLYPHS))
            .collect();
        if chars.iter().any(|c| c.1 > opts.max_distance) {
            continue;
        }
        if let Some(lead) = spell(&chars.iter().map(|c| c.0).collect::<String>()) {
            let top = word.iter().map(|&k| glyphs[k].y_min).min().unwrap_or(0) as f32;
            let bottom = word.iter().map(|&k| glyphs[k].y_max).max().unwrap_or(0) as f32;
            for &k in &word {
                used[k] = true;
            }
            out.push(LabelRead {
                lead,
                x_left: glyphs[word[0]].x_min as f32,
                x_right: right,
                y_center: (top + bottom) / 2.0,
                height: bottom - top + 1.0,
                distance: chars.iter().map(|c| c.1).sum::<f32>() / chars.len() as f32,
            });
        }
    }
    out
}

/// Blobs of a glyph's size, left to right.
fn glyph_blobs(runs: &ColumnRuns, px_per_mm: f32, opts: &LabelOptions) -> Vec<BlobBox> {
    let (h_min, h_max) = (
        opts.glyph_height_mm.0 * px_per_mm,
        opts.glyph_height_mm.1 * px_per_mm,
    );
    let w_max = opts.glyph_max_width_mm * px_per_mm;
    let mut glyphs: Vec<BlobBox> = runs
        .components
        .iter()
        .copied()
        .filter(|b| {
            let (w, h) = (b.width() as f32, b.height() as f32);
            (h_min..=h_max).contains(&h) && w <= w_max
        })
        .collect();
    glyphs.sort_by_key(|b| b.x_min);
    glyphs
}

/// Grows a word rightwards from glyph `first` along its text line, over glyphs not `used`:
/// its glyphs, left to right, and its right edge. `gap(tallest)` is the widest gap within a
/// word, given the height of the word's tallest glyph so far.
fn grow_word(
    glyphs: &[BlobBox],
    first: usize,
    used: &[bool],
    gap: impl Fn(f32) -> f32,
) -> (Vec<usize>, f32) {
    let mut word = vec![first];
    let mut right = glyphs[first].x_max as f32;
    let mut tallest = glyphs[first].height() as f32;
    let line = (glyphs[first].y_min, glyphs[first].y_max);
    for (j, g) in glyphs.iter().enumerate().skip(first + 1) {
        if used[j] {
            continue;
        }
        // Glyphs are sorted by left edge: past the gap, no later glyph joins either.
        if g.x_min as f32 - right > gap(tallest) {
            break;
        }
        if same_line(line, g) {
            word.push(j);
            right = right.max(g.x_max as f32);
            tallest = tallest.max(g.height() as f32);
        }
    }
    (word, right)
}

/// Whether glyph `g` stands on the text line spanning rows `line`: the glyphs share most of
/// their height (bottoms align; 'a' is short).
fn same_line(line: (u32, u32), g: &BlobBox) -> bool {
    let overlap = line.1.min(g.y_max) as f32 - line.0.max(g.y_min) as f32;
    overlap >= 0.5 * (g.height().min(line.1 - line.0 + 1)) as f32
}

/// Which setting a printed text states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// Paper speed, "25mm/s".
    Speed,
    /// Gain, "10mm/mV".
    Gain,
}

/// A setting read from the page's text, in upright pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SettingRead {
    /// What it states.
    pub kind: SettingKind,
    /// Its value, in mm/s or mm/mV.
    pub value: f32,
    /// Left edge of the text.
    pub x_left: f32,
    /// Right edge of the text.
    pub x_right: f32,
    /// Vertical centre of the text.
    pub y_center: f32,
    /// Mean template distance of the glyphs that spell it.
    pub distance: f32,
}

/// Reads the paper speeds and gains printed as text ("25mm/s", "10 mm/mV"). Only values in
/// `speeds` and `gains` count; a decimal point is too small to be read as a glyph, so "12.5"
/// is known by 125 not being a standard speed.
pub fn read_settings(
    runs: &ColumnRuns,
    ink: &InkView,
    px_per_mm: f32,
    opts: &LabelOptions,
    speeds: &[f32],
    gains: &[f32],
) -> Vec<SettingRead> {
    let glyphs = glyph_blobs(runs, px_per_mm, opts);
    let mut used = vec![false; glyphs.len()];
    let mut out = Vec::new();
    for i in 0..glyphs.len() {
        if used[i] {
            continue;
        }
        let (word, _) = grow_word(&glyphs, i, &used, |tallest| {
            opts.settings_gap_heights * tallest
        });
        let tallest = word.iter().map(|&k| glyphs[k].height()).max().unwrap_or(0) as f32;
        for &k in &word {
            used[k] = true;
        }
        let chars: Vec<(char, f32)> = word
            .iter()
            .map(|&k| {
                let short = (glyphs[k].height() as f32) < opts.short_glyph_share * tallest;
                let alphabet = if short { SHORT_GLYPHS } else { TALL_GLYPHS };
                classify(&glyphs[k], ink, opts, alphabet)
            })
            .map(|(c, d)| {
                if d > opts.max_distance {
                    ('?', d)
                } else {
                    (c, d)
                }
            })
            .collect();
        let text: String = chars.iter().map(|c| c.0).collect();
        for (kind, number, span) in parse_settings(&text) {
            let standard = match kind {
                SettingKind::Speed => speeds,
                SettingKind::Gain => gains,
            };
            // The number as read, or with a decimal point before its last digit.
            let Some(value) = [number, number / 10.0]
                .into_iter()
                .find(|v| standard.contains(v))
            else {
                continue;
            };
            let spelled = &word[span.clone()];
            let top = spelled.iter().map(|&k| glyphs[k].y_min).min().unwrap_or(0) as f32;
            let bottom = spelled.iter().map(|&k| glyphs[k].y_max).max().unwrap_or(0) as f32;
            out.push(SettingRead {
                kind,
                value,
                x_left: glyphs[spelled[0]].x_min as f32,
                x_right: spelled.iter().map(|&k| glyphs[k].x_max).max().unwrap_or(0) as f32,
                y_center: (top + bottom) / 2.0,
                distance: chars[span].iter().map(|c| c.1).sum::<f32>() / spelled.len() as f32,
            });
        }
    }
    out
}

/// Every number followed by `mm/s` or `mm/mV` in a word's glyphs: the setting, the number
/// and the glyphs (as a range of indices) that spell them. A bar before `mm` is the digit one.
fn parse_settings(text: &str) -> Vec<(SettingKind, f32, std::ops::Range<usize>)> {
    // Template characters and '?' are ASCII: one byte per glyph.
    let glyphs = text.as_bytes();
    let mut out = Vec::new();
    for at in 1..glyphs.len() {
        let (kind, len) = if glyphs[at..].starts_with(b"mm/mV") {
            (SettingKind::Gain, 5)
        } else if glyphs[at..].starts_with(b"mm/s") {
            (SettingKind::Speed, 4)
        } else {
            continue;
        };
        let digits = glyphs[..at]
            .iter()
            .rev()
            .take_while(|&&c| c.is_ascii_digit() || c == b'I')
            .count();
        // No number, or a longer one than any setting's, which only happens to end here.
        if digits == 0 || digits > 3 {
            continue;
        }
        let number: String = glyphs[at - digits..at]
            .iter()
            .map(|&c| if c == b'I' { '1' } else { c as char })
            .collect();
        if let Ok(n) = number.parse() {
            out.push((kind, n, at - digits..at + len));
        }
    }
    out
}

/// The lead a string of glyphs spells, tolerating the look-alike bars `1` and `I`: after a
/// `V` a bar is the digit one, elsewhere it is the roman numeral.
fn spell(text: &str) -> Option<Lead> {
    if let Some(l) = Lead::from_name(text) {
        return Some(l);
    }
    let chest = text.starts_with(['V', 'v']);
    let fixed: String = text
        .chars()
        .enumerate()
        .map(|(i, c)| match c {
            'I' if chest && i > 0 => '1',
            '1' if !chest => 'I',
            c => c,
        })
        .collect();
    Lead::from_name(&fixed)
}

/// Mean ink per grid cell of a glyph's box, then its aspect ratio (as in `templates.rs`).
pub fn glyph_features(b: &BlobBox, ink: &InkView) -> [f32; FEATURES] {
    let mut f = [0f32; FEATURES];
    let (x0, y0) = (b.x_min as f32, b.y_min as f32);
    let (bw, bh) = (b.width() as f32, b.height() as f32);
    for gy in 0..GRID_H {
        for gx in 0..GRID_W {
            let (cx0, cx1) = (
                x0 + bw * gx as f32 / GRID_W as f32,
                x0 + bw * (gx + 1) as f32 / GRID_W as f32,
            );
            let (cy0, cy1) = (
                y0 + bh * gy as f32 / GRID_H as f32,
                y0 + bh * (gy + 1) as f32 / GRID_H as f32,
            );
            let (mut total, mut area) = (0f32, 0f32);
            for y in (cy0 as usize)..=((cy1 as usize).min(b.y_max as usize)) {
                for x in (cx0 as usize)..=((cx1 as usize).min(b.x_max as usize)) {
                    let a = ((x as f32 + 1.0).min(cx1) - (x as f32).max(cx0)).max(0.0)
                        * ((y as f32 + 1.0).min(cy1) - (y as f32).max(cy0)).max(0.0);
                    total += (ink.weight)(ink.plane.get(x, y)) * a;
                    area += a;
                }
            }
            f[gy * GRID_W + gx] = if area > 0.0 { total / area } else { 0.0 };
        }
    }
    f[FEATURES - 1] = bw / bh;
    f
}

/// The nearest template's character and its root-mean-square distance, among the characters
/// of `alphabet`.
fn classify(b: &BlobBox, ink: &InkView, opts: &LabelOptions, alphabet: &str) -> (char, f32) {
    let f = glyph_features(b, ink);
    let mut best = ('?', f32::MAX);
    for (c, t) in TEMPLATES.iter() {
        if !alphabet.contains(*c) {
            continue;
        }
        let mut d = 0f32;
        for k in 0..FEATURES - 1 {
            d += (f[k] - t[k]).powi(2);
        }
        // Aspect ratios compare as logs: a bar twice too wide is as wrong as half as wide.
        let a =
            (f[FEATURES - 1].max(0.02).ln() - t[FEATURES - 1].max(0.02).ln()) * opts.aspect_weight;
        d = ((d + a * a) / FEATURES as f32).sqrt();
        if d < best.1 {
            best = (*c, d);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_bars_spell_the_sensible_lead() {
        assert_eq!(spell("VI"), Some(Lead::V1));
        assert_eq!(spell("1I"), Some(Lead::II));
        assert_eq!(spell("AVR"), Some(Lead::AVR));
        assert_eq!(spell("aVL"), Some(Lead::AVL));
        assert_eq!(spell("V7"), None);
        assert_eq!(spell("RL"), None);
    }

    #[test]
    fn every_template_character_is_short_or_tall() {
        for (c, _) in TEMPLATES.iter() {
            assert!(SHORT_GLYPHS.contains(*c) != TALL_GLYPHS.contains(*c), "{c}");
        }
    }

    #[test]
    fn settings_are_a_number_before_their_unit_whatever_stands_around_them() {
        let read = |t: &str| {
            parse_settings(t)
                .into_iter()
                .map(|(k, n, r)| (k, n, r.start, r.end))
                .collect::<Vec<_>>()
        };
        assert_eq!(read("25mm/s"), [(SettingKind::Speed, 25.0, 0, 6)]);
        assert_eq!(read("??I0mm/mV?"), [(SettingKind::Gain, 10.0, 2, 9)]);
        assert_eq!(
            read("125mm/s50mm/s"),
            [
                (SettingKind::Speed, 125.0, 0, 7),
                (SettingKind::Speed, 50.0, 7, 13)
            ]
        );
        // No number, or one too long to be a setting.
        assert!(read("?mm/s").is_empty());
        assert!(read("2025mm/s").is_empty());
        assert!(read("25mm/?").is_empty());
    }
}
