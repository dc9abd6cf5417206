//! Stage 1c, dewarp: a photographed page laid flat from its grid lattice, at a fixed scale,
//! with the grid lines taken out.
//!
//! Each cell of the [`Lattice`] becomes a square of the flat page; inside a cell, positions
//! are interpolated bilinearly between its four crossings, so the page's curl, fold and
//! perspective are undone cell by cell (a piecewise-bilinear mesh warp, as in document
//! dewarping from text lines: Ulges et al., ICDAR 2005, here from the ECG grid).
//!
//! On the flat page the grid lines lie at known places, straight and evenly spaced. The
//! sheet is where its grid shows (the desk and the room around it are blanked), and the
//! lines themselves are taken out where no trace lies along them (see [`flatten`]).

use crate::lattice::Lattice;
use image::RgbImage;

/// Tuning knobs of the flat page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DewarpOptions {
    /// Pixels per millimetre of the flat page (8 is about 200 DPI, where the stages after
    /// this one are at their best).
    pub px_per_mm: f32,
    /// Millimetres between the grid lines the lattice follows (the major lines).
    pub cell_mm: f32,
    /// Half the width of the band about each grid line that is divided out, in mm.
    pub line_half_width_mm: f32,
    /// A cell's paper colour is this percentile of its inside, per channel (0–1).
    pub paper_percentile: f32,
    /// A stretch of line whose core is this much darker (ink) than the typical line's ...
    pub riding_ink: f32,
    /// ... or this share less tinted (or both, in proportion) has a trace lying along it.
    pub riding_tint: f32,
    /// Ink this dark either side of a short erased stretch makes it a stroke's, restored.
    pub stroke_ink: f32,
    /// The typical line a stretch is measured against is the median of the stretches this
    /// many lines and cells around it.
    pub line_region_cells: usize,
    /// On a bare stretch, pixels with this much more ink than their tint accounts for (at
    /// the typical line's ink per tint, and at most the line's ink) are a trace crossing
    /// it, and stay.
    pub crossing_ink: f32,
    /// On a stretch a trace lies along, pixels with less ink over what their tint accounts
    /// for than this are the line, and go.
    pub riding_margin: f32,
    /// A cell's side shows a grid line when the line is this much darker (0–1, the mean of
    /// the channels) than the paper beside it, in the median along the side.
    pub min_line_contrast: f32,
    /// Strips this wide (mm) along the flat page's left and right, and top and bottom, are
    /// blanked: the page is cut at its grid's last lines, which they take out.
    pub edge_strip_mm: (f32, f32),
    /// A cell without grid lines is off the sheet only if its inside is darker than this
    /// share of the paper's brightness ...
    pub desk_darkness: f32,
    /// ... or further than this from the paper's colour (chromaticity distance).
    pub desk_tint: f32,
    /// The mesh is refined on the flat page it gives: each lattice cell is cut into this
    /// many sub-cells a side, whose corners follow the grid lines as the flat page shows
    /// them (1: the lattice is used as found). Off (1) by default: at 2 it lifts the 20
    /// photos (14.37 -> 14.80 dB aligned, 11.83 -> 12.96 raw) and rendered curls and folds,
    /// and leaves a rendered phone photo level, but ph002 falls under its fixture's raw
    /// bound: its lead II, cut off by the photo's edge, ends on a grid line's remnant
    /// (BENCHMARKS.md).
    pub refine_subdivisions: usize,
    /// A line must be this much darker (0–255, darkest channel) than the paper across it to
    /// be measured.
    pub refine_min_darkness: f32,
    /// Longest correction, in flat-page pixels: a peak further off is another mark.
    pub refine_max_px: f32,
    /// A place along a line whose darkness across it (above the paper's) exceeds the
    /// line's median by this factor has a trace beside the line, and is not measured.
    pub refine_max_mass_ratio: f32,
}

impl Default for DewarpOptions {
    fn default() -> Self {
        DewarpOptions {
            px_per_mm: 8.0,
            cell_mm: 5.0,
            line_half_width_mm: 0.6,
            paper_percentile: 0.6,
            riding_ink: 0.12,
            riding_tint: 0.5,
            stroke_ink: 0.15,
            line_region_cells: 3,
            crossing_ink: 0.15,
            riding_margin: 0.06,
            min_line_contrast: 0.02,
            edge_strip_mm: (1.5, 1.5),
            desk_darkness: 0.8,
            desk_tint: 0.03,
            refine_subdivisions: 1,
            refine_min_darkness: 8.0,
            refine_max_px: 2.5,
            refine_max_mass_ratio: 1.3,
        }
    }
}

/// Where the flat page's pixels come from in the photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    lattice: Lattice,
    /// Flat-page pixels per lattice cell.
    cell_px: f32,
    /// Where the flat page's corner lies on the lattice's, in flat-page pixels (the page is
    /// cut to the sheet).
    origin: (f32, f32),
}

impl Mesh {
    /// Where the flat-page point `(x, y)` lies in the photo, if on the lattice.
    pub fn to_source(&self, x: f32, y: f32) -> Option<[f32; 2]> {
        let (x, y) = (x + self.origin.0, y + self.origin.1);
        self.lattice.at(x / self.cell_px, y / self.cell_px)
    }

    /// Like [`Mesh::to_source`], but off the lattice, or in a hole of it, it continues the
    /// mapping of the nearest cell it has, so overlay points still land near their ink.
    pub fn to_source_extended(&self, x: f32, y: f32) -> [f32; 2] {
        let l = &self.lattice;
        let (ox, oy) = self.origin;
        let max_x = (l.columns - 1) as f32 * self.cell_px - 1e-3 - ox;
        let max_y = (l.rows - 1) as f32 * self.cell_px - 1e-3 - oy;
        let clamped = (x.clamp(-ox, max_x), y.clamp(-oy, max_y));
        let from = match self.to_source(clamped.0, clamped.1) {
            Some(p) => Some((clamped, p)),
            None => self.nearest_mapped(x, y),
        };
        let Some(((cx, cy), p)) = from else {
            return [x, y];
        };
        if cx == x && cy == y {
            return p;
        }
        // Continue by the local scale there, one pixel towards the inside at the far edges.
        let slope = |dx: f32, dy: f32| -> Option<[f32; 2]> {
            let ahead = self.to_source(cx + dx, cy + dy);
            match ahead {
                Some(q) => Some([q[0] - p[0], q[1] - p[1]]),
                None => self
                    .to_source(cx - dx, cy - dy)
                    .map(|q| [p[0] - q[0], p[1] - q[1]]),
            }
        };
        match (slope(1.0, 0.0), slope(0.0, 1.0)) {
            (Some(sx), Some(sy)) => [
                p[0] + sx[0] * (x - cx) + sy[0] * (y - cy),
                p[1] + sx[1] * (x - cx) + sy[1] * (y - cy),
            ],
            _ => p,
        }
    }

    /// The centre of the mapped cell nearest to the flat-page point `(x, y)`, and where it
    /// lies in the photo.
    fn nearest_mapped(&self, x: f32, y: f32) -> Option<((f32, f32), [f32; 2])> {
        let l = &self.lattice;
        let (ox, oy) = self.origin;
        (0..l.rows - 1)
            .flat_map(|j| (0..l.columns - 1).map(move |i| (i, j)))
            .map(|(i, j)| {
                let c = (
                    (i as f32 + 0.5) * self.cell_px - ox,
                    (j as f32 + 0.5) * self.cell_px - oy,
                );
                (c, libm::hypotf(c.0 - x, c.1 - y))
            })
            .filter_map(|(c, d)| Some((c, self.to_source(c.0, c.1)?, d)))
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(c, p, _)| (c, p))
    }
}

/// A photographed page laid flat.
#[derive(Debug, Clone)]
pub struct Flat {
    /// The page at [`DewarpOptions::px_per_mm`], grid lines taken out; white off the grid.
    pub image: RgbImage,
    /// Pixels per mm on both axes.
    pub px_per_mm: f32,
    /// Flat-page pixels back to the photo.
    pub mesh: Mesh,
}

