//! Stage 4b, labels: read the printed lead names (I, II, III, aVR, aVL, aVF, V1–V6).
//!
//! Label glyphs are small ink blobs of similar height standing side by side. Each blob is cut
//! into a coarse grid of mean ink, with its aspect ratio, and matched to the nearest template
//! rendered from common open fonts (`templates.rs`). The glyphs of a word spell a lead name or
//! the word is dropped: the alphabet is tiny, so a word that spells nothing is not a label.

mod templates;

use crate::ink::{BlobBox, ColumnRuns, InkView};
use crate::lead::Lead;
use templates::{FEATURES, GRID_H, GRID_W, TEMPLATES};

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
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions {
            glyph_height_mm: (1.2, 6.0),
            glyph_max_width_mm: 5.0,
            word_gap_mm: 1.5,
            aspect_weight: 2.0,
            max_distance: 0.3,
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
    let gap = opts.word_gap_mm * px_per_mm;
    let mut used = vec![false; glyphs.len()];
    let mut out = Vec::new();
    for i in 0..glyphs.len() {
        if used[i] {
            continue;
        }
        // Grow a word rightwards from glyph i along its text line.
        let mut word = vec![i];
        let mut right = glyphs[i].x_max as f32;
        let line = (glyphs[i].y_min, glyphs[i].y_max);
        for (j, g) in glyphs.iter().enumerate().skip(i + 1) {
            if used[j] {
                continue;
            }
            if g.x_min as f32 - right > gap {
                if g.x_min as f32 > right + gap {
                    break;
                }
                continue;
            }
            // Same line: the glyphs share most of their height (bottoms align; 'a' is short).
            let overlap = line.1.min(g.y_max) as f32 - line.0.max(g.y_min) as f32;
            if overlap >= 0.5 * (g.height().min(line.1 - line.0 + 1)) as f32 {
                word.push(j);
                right = right.max(g.x_max as f32);
            }
        }
        if word.len() > 3 {
            continue; // no lead name has more than three glyphs
        }
        let chars: Vec<(char, f32)> = word
            .iter()
            .map(|&k| classify(&glyphs[k], ink, opts))
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

/// The nearest template's character and its root-mean-square distance.
fn classify(b: &BlobBox, ink: &InkView, opts: &LabelOptions) -> (char, f32) {
    let f = glyph_features(b, ink);
    let mut best = ('?', f32::MAX);
    for (c, t) in TEMPLATES.iter() {
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
}