/// Lays the photographed page flat along its lattice, blanks what is not the page, and
/// takes the grid lines out.
pub fn flatten(photo: &RgbImage, lattice: Lattice, opts: &DewarpOptions) -> Flat {
    let cell_px = opts.px_per_mm * opts.cell_mm;
    let mut mesh = Mesh {
        lattice,
        cell_px,
        origin: (0.0, 0.0),
    };
    let (mut image, mut sampled) = resample(photo, &mesh);
    let refined = refine_mesh(&image, &sampled, &mesh, opts);
    // A rendered sheet's paper is pure white, which is also what blanking writes: looked at
    // before anything is blanked, it tells which white is paper (a photo has next to none).
    // It matters once the mesh is refined: with the grid lines on the cells' edges, outside
    // what a cell's paper is measured on, a white cell had only its trace left to measure.
    let white_paper = refined.is_some() && {
        let on_sheet = sampled.iter().filter(|&&s| s).count();
        let white = image
            .pixels()
            .zip(&sampled)
            .filter(|&(p, &s)| s && p.0 == [255, 255, 255])
            .count();
        white * 10 > on_sheet
    };
    if let Some(fine) = refined {
        mesh = fine;
        (image, sampled) = resample(photo, &mesh);
    }
    let sheet = blank_off_sheet(&mut image, &sampled, cell_px, opts);
    // Cut to the sheet, at whole cells, so the grid lines stay at multiples of a cell.
    if let Some((i0, j0, i1, j1)) = sheet {
        let (x0, y0) = ((i0 as f32 * cell_px) as u32, (j0 as f32 * cell_px) as u32);
        let x1 = (((i1 + 1) as f32 * cell_px) as u32).min(image.width());
        let y1 = (((j1 + 1) as f32 * cell_px) as u32).min(image.height());
        if x1 > x0 && y1 > y0 && (x0, y0, x1, y1) != (0, 0, image.width(), image.height()) {
            image = image::imageops::crop_imm(&image, x0, y0, x1 - x0, y1 - y0).to_image();
            mesh.origin = (x0 as f32, y0 as f32);
        }
    }
    blank_sheet_edges(&mut image, opts);
    separate_grid(&mut image, cell_px, white_paper, opts);
    Flat {
        image,
        px_per_mm: opts.px_per_mm,
        mesh,
    }
}

/// The mesh moved onto the grid lines of the flat page it gave.
///
/// The lattice is found on a reduced photo (a period of 16 pixels) and is bilinear across
/// each cell, so on the flat page (40 pixels a period) its lines still stray by a few
/// tenths of a pixel, and a curled cell's lines bend between its crossings; on a QRS
/// complex a flat-page pixel is 2.5 samples. Each grid line's offset from its place is
/// measured across it at every sub-cell corner along it; the finer mesh's nodes move by
/// the offsets of the lines either side of them. `None` when no line could be measured.
fn refine_mesh(
    flat: &RgbImage,
    sampled: &[bool],
    mesh: &Mesh,
    opts: &DewarpOptions,
) -> Option<Mesh> {
    let s = opts.refine_subdivisions;
    let l = &mesh.lattice;
    if s < 2 || l.columns < 2 || l.rows < 2 {
        return None;
    }
    let (w, h) = (flat.width() as usize, flat.height() as usize);
    let cell = mesh.cell_px;
    let sub = cell / s as f32;
    let raw = flat.as_raw();
    // Darkness of the darkest channel: a coloured grid line is dark in one channel at
    // least, and sharp there (a photo's colour, and so its tint, is blurred).
    let dark = |x: usize, y: usize| -> Option<f32> {
        let i = y * w + x;
        sampled[i].then(|| {
            let p = &raw[i * 3..i * 3 + 3];
            255.0 - p[0].min(p[1]).min(p[2]) as f32
        })
    };
    let half = ((opts.line_half_width_mm * opts.px_per_mm).round() as i64).max(1);
    let reach = half + 2;
    let width = (2 * reach + 1) as usize;
    let window = sub.round() as i64;
    // Offset of the line at `across` (a flat-page coordinate), measured about `along`:
    // the centroid of its darkness across the line, in the median over the positions along
    // it that lie clear of the crossing lines (a trace crossing it covers only a few).
    let offset = |vertical: bool, across: i64, along: i64| -> Option<(f32, f32)> {
        let (len, span) = if vertical { (h, w) } else { (w, h) };
        let mut columns = vec![Vec::new(); width];
        for a in along - window..=along + window {
            if a < 0 || a >= len as i64 {
                continue;
            }
            let to_line = (a as f32 / cell).round() * cell - a as f32;
            if to_line.abs() <= half as f32 {
                continue;
            }
            let row: Option<Vec<f32>> = (-reach..=reach)
                .map(|d| {
                    let b = across + d;
                    if b < 0 || b >= span as i64 {
                        return None;
                    }
                    let (x, y) = if vertical { (b, a) } else { (a, b) };
                    dark(x as usize, y as usize)
                })
                .collect();
            if let Some(row) = row {
                columns.iter_mut().zip(row).for_each(|(c, v)| c.push(v));
            }
        }
        if columns[0].len() < 3 {
            return None;
        }
        let profile: Vec<f32> = columns.iter_mut().filter_map(|c| median(c)).collect();
        let mut sorted = profile.clone();
        sorted.sort_by(f32::total_cmp);
        let paper = sorted[sorted.len() / 2];
        // A trace across much of the profile lifts its median: the darkness beside the line
        // is counted above the lower fifth, so a stroke along the line still shows.
        let floor = sorted[sorted.len() / 5];
        let peak = (2..profile.len() - 2).max_by(|&i, &j| profile[i].total_cmp(&profile[j]))?;
        if profile[peak] - paper < opts.refine_min_darkness {
            return None;
        }
        let (mut sum, mut mass) = (0.0, 0.0);
        for (i, p) in profile.iter().enumerate().take(peak + 3).skip(peak - 2) {
            let m = (p - paper).max(0.0);
            sum += m * i as f32;
            mass += m;
        }
        let off = sum / mass.max(1e-6) - reach as f32;
        let total: f32 = profile.iter().map(|p| (p - floor).max(0.0)).sum();
        (off.abs() <= opts.refine_max_px).then_some((off, total))
    };
    let (cols, rows) = ((l.columns - 1) * s + 1, (l.rows - 1) * s + 1);
    // Per line and sub-cell corner along it, the line's offset; lines measured nowhere, and
    // corners between measured ones, are filled along the line.
    let measure = |vertical: bool, lines: usize, along: usize| -> Vec<Vec<f32>> {
        let got: Vec<Vec<Option<(f32, f32)>>> = (0..lines)
            .map(|k| {
                let across = (k as f32 * cell).round() as i64;
                (0..along)
                    .map(|m| offset(vertical, across, (m as f32 * sub).round() as i64))
                    .collect()
            })
            .collect();
        // A trace beside or along the line adds its ink to the line's and pulls the centroid
        // toward itself: such places are left to their neighbours. What a bare line weighs
        // is the median over the lines and places around, as a row's baseline can lie along
        // one line for most of its length.
        let reach = opts.line_region_cells;
        let mut masses = Vec::new();
        let kept: Vec<Vec<Option<f32>>> = (0..lines)
            .map(|k| {
                (0..along)
                    .map(|m| {
                        let (offset, mass) = got[k][m]?;
                        masses.clear();
                        for line in &got[k.saturating_sub(reach)..(k + reach + 1).min(lines)] {
                            let near = &line[m.saturating_sub(reach)..(m + reach + 1).min(along)];
                            masses.extend(near.iter().flatten().map(|g| g.1));
                        }
                        let bare = median(&mut masses)?;
                        (mass <= bare * opts.refine_max_mass_ratio).then_some(offset)
                    })
                    .collect()
            })
            .collect();
        let filled = fill_holes(&kept, reach * s, reach);
        // A running median of three takes out single misreadings.
        filled
            .iter()
            .map(|line| {
                (0..along)
                    .map(|m| {
                        let mut three = line[m.saturating_sub(1)..(m + 2).min(along)].to_vec();
                        median(&mut three).unwrap_or(0.0)
                    })
                    .collect()
            })
            .collect()
    };
    let vertical = measure(true, l.columns, rows);
    let horizontal = measure(false, l.rows, cols);
    if vertical
        .iter()
        .chain(&horizontal)
        .flatten()
        .all(|&o| o == 0.0)
    {
        return None;
    }
    let between = |offsets: &[Vec<f32>], n: usize, m: usize| -> f32 {
        let (k, f) = (n / s, (n % s) as f32 / s as f32);
        let a = offsets[k][m];
        offsets.get(k + 1).map_or(a, |b| a * (1.0 - f) + b[m] * f)
    };
    let nudged = |u: f32, v: f32| -> Option<[f32; 2]> {
        // A node on the edge of a hole still belongs to the cell on its other side.
        const E: f32 = 1e-3;
        [(0.0, 0.0), (-E, 0.0), (0.0, -E), (-E, -E)]
            .iter()
            .find_map(|&(du, dv)| l.at((u + du).max(0.0), (v + dv).max(0.0)))
    };
    let (max_u, max_v) = ((l.columns - 1) as f32, (l.rows - 1) as f32);
    let mut nodes = Vec::with_capacity(cols * rows);
    for j in 0..rows {
        for i in 0..cols {
            let (x, y) = (i as f32 * sub, j as f32 * sub);
            let dx = between(&vertical, i, j);
            let dy = between(&horizontal, j, i);
            let u = ((x + dx) / cell).clamp(0.0, max_u);
            let v = ((y + dy) / cell).clamp(0.0, max_v);
            nodes.push(nudged(u, v).or_else(|| nudged(x / cell, y / cell)));
        }
    }
    Some(Mesh {
        lattice: Lattice {
            columns: cols,
            rows,
            nodes,
            period_px: l.period_px / s as f32,
            coverage: l.coverage,
            bend_periods: l.bend_periods,
            concentration: l.concentration,
            solidity: l.solidity,
        },
        cell_px: sub,
        origin: mesh.origin,
    })
}

/// Each line's offsets with its unmeasured places filled along the line: linearly between
/// measured places up to `2 reach + 1` places apart, and across longer gaps and beyond the
/// ends by the nearer measurement, fading over `reach` places to the median over a wider
/// region (`lines_reach` lines either side, four times as far along; 0, the lattice as
/// found, without any). A line measured at one stray place (a stroke, the desk) so does not
/// carry that offset along its whole length, and a stretch left unmeasured still follows
/// the trend of the lines around.
fn fill_holes(offsets: &[Vec<Option<f32>>], reach: usize, lines_reach: usize) -> Vec<Vec<f32>> {
    let mut wide = Vec::new();
    (0..offsets.len())
        .map(|k| {
            let line = &offsets[k];
            let known: Vec<(usize, f32)> = line
                .iter()
                .enumerate()
                .filter_map(|(m, v)| v.map(|v| (m, v)))
                .collect();
            (0..line.len())
                .map(|m| {
                    let p = known.partition_point(|&(n, _)| n < m);
                    let (before, after) = (p.checked_sub(1).map(|q| known[q]), known.get(p));
                    match (before, after) {
                        (_, Some(&(n, v))) if n == m => return v,
                        (Some((a, va)), Some(&(b, vb))) if b - a <= 2 * reach + 1 => {
                            return va + (vb - va) * (m - a) as f32 / (b - a) as f32;
                        }
                        _ => {}
                    }
                    wide.clear();
                    for other in &offsets
                        [k.saturating_sub(lines_reach)..(k + lines_reach + 1).min(offsets.len())]
                    {
                        let first = m.saturating_sub(4 * reach);
                        wide.extend(
                            other[first..(m + 4 * reach + 1).min(other.len())]
                                .iter()
                                .flatten(),
                        );
                    }
                    let trend = median(&mut wide).unwrap_or(0.0);
                    let nearest = [before, after.copied()]
                        .into_iter()
                        .flatten()
                        .min_by_key(|&(n, _)| n.abs_diff(m));
                    match nearest {
                        Some((n, v)) => {
                            let w = (1.0 - n.abs_diff(m) as f32 / (reach + 1) as f32).max(0.0);
                            w * v + (1.0 - w) * trend
                        }
                        None => trend,
                    }
                })
                .collect()
        })
        .collect()
}

/// The flat page, bilinear from the photo (which is first reduced by whole pixels where
/// its cells are much larger than the flat page's, so thin strokes are averaged, not
/// skipped). Along an output row a cell's source points are evenly spaced, so each cell is
/// walked with a constant step.
fn resample(photo: &RgbImage, mesh: &Mesh) -> (RgbImage, Vec<bool>) {
    let l = &mesh.lattice;
    let cell = mesh.cell_px;
    let (w, h) = (
        ((l.columns - 1) as f32 * cell).round() as usize,
        ((l.rows - 1) as f32 * cell).round() as usize,
    );
    let shrink = ((l.period_px / cell).floor() as u32).max(1);
    let reduced;
    let source = if shrink > 1 {
        reduced = crate::raster::box_reduce(photo, shrink);
        &reduced
    } else {
        photo
    };
    let k = 1.0 / shrink as f32;
    let (sw, sh) = (source.width() as usize, source.height() as usize);
    let src = source.as_raw();
    let mut out = vec![255u8; w * h * 3];
    let mut sampled = vec![false; w * h];
    for y in 0..h {
        let v = y as f32 / cell;
        let j = (v as usize).min(l.rows - 2);
        let fv = v - j as f32;
        for i in 0..l.columns - 1 {
            let edge = |i: usize| -> Option<[f32; 2]> {
                let (a, b) = (l.node(i, j)?, l.node(i, j + 1)?);
                // Photo pixel centres at integers; the reduced copy's at (n + 0.5)·shrink − 0.5.
                Some([0, 1].map(|c| ((a[c] * (1.0 - fv) + b[c] * fv) + 0.5) * k - 0.5))
            };
            let (Some(left), Some(right)) = (edge(i), edge(i + 1)) else {
                continue;
            };
            let x_from = (i as f32 * cell).ceil() as usize;
            let x_to = (((i + 1) as f32 * cell).ceil() as usize).min(w);
            let (max_x, max_y) = ((sw - 1) as f32, (sh - 1) as f32);
            for x in x_from..x_to {
                let fu = x as f32 / cell - i as f32;
                let sx = left[0] + (right[0] - left[0]) * fu;
                let sy = left[1] + (right[1] - left[1]) * fu;
                if !(sx >= 0.0 && sy >= 0.0 && sx < max_x && sy < max_y) {
                    continue;
                }
                // Bilinear in fixed point, 8-bit weights.
                let (x0, y0) = (sx as usize, sy as usize);
                let tx = ((sx - x0 as f32) * 256.0) as u32;
                let ty = ((sy - y0 as f32) * 256.0) as u32;
                let a = (y0 * sw + x0) * 3;
                let (p, q) = (&src[a..a + 6], &src[a + sw * 3..a + sw * 3 + 6]);
                sampled[y * w + x] = true;
                let o = &mut out[(y * w + x) * 3..(y * w + x) * 3 + 3];
                for c in 0..3 {
                    let top = p[c] as u32 * (256 - tx) + p[c + 3] as u32 * tx;
                    let bot = q[c] as u32 * (256 - tx) + q[c + 3] as u32 * tx;
                    o[c] = ((top * (256 - ty) + bot * ty + 32768) >> 16) as u8;
                }
            }
        }
    }
    (
        RgbImage::from_raw(w as u32, h as u32, out).expect("buffer matches dimensions"),
        sampled,
    )
}

/// Blanks a strip along the flat page's sides, where it is cut at the grid's last lines: a
/// border line printed heavier than the grid's would otherwise read as a row of ink.
fn blank_sheet_edges(image: &mut RgbImage, opts: &DewarpOptions) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let side = (opts.edge_strip_mm.0 * opts.px_per_mm) as usize;
    let end = (opts.edge_strip_mm.1 * opts.px_per_mm) as usize;
    if w <= 4 * side || h <= 4 * end {
        return;
    }
    let raw: &mut [u8] = image;
    for y in 0..h {
        for x in 0..w {
            if x < side || y < end || x + side >= w || y + end >= h {
                raw[(y * w + x) * 3..(y * w + x) * 3 + 3].fill(255);
            }
        }
    }
}

/// The paper's colour per cell of the flat page: a high percentile of each channel over
/// the cell's inside (its grid lines left out), at the cell centres.
struct Paper {
    cells_x: usize,
    cells_y: usize,
    cell_px: f32,
    levels: Vec<[f32; 3]>,
}

impl Paper {
    /// `white_paper`: pure white pixels are the sheet's paper (a rendered page), not blanked.
    fn measure(
        image: &RgbImage,
        cell_px: f32,
        margin: usize,
        percentile: f32,
        white_paper: bool,
    ) -> Paper {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let (cells_x, cells_y) = (
            ((w as f32 / cell_px).ceil() as usize).max(1),
            ((h as f32 / cell_px).ceil() as usize).max(1),
        );
        let raw = image.as_raw();
        let mut levels = Vec::with_capacity(cells_x * cells_y);
        for cy in 0..cells_y {
            for cx in 0..cells_x {
                let x0 = ((cx as f32 * cell_px) as usize + margin).min(w);
                let x1 = ((((cx + 1) as f32 * cell_px) as usize).saturating_sub(margin)).min(w);
                let y0 = ((cy as f32 * cell_px) as usize + margin).min(h);
                let y1 = ((((cy + 1) as f32 * cell_px) as usize).saturating_sub(margin)).min(h);
                let mut hist = [[0u32; 256]; 3];
                let mut n = 0u32;
                for y in y0..y1.max(y0) {
                    for p in raw[(y * w + x0) * 3..(y * w + x1.max(x0)) * 3].chunks_exact(3) {
                        // Blanked pixels (pure white) are no paper of the photo's.
                        if !white_paper && p == [255, 255, 255] {
                            continue;
                        }
                        for c in 0..3 {
                            hist[c][p[c] as usize] += 1;
                        }
                        n += 1;
                    }
                }
                let cell_area = ((x1.saturating_sub(x0)) * (y1.saturating_sub(y0))) as u32;
                if n * 4 < cell_area.max(1) {
                    levels.push(None);
                    continue;
                }
                let target = (n as f32 * percentile) as u32;
                levels.push(Some(hist.map(|h| {
                    let mut acc = 0;
                    for (v, &count) in h.iter().enumerate() {
                        acc += count;
                        if acc > target {
                            return v as f32;
                        }
                    }
                    255.0
                })));
            }
        }
        // Cells with too little paper take their nearest measured neighbour's, ring by ring.
        for _ in 0..cells_x.max(cells_y) {
            if levels.iter().all(Option::is_some) {
                break;
            }
            let before = levels.clone();
            for (k, l) in levels.iter_mut().enumerate().filter(|(_, l)| l.is_none()) {
                let (i, j) = ((k % cells_x) as i64, (k / cells_x) as i64);
                *l = [(1, 0), (-1, 0), (0, 1), (0, -1)]
                    .iter()
                    .find_map(|&(di, dj)| {
                        let (a, b) = (i + di, j + dj);
                        (a >= 0 && b >= 0 && (a as usize) < cells_x && (b as usize) < cells_y)
                            .then(|| before[b as usize * cells_x + a as usize])
                            .flatten()
                    });
            }
        }
        let levels = levels
            .into_iter()
            .map(|l| l.unwrap_or([255.0; 3]))
            .collect();
        Paper {
            cells_x,
            cells_y,
            cell_px,
            levels,
        }
    }

    /// The cells either side of pixel `p` along an axis of `n` cells, and the weight of the
    /// second.
    fn axis(&self, p: usize, n: usize) -> (usize, usize, f32) {
        let f = ((p as f32 + 0.5) / self.cell_px - 0.5).clamp(0.0, (n - 1) as f32);
        let i = f as usize;
        (i, (i + 1).min(n - 1), f - i as f32)
    }

    /// For every column, the cells either side and the weight of the second: the same for
    /// every row.
    fn columns(&self, width: usize) -> Vec<(usize, usize, f32)> {
        (0..width).map(|x| self.axis(x, self.cells_x)).collect()
    }

    /// Paper colour along row `y`, bilinear between cell centres, into `out` (one per
    /// column of `columns`).
    fn row(&self, y: usize, columns: &[(usize, usize, f32)], out: &mut Vec<[f32; 3]>) {
        let (y0, y1, ty) = self.axis(y, self.cells_y);
        let cells: Vec<[f32; 3]> = (0..self.cells_x)
            .map(|i| {
                let (a, b) = (
                    self.levels[y0 * self.cells_x + i],
                    self.levels[y1 * self.cells_x + i],
                );
                [
                    a[0] + (b[0] - a[0]) * ty,
                    a[1] + (b[1] - a[1]) * ty,
                    a[2] + (b[2] - a[2]) * ty,
                ]
            })
            .collect();
        out.clear();
        out.extend(columns.iter().map(|&(x0, x1, tx)| {
            let (a, b) = (cells[x0], cells[x1]);
            [
                a[0] + (b[0] - a[0]) * tx,
                a[1] + (b[1] - a[1]) * tx,
                a[2] + (b[2] - a[2]) * tx,
            ]
        }));
    }
}

/// Whether a line's core of `ink` and `tint` has a trace lying along it, against the
/// typical bare line's: darker, or greyer (toner has no tint), or both in proportion.
fn rides(ink: f32, tint: f32, line_ink: f32, line_tint: f32, opts: &DewarpOptions) -> bool {
    (ink - line_ink) / opts.riding_ink
        + (line_tint - tint) / (opts.riding_tint * line_tint).max(1e-3)
        >= 1.0
}

/// The (upper) median of `v`, which it reorders; `None` if `v` is empty.
fn median(v: &mut [f32]) -> Option<f32> {
    let k = v.len() / 2;
    (!v.is_empty()).then(|| *v.select_nth_unstable_by(k, f32::total_cmp).1)
}

/// How many grid lines a family has across `across` pixels, and cells along `len`.
fn lines_and_cells(across: usize, len: usize, cell_px: f32) -> (usize, usize) {
    let lines = ((across as f32 - 1.0) / cell_px).floor() as usize + 1;
    (lines, ((len as f32) / cell_px).ceil() as usize)
}

/// The positions of cell `cell`'s stretch of a line that lie clear of the bands (`half`
/// wide either side) of the lines crossing it, within `len`; empty if none do.
fn stretch_inside(cell: usize, cell_px: f32, half: i64, len: usize) -> std::ops::Range<usize> {
    let from = ((cell as f32 * cell_px) as i64 + half + 1).max(0) as usize;
    let to = (((cell + 1) as f32 * cell_px) as i64 - half).clamp(0, len as i64) as usize;
    from..to
}

/// The cross-sections of a flat page's vertical grid lines: how much ink each line has at
/// each offset across its band, and where across the band it runs.
///
/// A QRS stroke runs up beside a vertical line, often within its band. On a greyish grid
/// the stroke takes on the line's faint tint, so the tint alone would give the stroke's
/// ink to the line; the line's own cross-section says how much of it the line can be.
struct Sections {
    /// Half the band's width, in pixels.
    half: i64,
    /// Positions along each line (the page's height).
    len: usize,
    /// Cells along each line.
    cells: usize,
    /// Per line and position: the line's offset from its place on the lattice, the peak of
    /// its tint (toner has none) in the running median along the line (the mesh leaves it
    /// bent by a pixel or two, and a stroke beside it takes on some of its tint).
    offsets: Vec<i64>,
    /// Per line and cell: the line's median ink at each offset from where it runs, taken
    /// offset by offset over the stretches of the same line nearby, so that a trace lying
    /// beside it for a stretch or two does not count.
    profiles: Vec<Option<Vec<f32>>>,
}

impl Sections {
    fn measure(
        (w, h): (usize, usize),
        ink: &[f32],
        tint: &[f32],
        cell_px: f32,
        half: i64,
        reach: usize,
    ) -> Sections {
        let (lines, cells) = lines_and_cells(w, h, cell_px);
        let centre = |line: usize| (line as f32 * cell_px).round() as i64;
        let index = |x: i64, y: usize| (0..w as i64).contains(&x).then(|| y * w + x as usize);
        let smooth = (cell_px / 4.0).round() as usize;
        let mut offsets = vec![0i64; lines * h];
        let mut peaks = vec![0i64; h];
        let mut window = Vec::new();
        for line in 0..lines {
            let at = |d: i64, y: usize| index(centre(line) + d, y).map_or(0.0, |i| tint[i]);
            for (y, peak) in peaks.iter_mut().enumerate() {
                let weighed = |d: i64| at(d - 1, y) + 2.0 * at(d, y) + at(d + 1, y);
                *peak = (-half + 1..half)
                    .max_by(|&d, &e| weighed(d).total_cmp(&weighed(e)))
                    .unwrap_or(0);
            }
            for y in 0..h {
                window.clear();
                window.extend_from_slice(&peaks[y.saturating_sub(smooth)..(y + smooth + 1).min(h)]);
                let k = window.len() / 2;
                offsets[line * h + y] = *window.select_nth_unstable(k).1;
            }
        }
        let mut values = Vec::new();
        let sections: Vec<Option<Vec<f32>>> = (0..lines * cells)
            .map(|k| {
                let (line, cell) = (k / cells, k % cells);
                let stretch = stretch_inside(cell, cell_px, half, h);
                let inside = (-half..=half).any(|d| index(centre(line) + d, 0).is_some());
                (!stretch.is_empty() && inside).then(|| {
                    (-half..=half)
                        .map(|d| {
                            values.clear();
                            values.extend(
                                stretch
                                    .clone()
                                    .filter_map(|y| {
                                        index(centre(line) + d + offsets[line * h + y], y)
                                    })
                                    .map(|i| ink[i]),
                            );
                            median(&mut values).unwrap_or(0.0)
                        })
                        .collect()
                })
            })
            .collect();
        let reach = reach as i64;
        let profiles = (0..lines * cells)
            .map(|k| {
                let (line, cell) = (k / cells, k % cells);
                sections[k].as_ref()?;
                let near: Vec<&Vec<f32>> = ((cell as i64 - reach).max(0)
                    ..(cell as i64 + reach + 1).min(cells as i64))
                    .filter_map(|c| sections[line * cells + c as usize].as_ref())
                    .collect();
                Some(
                    (0..(2 * half + 1) as usize)
                        .map(|j| {
                            values.clear();
                            values.extend(near.iter().map(|s| s[j]));
                            median(&mut values).unwrap_or(0.0)
                        })
                        .collect(),
                )
            })
            .collect();
        Sections {
            half,
            len: h,
            cells,
            offsets,
            profiles,
        }
    }

    /// The most ink vertical line `line` can put at offset `d` across its band, at position
    /// `y` of cell `cell`: its cross-section there, or either offset beside it (the line
    /// wavers by a pixel). Unbounded where the line was not measured.
    fn line_ink(&self, line: usize, cell: usize, y: usize, d: i64) -> f32 {
        let Some(profile) = &self.profiles[line * self.cells + cell] else {
            return f32::INFINITY;
        };
        let d = d - self.offsets[line * self.len + y] + self.half;
        (d - 1..=d + 1)
            .filter_map(|j| usize::try_from(j).ok().and_then(|j| profile.get(j)))
            .fold(0.0, |m, &v| m.max(v))
    }
}

/// Takes the grid lines out of a flat page and leaves it grey: trace, text and paper.
///
/// Against the paper, a pixel's ink is 1 − its brightest channel (as the later stages read
/// ink: a trace is dark in every channel) and its tint is its brightest channel minus its
/// darkest. On the flat page the grid lines lie at whole multiples of `cell_px`. A photo
/// makes them nearly as dark as the trace, and ECG printers put the rows' baselines on
/// grid lines, so no single pixel tells a trace lying along a line from the line. A
/// stretch of line between two crossings does: along a bare stretch the line's core has
/// the ink and the tint every grid line has, while a trace lying along it makes the
/// stretch darker and greyer. Bare stretches are taken out, but for the pixels of a trace
/// crossing them (far more ink than their tint gives them); along stretches a trace lies
/// on, only what is plainly the line goes.
fn separate_grid(image: &mut RgbImage, cell_px: f32, white_paper: bool, opts: &DewarpOptions) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let half = ((opts.line_half_width_mm * opts.px_per_mm).round() as i64).max(1);
    let paper = Paper::measure(
        image,
        cell_px,
        half as usize + 1,
        opts.paper_percentile,
        white_paper,
    );
    let raw: &mut [u8] = image;
    // Ink and tint of every pixel.
    let mut ink = vec![0f32; w * h];
    let mut tint = vec![0f32; w * h];
    let columns = paper.columns(w);
    let mut row = Vec::with_capacity(w);
    for y in 0..h {
        paper.row(y, &columns, &mut row);
        for (x, p) in row.iter().enumerate() {
            let i = y * w + x;
            let t = [0, 1, 2].map(|c| (raw[i * 3 + c] as f32 / p[c].max(1.0)).min(1.0));
            let (lo, hi) = (t[0].min(t[1]).min(t[2]), t[0].max(t[1]).max(t[2]));
            ink[i] = (1.0 - hi).max(0.0);
            tint[i] = hi - lo;
        }
    }
    // Per family, line and stretch: the median ink and tint of the line's core (the
    // darkest pixel across the band at each position along the stretch).
    struct Stretch {
        ink: f32,
        tint: f32,
    }
    let sections = Sections::measure((w, h), &ink, &tint, cell_px, half, opts.line_region_cells);
    let mut out = ink.clone();
    // What each family's lines take out: [vertical lines, horizontal lines].
    let mut erased = [vec![false; w * h], vec![false; w * h]];
    let mut core_ink = Vec::new();
    let mut core_tint = Vec::new();
    for vertical in [true, false] {
        let (across, len) = if vertical { (w, h) } else { (h, w) };
        let (lines, cells) = lines_and_cells(across, len, cell_px);
        let index = |centre: i64, d: i64, a: usize| -> Option<usize> {
            let (x, y) = if vertical {
                (centre + d, a as i64)
            } else {
                (a as i64, centre + d)
            };
            (x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h)
                .then(|| y as usize * w + x as usize)
        };
        let mut stretches: Vec<Option<Stretch>> = Vec::with_capacity(lines * cells);
        // Every position's core along each line: the darkest pixel across the band, its ink
        // and tint.
        let mut cores = vec![None; lines * len];
        for line in 0..lines {
            let centre = (line as f32 * cell_px).round() as i64;
            for a in 0..len {
                cores[line * len + a] = (-half..=half)
                    .filter_map(|d| index(centre, d, a))
                    .max_by(|&i, &j| ink[i].total_cmp(&ink[j]))
                    .map(|i| (ink[i], tint[i]));
            }
        }
        for line in 0..lines {
            for cell in 0..cells {
                let stretch = stretch_inside(cell, cell_px, half, len);
                core_ink.clear();
                core_tint.clear();
                for &(i, t) in cores[line * len..(line + 1) * len]
                    .get(stretch.clone())
                    .unwrap_or(&[])
                    .iter()
                    .flatten()
                {
                    core_ink.push(i);
                    core_tint.push(t);
                }
                stretches.push(
                    (core_ink.len() * 2 >= stretch.len().max(1)).then(|| Stretch {
                        ink: median(&mut core_ink).unwrap_or(0.0),
                        tint: median(&mut core_tint).unwrap_or(0.0),
                    }),
                );
            }
        }
        // The typical bare line around each stretch: the median over the stretches of the
        // lines and cells nearby (the photo's light and focus change across the sheet).
        let reach = opts.line_region_cells as i64;
        let mut inks = Vec::new();
        let mut tints = Vec::new();
        // Per line and cell: the typical line's (ink, tint) and whether a trace rides it.
        let mut typical: Vec<Option<(f32, f32, bool)>> = vec![None; lines * cells];
        for line in 0..lines {
            for cell in 0..cells {
                let Some(st) = &stretches[line * cells + cell] else {
                    continue;
                };
                inks.clear();
                tints.clear();
                for l in (line as i64 - reach).max(0)..(line as i64 + reach + 1).min(lines as i64) {
                    for c in
                        (cell as i64 - reach).max(0)..(cell as i64 + reach + 1).min(cells as i64)
                    {
                        if let Some(n) = &stretches[l as usize * cells + c as usize] {
                            inks.push(n.ink);
                            tints.push(n.tint);
                        }
                    }
                }
                let (Some(line_ink), Some(line_tint)) = (median(&mut inks), median(&mut tints))
                else {
                    continue;
                };
                let ridden = rides(st.ink, st.tint, line_ink, line_tint, opts);
                typical[line * cells + cell] = Some((line_ink, line_tint, ridden));
            }
        }
        for line in 0..lines {
            let centre = (line as f32 * cell_px).round() as i64;
            // Where along the line a trace rides it: its stretches' verdict, grown into the
            // stretches beside a ridden one for as long as each position's core is the
            // trace's (a stroke lying along the line for less than half a cell).
            let mut riding = vec![false; len];
            for cell in 0..cells {
                if let Some((_, _, true)) = typical[line * cells + cell] {
                    let from = (cell as f32 * cell_px).ceil() as usize;
                    let to = (((cell + 1) as f32 * cell_px).ceil() as usize).min(len);
                    riding[from..to].fill(true);
                }
            }
            let rides_at = |a: usize| {
                let cell = ((a as f32 / cell_px) as usize).min(cells - 1);
                let typical = typical[line * cells + cell];
                matches!((typical, cores[line * len + a]), (Some((li, lt, _)), Some((i, t))) if rides(i, t, li, lt, opts))
            };
            let seeds = riding.clone();
            for a in 1..len {
                if seeds[a - 1] && !seeds[a] {
                    let mut b = a;
                    while b < len && !seeds[b] && rides_at(b) {
                        riding[b] = true;
                        b += 1;
                    }
                }
            }
            for a in (1..len).rev() {
                if seeds[a] && !seeds[a - 1] {
                    let mut b = a;
                    while b > 0 && !seeds[b - 1] && rides_at(b - 1) {
                        riding[b - 1] = true;
                        b -= 1;
                    }
                }
            }
            for cell in 0..cells {
                let Some((line_ink, line_tint, _)) = typical[line * cells + cell] else {
                    continue;
                };
                let from = (cell as f32 * cell_px).ceil() as usize;
                let to = (((cell + 1) as f32 * cell_px).ceil() as usize).min(len);
                // A pixel of the line, blurred or not, has the line's ink for its tint; grey
                // toner over it (trace, text) adds ink but no tint.
                let ink_per_tint = line_ink / line_tint.max(1e-3);
                for (a, &ridden) in riding.iter().enumerate().take(to).skip(from) {
                    // Along a stretch a trace lies on, only what is plainly the line goes: no
                    // darker than the line and as tinted.
                    let margin = if ridden {
                        opts.riding_margin
                    } else {
                        opts.crossing_ink
                    };
                    for d in -half..=half {
                        if let Some(i) = index(centre, d, a) {
                            // The photo's colour is blurred more than its brightness
                            // (JPEG halves it): the tint within a pixel across the line.
                            let near = (d - 1..=d + 1)
                                .filter_map(|e| index(centre, e, a))
                                .map(|j| tint[j])
                                .fold(0.0, f32::max);
                            let mut line_share = (near * ink_per_tint).min(line_ink);
                            // Beside a vertical line, nor more than the line's cross-section
                            // (along a horizontal one a crumpled sheet's line wavers more,
                            // and what it leaves is followed as trace).
                            if vertical {
                                line_share = line_share.min(sections.line_ink(line, cell, a, d));
                            }
                            let goes = ink[i] < line_share + margin;
                            if goes {
                                erased[usize::from(!vertical)][i] = true;
                            }
                        }
                    }
                }
            }
        }
    }
    // A stroke crossing a line must stay whole, or the trace search, which takes one run
    // of ink per column, loses what lies beyond the gap: a short stretch a line took out
    // across the line (down a column for a horizontal line, along a row for a vertical one)
    // with ink kept right before and after it is the stroke's own.
    let longest = (2 * half + 3) as usize;
    let erase: Vec<bool> = {
        let either = |i: usize| erased[0][i] || erased[1][i];
        let kept = |i: usize| !either(i) && ink[i] >= opts.stroke_ink;
        let mut restored = [Vec::new(), Vec::new()];
        for (family, lines, len, at) in [
            (
                1,
                w,
                h,
                &(|l: usize, p: usize| p * w + l) as &dyn Fn(usize, usize) -> usize,
            ),
            (0, h, w, &(|l: usize, p: usize| l * w + p)),
        ] {
            for l in 0..lines {
                let mut p = 0;
                while p < len {
                    if !erased[family][at(l, p)] {
                        p += 1;
                        continue;
                    }
                    let start = p;
                    while p < len && erased[family][at(l, p)] {
                        p += 1;
                    }
                    let ends = start > 0 && p < len && kept(at(l, start - 1)) && kept(at(l, p));
                    if ends && p - start <= longest {
                        restored[family].extend((start..p).map(|q| at(l, q)));
                    }
                }
            }
        }
        for (family, list) in restored.iter().enumerate() {
            for &i in list {
                erased[family][i] = false;
            }
        }
        (0..w * h).map(|i| erased[0][i] || erased[1][i]).collect()
    };
    for (o, e) in out.iter_mut().zip(&erase) {
        if *e {
            *o = 0.0;
        }
    }
    for (i, &v) in out.iter().enumerate() {
        let grey = (255.0 * (1.0 - v.clamp(0.0, 1.0)) + 0.5) as u8;
        raw[i * 3..i * 3 + 3].fill(grey);
    }
}

/// Blanks what of the flat page is not the sheet, and returns the sheet's extent in cells
/// (first and last column, first and last row). The sheet is where its grid is: a cell
/// belongs to it when most of its four sides show a line where the lattice puts one
/// (darker on the line than beside it), and cells enclosed by such cells (under glare, a
/// word, a thick trace) belong to it too. The desk, the room and the sheet's shadowed edge
/// beyond its last grid line are blanked, and so is what lies past the photo's border.
fn blank_off_sheet(
    image: &mut RgbImage,
    sampled: &[bool],
    cell_px: f32,
    opts: &DewarpOptions,
) -> Option<(usize, usize, usize, usize)> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (cols, rows) = (
        ((w as f32 / cell_px).round() as usize).max(1),
        ((h as f32 / cell_px).round() as usize).max(1),
    );
    let raw: &mut [u8] = image;
    let dark = |x: i64, y: i64| -> Option<f32> {
        if x < 0 || y < 0 || x as usize >= w || y as usize >= h {
            return None;
        }
        let i = y as usize * w + x as usize;
        sampled[i].then(|| {
            1.0 - (raw[i * 3] as f32 + raw[i * 3 + 1] as f32 + raw[i * 3 + 2] as f32) / 765.0
        })
    };
    let (near, far) = (
        1i64,
        (opts.line_half_width_mm * opts.px_per_mm).round() as i64 + 1,
    );
    // Whether the stretch of line `line` (vertical or not) between crossings `k` and `k + 1`
    // shows a grid line: the median over it of the line's darkness above its sides'.
    let mut contrasts = Vec::new();
    let mut shows_line = |vertical: bool, line: usize, k: usize| -> bool {
        let centre = (line as f32 * cell_px).round() as i64;
        let (from, to) = (
            (k as f32 * cell_px) as i64 + far,
            ((k + 1) as f32 * cell_px) as i64 - far,
        );
        contrasts.clear();
        for a in from..to {
            let at = |d: i64| {
                if vertical {
                    dark(centre + d, a)
                } else {
                    dark(a, centre + d)
                }
            };
            let on = (-near..=near).filter_map(at).fold(f32::MIN, f32::max);
            let (l, r) = (
                (far..=far + 1)
                    .filter_map(|d| at(-d))
                    .fold(f32::MAX, f32::min),
                (far..=far + 1).filter_map(at).fold(f32::MAX, f32::min),
            );
            if on > f32::MIN && l < f32::MAX && r < f32::MAX {
                contrasts.push(on - l.max(r));
            }
        }
        if contrasts.len() * 2 < (to - from).max(1) as usize {
            return false;
        }
        let m = contrasts.len() / 2;
        *contrasts.select_nth_unstable_by(m, f32::total_cmp).1 > opts.min_line_contrast
    };
    let mut gridded = vec![false; cols * rows];
    for j in 0..rows {
        for i in 0..cols {
            let sides = [
                shows_line(true, i, j),
                shows_line(true, i + 1, j),
                shows_line(false, j, i),
                shows_line(false, j + 1, i),
            ];
            gridded[j * cols + i] = sides.iter().filter(|&&s| s).count() >= 3;
        }
    }
    // Paper: what the gridded cells' insides look like. A cell without grid that looks
    // like it too (glare, a faint grid) is still the sheet; one darker or tinted otherwise
    // (the desk, the room) is not.
    let inside = |i: usize, j: usize| -> Option<[f32; 3]> {
        let (x0, y0) = (
            (i as f32 * cell_px) as usize + 3,
            (j as f32 * cell_px) as usize + 3,
        );
        let (x1, y1) = (
            (((i + 1) as f32 * cell_px) as usize)
                .saturating_sub(3)
                .min(w),
            (((j + 1) as f32 * cell_px) as usize)
                .saturating_sub(3)
                .min(h),
        );
        let mut sum = [0f32; 3];
        let mut n = 0f32;
        for y in y0..y1 {
            for x in x0..x1 {
                let k = y * w + x;
                if sampled[k] {
                    for c in 0..3 {
                        sum[c] += raw[k * 3 + c] as f32;
                    }
                    n += 1.0;
                }
            }
        }
        (n > 0.0).then(|| sum.map(|v| v / n))
    };
    let tone = |c: [f32; 3]| {
        let s = (c[0] + c[1] + c[2]).max(1.0);
        (s, [c[0] / s, c[1] / s])
    };
    let insides: Vec<Option<(f32, [f32; 2])>> = (0..cols * rows)
        .map(|k| inside(k % cols, k / cols).map(tone))
        .collect();
    let mut papers: Vec<(f32, [f32; 2])> = (0..cols * rows)
        .filter(|&k| gridded[k])
        .filter_map(|k| insides[k])
        .collect();
    let paper = if papers.is_empty() {
        None
    } else {
        let m = papers.len() / 2;
        Some(
            *papers
                .select_nth_unstable_by(m, |a, b| a.0.total_cmp(&b.0))
                .1,
        )
    };
    let unlike: Vec<bool> = (0..cols * rows)
        .map(|k| {
            let Some((level, tint)) = paper else {
                return true;
            };
            insides[k].is_none_or(|(b, t)| {
                b < opts.desk_darkness * level
                    || libm::hypotf(t[0] - tint[0], t[1] - tint[1]) > opts.desk_tint
            })
        })
        .collect();
    let bare = |k: usize| !gridded[k] && unlike[k];
    // Off the sheet: what the border reaches through bare cells.
    let mut off = vec![false; cols * rows];
    let mut stack: Vec<usize> = (0..cols * rows)
        .filter(|&k| {
            let (i, j) = (k % cols, k / cols);
            (i == 0 || j == 0 || i + 1 == cols || j + 1 == rows) && bare(k)
        })
        .collect();
    for &k in &stack {
        off[k] = true;
    }
    while let Some(k) = stack.pop() {
        let (i, j) = (k % cols, k / cols);
        for n in [
            (i > 0).then(|| k - 1),
            (i + 1 < cols).then(|| k + 1),
            (j > 0).then(|| k - cols),
            (j + 1 < rows).then(|| k + cols),
        ]
        .into_iter()
        .flatten()
        {
            if bare(n) && !off[n] {
                off[n] = true;
                stack.push(n);
            }
        }
    }
    // The sheet's edge (its shadow, the grid's last line) lies in the last cell before the
    // desk; nothing of the ECG is printed that near the edge, so that cell goes too. Where
    // the photo's own border cuts the sheet there is no edge, and a trace may run close.
    let on_photo = |i: usize, j: usize| {
        let (x, y) = (
            (((i as f32 + 0.5) * cell_px) as usize).min(w - 1),
            (((j as f32 + 0.5) * cell_px) as usize).min(h - 1),
        );
        sampled[y * w + x]
    };
    let desk: Vec<bool> = (0..cols * rows)
        .map(|k| off[k] && on_photo(k % cols, k / cols))
        .collect();
    for (k, o) in off.iter_mut().enumerate() {
        let (i, j) = ((k % cols) as i64, (k / cols) as i64);
        let by_desk = (-1..=1).any(|dj| {
            (-1..=1).any(|di| {
                let (a, b) = (i + di, j + dj);
                a >= 0
                    && b >= 0
                    && (a as usize) < cols
                    && (b as usize) < rows
                    && desk[b as usize * cols + a as usize]
            })
        });
        if by_desk {
            *o = true;
        }
    }
    for y in 0..h {
        let j = ((y as f32 / cell_px) as usize).min(rows - 1);
        for x in 0..w {
            let i = ((x as f32 / cell_px) as usize).min(cols - 1);
            let k = y * w + x;
            if off[j * cols + i] || !sampled[k] {
                raw[k * 3..k * 3 + 3].fill(255);
            }
        }
    }
    // The grid's extent in cells: the ECG is printed on the grid, and the paper beyond its
    // last line (a margin, a caption, the edge's shadow) is cut away with that line.
    let kept = (0..cols * rows).filter(|&k| !off[k] && gridded[k]);
    let (mut i0, mut j0, mut i1, mut j1) = (usize::MAX, usize::MAX, 0, 0);
    for k in kept {
        let (i, j) = (k % cols, k / cols);
        (i0, j0, i1, j1) = (i0.min(i), j0.min(j), i1.max(i), j1.max(j));
    }
    (i0 <= i1 && j0 <= j1).then_some((i0, j0, i1, j1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A flat page: paper, red 5 mm lines 3 px wide at multiples of 40 px.
    fn gridded(w: u32, h: u32) -> RgbImage {
        gridded_on(w, h, Rgb([205, 140, 140]), Rgb([240, 238, 236]))
    }

    /// A flat page of `paper` with `line` coloured 5 mm lines 3 px wide at multiples of 40 px.
    fn gridded_on(w: u32, h: u32, line: Rgb<u8>, paper: Rgb<u8>) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let on = |p: u32| p % 40 <= 1 || p % 40 == 39;
            if on(x) || on(y) {
                line
            } else {
                paper
            }
        })
    }

    fn ink(image: &RgbImage, x: u32, y: u32) -> f32 {
        1.0 - image.get_pixel(x, y)[0] as f32 / 255.0
    }

    #[test]
    fn grid_lines_go_but_a_trace_along_a_line_or_across_one_stays() {
        let mut page = gridded(400, 400);
        let trace = Rgb([60, 60, 60]);
        // A baseline printed along the grid line at y = 200, and a stroke down across the
        // line at y = 160.
        for x in 60..340 {
            for y in 199..=201 {
                page.put_pixel(x, y, trace);
            }
        }
        for y in 140..200 {
            for x in 149..=151 {
                page.put_pixel(x, y, trace);
            }
        }
        separate_grid(&mut page, 40.0, false, &DewarpOptions::default());
        assert!(
            ink(&page, 100, 120) < 0.1,
            "bare line {}",
            ink(&page, 100, 120)
        );
        assert!(
            ink(&page, 120, 100) < 0.1,
            "bare line {}",
            ink(&page, 120, 100)
        );
        assert!(
            ink(&page, 200, 200) > 0.5,
            "baseline {}",
            ink(&page, 200, 200)
        );
        assert!(
            ink(&page, 150, 160) > 0.5,
            "stroke {}",
            ink(&page, 150, 160)
        );
        let p = page.get_pixel(10, 10);
        assert!(p[0] == p[1] && p[1] == p[2], "the flat page comes out grey");
    }

    #[test]
    fn a_faint_stroke_under_a_line_stays_whole() {
        // A photo's thin R wave, lighter than the line it crosses (y = 80), which prints
        // over it: the line's pixels go, but the stroke's ink either side brings them back.
        let mut page = gridded(400, 400);
        for y in (60..100).filter(|y| !(79..=81).contains(y)) {
            for x in 249..=251 {
                page.put_pixel(x, y, Rgb([195, 195, 195]));
            }
        }
        separate_grid(&mut page, 40.0, false, &DewarpOptions::default());
        assert!(ink(&page, 250, 80) > 0.1, "gap {}", ink(&page, 250, 80));
        assert!(
            ink(&page, 300, 80) < 0.1,
            "bare line {}",
            ink(&page, 300, 80)
        );
    }

    #[test]
    fn a_stroke_along_a_line_stays_where_it_runs_on_from_a_stretch_it_rides() {
        // An R wave printed down the vertical line at x = 160, over y = 165..215: most of the
        // stretch 160..200, which it rides, and a third of the next, bare one. Where the
        // photo's blur tints it, it is barely darker than the line.
        let mut page = gridded(400, 400);
        for y in 165..215 {
            for x in 159..=161 {
                page.put_pixel(x, y, Rgb([180, 130, 130]));
            }
        }
        separate_grid(&mut page, 40.0, false, &DewarpOptions::default());
        for y in [180, 205, 212] {
            assert!(
                ink(&page, 160, y) > 0.1,
                "stroke at {y}: {}",
                ink(&page, 160, y)
            );
        }
        for y in [225, 300] {
            assert!(
                ink(&page, 160, y) < 0.1,
                "bare line at {y}: {}",
                ink(&page, 160, y)
            );
        }
    }

    #[test]
    fn a_stroke_beside_a_greyish_line_stays() {
        // A photo's grid nearly as grey as the trace, and an R wave's stroke running up
        // 4 px beside the vertical line at x = 160, within its band, with the line's faint
        // tint blurred onto it: the stroke stays, the line goes.
        let mut page = RgbImage::from_fn(400, 400, |x, y| {
            let on = |p: u32| p % 40 <= 1 || p % 40 == 39;
            if on(x) || on(y) {
                Rgb([150, 138, 138])
            } else {
                Rgb([240, 240, 240])
            }
        });
        for y in 100..180 {
            for x in 164..=165 {
                page.put_pixel(x, y, Rgb([132, 120, 120]));
            }
        }
        separate_grid(&mut page, 40.0, false, &DewarpOptions::default());
        for y in [110, 130, 150, 170] {
            assert!(
                ink(&page, 164, y) > 0.3,
                "stroke at {y}: {}",
                ink(&page, 164, y)
            );
            assert!(
                ink(&page, 160, y) < 0.1,
                "line at {y}: {}",
                ink(&page, 160, y)
            );
        }
        assert!(
            ink(&page, 160, 300) < 0.1,
            "bare line {}",
            ink(&page, 160, 300)
        );
    }

    #[test]
    fn the_desk_around_the_sheet_is_blanked_and_the_sheet_kept() {
        let mut page = gridded(400, 400);
        for (x, y, p) in page.enumerate_pixels_mut() {
            if !(80..320).contains(&x) || !(80..320).contains(&y) {
                *p = Rgb([110, 80, 50]);
            }
        }
        page.put_pixel(200, 190, Rgb([30, 30, 30]));
        let sampled = vec![true; 400 * 400];
        blank_off_sheet(&mut page, &sampled, 40.0, &DewarpOptions::default());
        assert_eq!(page.get_pixel(20, 20), &Rgb([255, 255, 255]));
        assert_eq!(page.get_pixel(200, 190), &Rgb([30, 30, 30]));
    }

    #[test]
    fn the_flat_page_maps_back_onto_the_photo() {
        // A lattice turned and stretched: crossing (i, j) at (100 + 50i - 5j, 80 + 5i + 50j).
        let (columns, rows) = (8, 6);
        let node = |i: f32, j: f32| [100.0 + 50.0 * i - 5.0 * j, 80.0 + 5.0 * i + 50.0 * j];
        let lattice = Lattice {
            columns,
            rows,
            nodes: (0..rows)
                .flat_map(|j| (0..columns).map(move |i| Some(node(i as f32, j as f32))))
                .collect(),
            period_px: 50.0,
            coverage: 1.0,
            bend_periods: 0.0,
            concentration: 0.0,
            solidity: 1.0,
        };
        let mesh = Mesh {
            lattice,
            cell_px: 40.0,
            origin: (0.0, 0.0),
        };
        let [x, y] = mesh.to_source(60.0, 100.0).expect("on the lattice");
        let [ex, ey] = node(1.5, 2.5);
        assert!((x - ex).abs() < 1e-3 && (y - ey).abs() < 1e-3, "({x}, {y})");
        assert!(mesh.to_source(-10.0, 0.0).is_none());
        // Off the lattice the nearest cell's mapping goes on, past every edge.
        let near = |x: f32, y: f32, mesh: &Mesh| {
            let [sx, sy] = mesh.to_source_extended(x, y);
            let [ex, ey] = node(x / 40.0, y / 40.0);
            assert!(
                (sx - ex).abs() < 0.1 && (sy - ey).abs() < 0.1,
                "({x}, {y}) -> ({sx}, {sy}), not ({ex}, {ey})"
            );
        };
        near(-40.0, 0.0, &mesh);
        near(320.0, 100.0, &mesh);
        near(100.0, 240.0, &mesh);
        // ... and in a hole: the last crossing missing, its cell's points and those beyond.
        let mut holed = mesh.clone();
        holed.lattice.nodes[columns * rows - 1] = None;
        near(270.0, 190.0, &holed);
        near(300.0, 230.0, &holed);
    }

    /// The options with the mesh refined, two sub-cells a side.
    fn refining() -> DewarpOptions {
        DewarpOptions {
            refine_subdivisions: 2,
            ..DewarpOptions::default()
        }
    }

    /// A mesh over a `gridded` photo whose crossings all lie `(dx, dy)` off the lines.
    fn shifted_mesh(columns: usize, rows: usize, dx: f32, dy: f32) -> Mesh {
        Mesh {
            lattice: Lattice {
                columns,
                rows,
                nodes: (0..rows)
                    .flat_map(|j| {
                        (0..columns)
                            .map(move |i| Some([40.0 * i as f32 + dx, 40.0 * j as f32 + dy]))
                    })
                    .collect(),
                period_px: 40.0,
                coverage: 1.0,
                bend_periods: 0.0,
                concentration: 0.0,
                solidity: 1.0,
            },
            cell_px: 40.0,
            origin: (0.0, 0.0),
        }
    }

    /// Where the vertical line near `x` lies on row `y` of a flat page: its darkness centroid.
    fn line_x(page: &RgbImage, x: u32, y: u32) -> f32 {
        let (mut sum, mut mass) = (0.0, 0.0);
        for c in x - 4..=x + 4 {
            let m = 240.0 - page.get_pixel(c, y)[1] as f32;
            sum += m.max(0.0) * c as f32;
            mass += m.max(0.0);
        }
        sum / mass
    }

    #[test]
    fn the_refined_mesh_lays_the_lines_where_the_lattice_missed_them() {
        // Every crossing found 1.2 px right of and 0.8 px below its line.
        let photo = gridded(440, 440);
        let mesh = shifted_mesh(10, 10, 1.2, 0.8);
        let opts = refining();
        let (first, sampled) = resample(&photo, &mesh);
        assert!((line_x(&first, 200, 220) - 198.8).abs() < 0.3);
        let fine = refine_mesh(&first, &sampled, &mesh, &opts).expect("lines measured");
        let (flat, _) = resample(&photo, &fine);
        for (x, y) in [(200, 220), (120, 60), (280, 300)] {
            let at = line_x(&flat, x, y);
            assert!((at - x as f32).abs() < 0.25, "line {x} at {at}");
        }
        let [sx, sy] = fine.to_source(200.0, 200.0).expect("on the mesh");
        assert!(
            (sx - 200.0).abs() < 0.25 && (sy - 200.0).abs() < 0.25,
            "({sx}, {sy})"
        );
    }

    #[test]
    fn a_stroke_beside_a_line_does_not_pull_the_mesh() {
        // A QRS stroke 3 px right of the line at x = 200, for four cells' height; the
        // crossings lie 0.6 px right of their lines.
        let mut photo = gridded(440, 440);
        for y in 90..250 {
            for x in 202..=204 {
                photo.put_pixel(x, y, Rgb([40, 40, 40]));
            }
        }
        let mesh = shifted_mesh(10, 10, 0.6, 0.0);
        let (first, sampled) = resample(&photo, &mesh);
        let fine = refine_mesh(&first, &sampled, &mesh, &refining()).expect("lines measured");
        for y in [150.0, 200.0, 250.0] {
            let [sx, _] = fine.to_source(200.0, y).expect("on the mesh");
            assert!((sx - 200.0).abs() < 0.2, "line at y {y} moved to {sx}");
        }
    }

    #[test]
    fn a_trace_on_white_paper_keeps_its_ink() {
        // A rendered sheet: pure white paper, which blanking writes too, and grid lines at
        // the cells' edges, outside what the paper is measured on. Counting the white as
        // blanked left the trace as each cell's paper, and the trace came out faint.
        let mut page = gridded_on(400, 400, Rgb([230, 120, 120]), Rgb([255, 255, 255]));
        for x in 50..350 {
            for y in 218..=219 {
                page.put_pixel(x, y, Rgb([30, 30, 30]));
            }
        }
        // ... and a cell inked through, as under a label or a QRS complex.
        for x in 125..155 {
            for y in 165..195 {
                page.put_pixel(x, y, Rgb([30, 30, 30]));
            }
        }
        separate_grid(&mut page, 40.0, true, &DewarpOptions::default());
        assert!(ink(&page, 200, 218) > 0.7, "trace {}", ink(&page, 200, 218));
        assert!(ink(&page, 200, 100) < 0.1, "paper {}", ink(&page, 200, 100));
    }

    #[test]
    fn holes_follow_the_line_and_stray_ends_fade_to_the_lines_around() {
        // Line 1 is measured at 0, 1 and 2 (interpolated between 0 and 2 over a short gap),
        // and once more far out at 9 with a stray 2.0; lines 0 and 2 read 0.5 throughout.
        let around = vec![Some(0.5); 12];
        let mut line = vec![None; 12];
        line[0] = Some(0.0);
        line[2] = Some(1.0);
        line[9] = Some(2.0);
        let filled = fill_holes(&[around.clone(), line, around], 1, 1);
        assert_eq!(filled[1][1], 0.5);
        // Beyond the reach of both ends (5 places from 2 and 4 from 9) the lines around set it.
        assert!((filled[1][5] - 0.5).abs() < 1e-6, "{}", filled[1][5]);
        // One place off the stray reading: half way to the lines around.
        assert!((filled[1][10] - 1.25).abs() < 1e-6, "{}", filled[1][10]);
        assert_eq!(filled[0], vec![0.5; 12]);
    }
}
