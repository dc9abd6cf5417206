//! Stage 1b, lattice: the printed grid of a photographed page, numbered line by line, so that
//! a curled, folded or tilted sheet on a desk can be laid flat again from the grid itself.
//!
//! Grid lines are periodic where nothing else on a page is. Within a small tile the grid is
//! two plane waves; demodulating the tile at the local wave vectors gives the grid's phase
//! there, i.e. where its lines pass to a fraction of a pixel (the Fourier method of fringe
//! analysis: Takeda, Ina & Kobayashi, JOSA 72, 1982). Tiles are then unwrapped from the
//! most certain one outward (quality-guided phase unwrapping: Ghiglia & Pritt, *Two-
//! Dimensional Phase Unwrapping*, 1998), which gives every grid line its number. The
//! crossings of lines `u = i` and `v = j` are the mesh [`crate::dewarp`] resamples.
//!
//! The grid is seen in a plane where it stands out and the trace does not: the colour
//! saturation of a coloured grid (a black trace, black text and grey shadows have none), or
//! the darkness of a grey one. Handwriting, text and trace are not periodic and fall out of
//! the demodulation.

use crate::raster::Plane;
use image::RgbImage;
use imageproc::geometry::convex_hull;
use imageproc::point::Point;
use rustfft::{num_complex::Complex, FftPlanner};
use std::collections::BinaryHeap;

/// Tuning knobs of the lattice search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatticeOptions {
    /// Long side of the small copy that tells a flat page at a glance, in pixels.
    pub quick_side_px: u32,
    /// Long side of the reduced image on which the grid is surveyed, in pixels.
    pub survey_side_px: u32,
    /// Shortest grid period sought in the survey, in survey pixels: finer than this the
    /// grid is too small in the photo to read a trace from.
    pub min_survey_period_px: f32,
    /// Longest grid period sought in the survey, in survey pixels: a page at least this
    /// many times smaller than the photo's long side is not worth reading.
    pub max_survey_period_px: f32,
    /// The survey's strongest spectral peak must stand this many times above the median
    /// of the annulus of periods it is sought in: a grid, not paper texture or wood grain.
    pub min_peak_prominence: f32,
    /// A lattice found in colour that covers at least this share of the image is kept
    /// without looking at darkness too, or at a larger survey.
    pub min_colour_coverage: f32,
    /// ... and whose crossings fill at least this share of their convex hull in line
    /// numbers (see [`Lattice::solidity`]). A page's grid is a rectangle of lines, so a
    /// bay in a colour lattice is part of the sheet its colour missed (a grid printed
    /// dark, a light cast across it): then darkness too, and the more solid of the two.
    pub min_solidity: f32,
    /// Survey peaks at least this concentrated (see `Survey`) are a flat page's, which is
    /// left to the geometry stage without tracing its lattice.
    pub flat_concentration: f32,
    /// ... and on the small copy, at least this.
    pub quick_flat_concentration: f32,
    /// Two survey peaks are a lattice's diagonal harmonics when the spectrum at half their
    /// sum and half their difference reaches this share of the weaker of them.
    pub min_fundamental_share: f32,
    /// The photo is analysed reduced so that one grid period spans about this many pixels.
    pub analysis_period_px: f32,
    /// Half the side of a tile, in grid periods.
    pub tile_radius_periods: f32,
    /// Distance between tile centres, in grid periods.
    pub tile_step_periods: f32,
    /// A tile shows the grid when both line families' fundamental explains at least this
    /// share of its variation (root mean square); glare, shadow and the desk do not.
    pub min_tile_quality: f32,
    /// A tile's phase may differ from what its unwrapped neighbour predicts by at most this
    /// many periods: more is a different grid, or no grid.
    pub max_phase_misfit: f32,
    /// Line crossings are kept where the tiles around them give at least this share of the
    /// median crossing's support.
    pub min_node_support: f32,
    /// Crossings are extrapolated this many cells past the last ones the tiles find, so the
    /// trace near the page's edge, where tiles do not fit, is kept, and in a bay of a
    /// crumpled sheet that reaches the lattice's edge, where tiles fail across a crease and
    /// there are no crossings on the far side to fill the hole from.
    pub extend_cells: usize,
    /// Rounds of [`Lattice::refine`].
    pub refine_rounds: usize,
    /// Each stretch of line is sampled this far either side of where the lattice has it, in
    /// cells.
    pub refine_span_cells: f32,
    /// ... at this many offsets.
    pub refine_steps: usize,
    /// A stretch moves its crossings only where its line stands this far (grid plane
    /// units) above the paper beside it.
    pub refine_min_contrast: f32,
    /// How far (cells) a stretch's offset may stray from the median of its neighbours
    /// along the same line, or from that of the same stretch on the parallel lines either
    /// side, before it is taken for trace, not grid, and left out.
    pub refine_max_kink_cells: f32,
    /// After refining, each crossing moves this share of the way toward the midpoint of its
    /// two neighbours along a line, once per family. A crossing is measured from the few
    /// short stretches of line that meet at it, to a few tenths of a pixel, and a tenth of a
    /// flat-page pixel is a quarter of a sample at 500 Hz; the sheet's bends are smooth over
    /// a cell, so the midpoint is a second, independent measure of where the crossing lies.
    /// An affine stretch of grid is left as it is. 0 turns it off.
    pub smooth_weight: f32,
}

impl Default for LatticeOptions {
    fn default() -> Self {
        LatticeOptions {
            quick_side_px: 512,
            survey_side_px: 1024,
            min_survey_period_px: 5.0,
            max_survey_period_px: 64.0,
            min_peak_prominence: 12.0,
            min_colour_coverage: 0.3,
            min_solidity: 0.92,
            flat_concentration: 0.85,
            quick_flat_concentration: 0.9,
            min_fundamental_share: 0.25,
            analysis_period_px: 16.0,
            tile_radius_periods: 2.0,
            tile_step_periods: 1.5,
            min_tile_quality: 0.08,
            max_phase_misfit: 0.25,
            min_node_support: 0.25,
            extend_cells: 5,
            refine_rounds: 1,
            refine_span_cells: 0.15,
            refine_steps: 13,
            refine_min_contrast: 0.03,
            refine_max_kink_cells: 0.06,
            smooth_weight: 0.2,
        }
    }
}

/// The grid's line crossings in the image: node `(i, j)` is where line `i` of the family
/// across the page (columns) meets line `j` of the family down it (rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Lattice {
    /// Crossings per row of the mesh (`i` runs over `0..columns`).
    pub columns: usize,
    /// Rows of crossings (`j` runs over `0..rows`).
    pub rows: usize,
    /// Where each crossing lies in the image, in its pixels (centres at integers), row by
    /// row; `None` off the grid.
    pub nodes: Vec<Option<[f32; 2]>>,
    /// Mean grid period in image pixels.
    pub period_px: f32,
    /// Share of the image's area the found grid covers.
    pub coverage: f32,
    /// How far the crossings stray from the best single perspective of the page, in grid
    /// periods (the median over the inner crossings): 0 for a flat sheet, more for a
    /// curled or folded one.
    pub bend_periods: f32,
    /// How sharp the grid's spectral peaks are (see `Survey`): near 1 for a flat page.
    pub concentration: f32,
    /// Share of the line-number positions inside the convex hull of the crossings the
    /// tiles found that were found (before the lattice is extended): 1 for a grid seen as
    /// one solid patch, less for one with bays.
    pub solidity: f32,
}

impl Lattice {
    /// A flat page's lattice, found sharp in the survey and not traced further: no
    /// crossings, no bend.
    fn flat(concentration: f32) -> Lattice {
        Lattice {
            columns: 0,
            rows: 0,
            nodes: Vec::new(),
            period_px: 0.0,
            coverage: 0.0,
            bend_periods: 0.0,
            concentration,
            solidity: 1.0,
        }
    }

    /// Crossing `(i, j)`, if found.
    pub fn node(&self, i: usize, j: usize) -> Option<[f32; 2]> {
        self.nodes[j * self.columns + i]
    }

    /// The image point at lattice position `(u, v)` (in cells), bilinear between the four
    /// crossings of its cell; `None` off the lattice.
    pub fn at(&self, u: f32, v: f32) -> Option<[f32; 2]> {
        if !(u >= 0.0 && v >= 0.0) || u > (self.columns - 1) as f32 || v > (self.rows - 1) as f32 {
            return None;
        }
        let i = (u as usize).min(self.columns - 2);
        let j = (v as usize).min(self.rows - 2);
        let (fu, fv) = (u - i as f32, v - j as f32);
        let a = self.node(i, j)?;
        let b = self.node(i + 1, j)?;
        let c = self.node(i, j + 1)?;
        let d = self.node(i + 1, j + 1)?;
        let mix = |k: usize| {
            (a[k] * (1.0 - fu) + b[k] * fu) * (1.0 - fv) + (c[k] * (1.0 - fu) + d[k] * fu) * fv
        };
        Some([mix(0), mix(1)])
    }

    /// Moves every crossing onto the grid lines the image shows around it: each stretch of
    /// a line between two crossings is sampled across, the line's centre found where the
    /// grid plane peaks, and a crossing takes the mean offset of the stretches that meet at
    /// it. The tiles' phases average over a few cells; this follows a wrinkle cell by cell.
    /// `planes` are the grid planes to measure the lines in, the one the lattice was found
    /// in first.
    fn refine(&mut self, planes: &[&Plane], opts: &LatticeOptions) {
        let (cols, rows) = (self.columns, self.rows);
        let steps = opts.refine_steps;
        let half = opts.refine_span_cells;
        // Offsets (in cells) of the stretch of line `line` of family `f` between crossings
        // `k` and `k + 1` along it.
        let mut profile = vec![0f32; steps];
        let mut offset = |g: &Plane, f: usize, line: usize, k: usize| -> Option<f32> {
            // The mapping is bilinear within each cell, so the samples either side of the
            // line follow from the corners of the two strips they lie in.
            let corner = |d: f32, along: f32| {
                let (u, v) = if f == 0 {
                    (line as f32 + d, k as f32 + along)
                } else {
                    (k as f32 + along, line as f32 + d)
                };
                self.at(u, v)
            };
            let side = |d: f32| Some([corner(d, 0.0)?, corner(d, 1.0)?]);
            let (before, on, after) = (side(-half)?, side(0.0)?, side(half)?);
            let mix = |a: [f32; 2], b: [f32; 2], t: f32| {
                [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
            };
            profile.fill(0.0);
            for (s, p) in profile.iter_mut().enumerate() {
                let d = -half + 2.0 * half * s as f32 / (steps - 1) as f32;
                let (from, to, t) = if d < 0.0 {
                    (before, on, 1.0 + d / half)
                } else {
                    (on, after, d / half)
                };
                let (top, bottom) = (mix(from[0], to[0], t), mix(from[1], to[1], t));
                for n in 1..=8 {
                    let [x, y] = mix(top, bottom, n as f32 / 9.0);
                    let value = g.sample_bilinear(x, y, f32::NAN);
                    // Trace and text crossing the line are left out of its profile.
                    if !value.is_nan() {
                        *p += value;
                    }
                }
            }
            let floor = profile.iter().copied().fold(f32::MAX, f32::min);
            let top = profile.iter().copied().fold(f32::MIN, f32::max);
            let mean = profile.iter().sum::<f32>() / steps as f32;
            if top - floor < opts.refine_min_contrast * 8.0 || top - mean < 0.5 * (top - floor) {
                return None;
            }
            // Centroid of what stands above the mean, around the peak.
            let peak = profile.iter().position(|&p| p == top)?;
            let reach = steps / 4;
            let (mut sw, mut sd) = (0f32, 0f32);
            let lo = peak.saturating_sub(reach);
            for (s, &p) in profile.iter().enumerate().take(peak + reach + 1).skip(lo) {
                let w = (p - mean).max(0.0);
                sw += w;
                sd += w * (-half + 2.0 * half * s as f32 / (steps - 1) as f32);
            }
            (sw > 0.0).then(|| sd / sw)
        };
        // Each stretch once: vertical ones (line i, between crossings j and j + 1), then
        // horizontal ones (line j, between crossings i and i + 1).
        // Every plane is measured. A photo can wash out the grid's tint where its lines still
        // show dark, and a shadow's edge shows dark where the tint shows nothing: the second
        // plane is followed only where it shows at least as many stretches, with offsets that
        // agree better from one stretch to the next; the other fills its gaps.
        let mut measured: Vec<Measured> = planes
            .iter()
            .map(|g| {
                let vertical: Vec<Option<f32>> = (0..rows.saturating_sub(1))
                    .flat_map(|j| (0..cols).map(move |i| (i, j)))
                    .map(|(i, j)| offset(g, 0, i, j))
                    .collect();
                let horizontal: Vec<Option<f32>> = (0..rows)
                    .flat_map(|j| (0..cols.saturating_sub(1)).map(move |i| (i, j)))
                    .map(|(i, j)| offset(g, 1, j, i))
                    .collect();
                Measured::new(vertical, horizontal, cols, rows)
            })
            .collect();
        let better = |b: &Measured, a: &Measured| b.count >= a.count && b.roughness < a.roughness;
        if measured.len() == 2 && better(&measured[1], &measured[0]) {
            measured.swap(0, 1);
        }
        let mut chosen = measured.swap_remove(0);
        for other in &measured {
            for (a, b) in (chosen.vertical.iter_mut().zip(&other.vertical))
                .chain(chosen.horizontal.iter_mut().zip(&other.horizontal))
            {
                *a = a.or(*b);
            }
        }
        let Measured {
            vertical,
            horizontal,
            ..
        } = chosen;
        // A stroke of trace beside a line pulls its stretch's peak off the line: a stretch
        // that disagrees with its neighbours along the same line is left out. A tall QRS
        // beside a line pulls several stretches in a row alike, but not the same stretches
        // of the parallel lines either side, which the sheet's smooth bends move together:
        // a stretch must agree with those too.
        let kink = opts.refine_max_kink_cells;
        // Whether entry `k` of the `n` reached by `at` agrees with the median of those
        // within two of it (or has too few of them to say).
        let agrees = |v: &[Option<f32>], n: usize, at: &dyn Fn(usize) -> usize, k: usize| {
            let Some(o) = v[at(k)] else {
                return false;
            };
            let mut near: Vec<f32> = (k.saturating_sub(2)..(k + 3).min(n))
                .filter(|&m| m != k)
                .filter_map(|m| v[at(m)])
                .collect();
            if near.len() < 2 {
                return true;
            }
            near.sort_by(f32::total_cmp);
            (o - near[near.len() / 2]).abs() <= kink
        };
        let (cells_down, cells_across) = (rows.saturating_sub(1), cols.saturating_sub(1));
        // Vertical stretch (cell k, line i) at k * cols + i; horizontal (line j, cell k) at
        // j * cells_across + k.
        let vertical_ok: Vec<Option<f32>> = (0..vertical.len())
            .map(|idx| {
                let (k, i) = (idx / cols, idx % cols);
                let along = agrees(&vertical, cells_down, &|m| m * cols + i, k);
                let across = agrees(&vertical, cols, &|m| k * cols + m, i);
                vertical[idx].filter(|_| along && across)
            })
            .collect();
        let horizontal_ok: Vec<Option<f32>> = (0..horizontal.len())
            .map(|idx| {
                let (j, k) = (idx / cells_across, idx % cells_across);
                let along = agrees(&horizontal, cells_across, &|m| j * cells_across + m, k);
                let across = agrees(&horizontal, rows, &|m| m * cells_across + k, j);
                horizontal[idx].filter(|_| along && across)
            })
            .collect();
        let (vertical, horizontal) = (vertical_ok, horizontal_ok);
        let mut moved = self.nodes.clone();
        for j in 0..rows {
            for i in 0..cols {
                if self.node(i, j).is_none() {
                    continue;
                }
                let mean = |v: &[Option<f32>]| {
                    let got: Vec<f32> = v.iter().flatten().copied().collect();
                    (!got.is_empty()).then(|| got.iter().sum::<f32>() / got.len() as f32)
                };
                let du = mean(&[
                    (j > 0).then(|| vertical[(j - 1) * cols + i]).flatten(),
                    (j + 1 < rows).then(|| vertical[j * cols + i]).flatten(),
                ]);
                let dv = mean(&[
                    (i > 0)
                        .then(|| horizontal[j * (cols - 1) + i - 1])
                        .flatten(),
                    (i + 1 < cols)
                        .then(|| horizontal[j * (cols - 1) + i])
                        .flatten(),
                ]);
                let (du, dv) = (du.unwrap_or(0.0), dv.unwrap_or(0.0));
                if let Some(p) = self.at(i as f32 + du, j as f32 + dv) {
                    moved[j * cols + i] = Some(p);
                }
            }
        }
        self.nodes = moved;
    }

    /// Moves each crossing `weight` of the way toward the midpoint of its two neighbours
    /// along a line, for the lines of one family, then of the other. Crossings at the ends
    /// of a line, or beside a missing one, stay where they are.
    fn smooth(&mut self, weight: f32) {
        if weight <= 0.0 {
            return;
        }
        let (cols, rows) = (self.columns, self.rows);
        for across in [true, false] {
            let old = self.nodes.clone();
            for j in 0..rows {
                for i in 0..cols {
                    let (before, after) = if across {
                        (
                            i.checked_sub(1).map(|i| (i, j)),
                            (i + 1 < cols).then_some((i + 1, j)),
                        )
                    } else {
                        (
                            j.checked_sub(1).map(|j| (i, j)),
                            (j + 1 < rows).then_some((i, j + 1)),
                        )
                    };
                    let at = |n: Option<(usize, usize)>| n.and_then(|(i, j)| old[j * cols + i]);
                    let (Some(p), Some(q), Some(m)) = (at(before), at(after), old[j * cols + i])
                    else {
                        continue;
                    };
                    self.nodes[j * cols + i] =
                        Some([0, 1].map(|k| m[k] + weight * ((p[k] + q[k]) / 2.0 - m[k])));
                }
            }
        }
    }
}

/// The offsets (cells) of every stretch of line as one grid plane shows them: vertical
/// stretches (line `i` between crossings `j` and `j + 1`, at `j * columns + i`), then
/// horizontal ones (line `j` between crossings `i` and `i + 1`, at `j * (columns - 1) + i`).
struct Measured {
    vertical: Vec<Option<f32>>,
    horizontal: Vec<Option<f32>>,
    /// How many stretches show their line.
    count: usize,
    /// The median difference between neighbouring stretches of the same line: a wrinkle
    /// bends a line smoothly, noise does not.
    roughness: f32,
}

impl Measured {
    fn new(
        vertical: Vec<Option<f32>>,
        horizontal: Vec<Option<f32>>,
        columns: usize,
        rows: usize,
    ) -> Measured {
        let mut steps = Vec::new();
        for j in 0..rows.saturating_sub(2) {
            for i in 0..columns {
                if let (Some(a), Some(b)) =
                    (vertical[j * columns + i], vertical[(j + 1) * columns + i])
                {
                    steps.push((a - b).abs());
                }
            }
        }
        let w = columns.saturating_sub(1);
        for j in 0..rows {
            for i in 0..w.saturating_sub(1) {
                if let (Some(a), Some(b)) = (horizontal[j * w + i], horizontal[j * w + i + 1]) {
                    steps.push((a - b).abs());
                }
            }
        }
        let roughness = if steps.is_empty() {
            f32::INFINITY
        } else {
            let k = steps.len() / 2;
            *steps.select_nth_unstable_by(k, f32::total_cmp).1
        };
        let count = vertical.iter().chain(&horizontal).flatten().count();
        Measured {
            vertical,
            horizontal,
            count,
            roughness,
        }
    }
}

/// The grid as a field of phases: for each tile, the line numbers `u` and `v` at its centre
/// and their gradients (the local wave vectors, cycles per pixel).
#[derive(Debug, Clone)]
struct Tile {
    centre: [f32; 2],
    k: [[f32; 2]; 2],
    uv: [f32; 2],
    quality: f32,
}

/// Finds the grid lattice of a photographed page, or `None` when the image shows no
/// periodic grid.
pub fn find(image: &RgbImage, opts: &LatticeOptions) -> Option<Lattice> {
    let (w, h) = (image.width(), image.height());
    if w < 64 || h < 64 {
        return None;
    }
    // Every copy below is at most a third of the photo's size: taken from a half-size one,
    // the full photo is read once.
    let halved;
    let (source, k) = if w.max(h) >= 3 * opts.survey_side_px {
        halved = crate::raster::box_reduce(image, 2);
        (&halved, 2.0)
    } else {
        (image, 1.0)
    };
    // Most pages are flat scans: a small copy's spectrum tells them, and nothing more is
    // needed of them here.
    let quick_scale = (opts.quick_side_px as f32 / w.max(h) as f32).min(1.0);
    let quick = reduce(source, quick_scale * k);
    let flat = [GridPlane::Saturation, GridPlane::Darkness]
        .into_iter()
        .find_map(|kind| {
            survey_peaks(&grid_plane(&quick, kind), opts)
                .filter(|s| s.prominence >= opts.min_peak_prominence)
        });
    if let Some(s) = flat.filter(|s| s.concentration >= opts.quick_flat_concentration) {
        return Some(Lattice::flat(s.concentration));
    }
    // Survey: the grid's two wave vectors from the spectrum of a reduced copy. A crumpled
    // sheet smears its grid's peak across the spectrum's bins, where a coarser structure
    // can outshine it: failing a good lattice, a survey twice as large.
    let mut best: Option<Lattice> = None;
    for side in [opts.survey_side_px, 2 * opts.survey_side_px] {
        if best.as_ref().is_some_and(|b| good(b, opts)) || side > w.max(h) {
            break;
        }
        let survey = reduce(source, (side as f32 / w.max(h) as f32).min(1.0) * k);
        let survey_scale = survey[0].width as f32 / w as f32;
        // Colour first: it shows a tinted grid without the trace, which is never tinted. A
        // photo can leave a red grid, or part of it, too faint in colour, though: then
        // darkness.
        for kind in [GridPlane::Saturation, GridPlane::Darkness] {
            let Some(found) = find_in(image, source, &survey, survey_scale, kind, opts) else {
                continue;
            };
            // Solid: it covers what it found of the sheet without bays (a flat page has none).
            let solid = found.solidity >= opts.min_solidity;
            let good = good(&found, opts);
            let share = |l: &Lattice| l.coverage * l.solidity;
            if best.as_ref().is_none_or(|b| share(&found) > share(b)) || (good && solid) {
                best = Some(found);
            }
            if good && solid {
                break;
            }
        }
    }
    best
}

/// Whether a lattice is good enough to stop looking: it covers much of the photo, or the
/// page is flat.
fn good(l: &Lattice, opts: &LatticeOptions) -> bool {
    l.coverage >= opts.min_colour_coverage || l.concentration >= opts.flat_concentration
}

/// [`find`] in one grid plane, given the reduced survey copy.
fn find_in(
    image: &RgbImage,
    source: &RgbImage,
    survey: &[Plane; 3],
    survey_scale: f32,
    plane: GridPlane,
    opts: &LatticeOptions,
) -> Option<Lattice> {
    let (w, h) = (image.width(), image.height());
    let Survey {
        k,
        prominence,
        concentration,
    } = survey_peaks(&grid_plane(survey, plane), opts)?;
    if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
        eprintln!(
            "lattice plane {plane:?} k {k:?} prominence {prominence:.1} concentration {concentration:.3}"
        );
    }
    if prominence < opts.min_peak_prominence {
        return None;
    }
    // A flat page needs no lattice: the geometry stage squares it up (and it is cheaper).
    if concentration >= opts.flat_concentration {
        return Some(Lattice::flat(concentration));
    }
    let survey_period = 1.0 / norm(k[0]).max(norm(k[1]));
    // Analysis: reduced so a period spans about `analysis_period_px`, never enlarged.
    let period_full = survey_period / survey_scale;
    let scale = (opts.analysis_period_px / period_full).min(1.0);
    let analysed = reduce(
        source,
        (scale * image.width() as f32 / source.width() as f32).min(1.0),
    );
    let g = grid_plane(&analysed, plane);
    // The copy's own scale: the half-size source cannot be enlarged.
    let scale = analysed[0].width as f32 / image.width() as f32;
    let k_analysis = k.map(|v| v.map(|c| c * survey_scale / scale));
    let tiles = unwrap(&g, k_analysis, opts);
    if tiles.len() < 16 {
        return None;
    }
    let to_image = |p: [f32; 2]| {
        [
            (p[0] + 0.5) * w as f32 / analysed[0].width as f32 - 0.5,
            (p[1] + 0.5) * h as f32 / analysed[0].height as f32 - 0.5,
        ]
    };
    let step = opts.tile_step_periods / norm(k_analysis[0]).max(1e-6);
    let mut lattice = crossings(&tiles, step, opts)?;
    let other = grid_plane(&analysed, plane.other());
    let planes = [&g, &other];
    for _ in 0..opts.refine_rounds {
        lattice.refine(&planes, opts);
    }
    lattice.smooth(opts.smooth_weight);
    for n in lattice.nodes.iter_mut().flatten() {
        *n = to_image(*n);
    }
    lattice.period_px = period_full;
    let covered = tiles.len() as f32 * step * step;
    lattice.coverage = (covered / (analysed[0].width as f32 * analysed[0].height as f32)).min(1.0);
    lattice.bend_periods = bend(&lattice);
    lattice.concentration = concentration;
    if cfg!(feature = "trace-debug") && std::env::var("ECG_DEBUG").is_ok() {
        let l = &lattice;
        eprintln!(
            "lattice {}x{} period {:.1} px coverage {:.2} bend {:.3}",
            l.columns, l.rows, l.period_px, l.coverage, l.bend_periods
        );
    }
    Some(lattice)
}

/// The image reduced by `scale` (≤ 1) by area averaging, as float RGB planes (0–1). Each
/// source pixel is shared between the output pixels it overlaps, so fine lines (1 mm grid)
/// average out instead of aliasing into a false period.
fn reduce(image: &RgbImage, scale: f32) -> [Plane; 3] {
    let (w, h) = (image.width(), image.height());
    let (nw, nh) = (
        ((w as f32 * scale).round() as u32).clamp(1, w),
        ((h as f32 * scale).round() as u32).clamp(1, h),
    );
    let xs = crate::decode::area_map(w, nw);
    let ys = crate::decode::area_map(h, nh);
    let (nw, nh) = (nw as usize, nh as usize);
    let mut out = [0, 1, 2].map(|_| Plane::new(nw, nh, 0.0));
    let mut line = vec![[0f32; 3]; nw];
    for (row, &(oy, share_y)) in image.as_raw().chunks_exact(w as usize * 3).zip(&ys) {
        line.fill([0.0; 3]);
        for (px, &(ox, share_x)) in row.chunks_exact(3).zip(&xs) {
            let ox = ox as usize;
            for c in 0..3 {
                let v = px[c] as f32;
                line[ox][c] += v * share_x;
                if share_x < 1.0 && ox + 1 < nw {
                    line[ox + 1][c] += v * (1.0 - share_x);
                }
            }
        }
        let oy = oy as usize;
        for (c, plane) in out.iter_mut().enumerate() {
            for (x, l) in line.iter().enumerate() {
                plane.data[oy * nw + x] += l[c] * share_y;
                if share_y < 1.0 && oy + 1 < nh {
                    plane.data[(oy + 1) * nw + x] += l[c] * (1.0 - share_y);
                }
            }
        }
    }
    let norm = (nw * nh) as f32 / (w as f32 * h as f32) / 255.0;
    for p in out.iter_mut() {
        for v in p.data.iter_mut() {
            *v *= norm;
        }
    }
    out
}

/// Which property of the pixels shows the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
enum GridPlane {
    /// Colour saturation against the local paper: red, green or blue grids.
    Saturation,
    /// Darkness against the local paper: grey and black grids.
    Darkness,
}

impl GridPlane {
    fn other(self) -> GridPlane {
        match self {
            GridPlane::Saturation => GridPlane::Darkness,
            GridPlane::Darkness => GridPlane::Saturation,
        }
    }
}

/// The grid plane of reduced RGB planes: each channel divided by its local paper level (the
/// 90th percentile of 16-pixel blocks), then saturation or darkness.
fn grid_plane(rgb: &[Plane; 3], kind: GridPlane) -> Plane {
    const BLOCK: usize = 16;
    let (w, h) = (rgb[0].width, rgb[0].height);
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut values = Vec::with_capacity(BLOCK * BLOCK);
    let paper: Vec<[f32; 3]> = (0..bw * bh)
        .map(|b| {
            let (bx, by) = (b % bw, b / bw);
            [0, 1, 2].map(|c| {
                values.clear();
                for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
                    values.extend_from_slice(&rgb[c].row(y)[bx * BLOCK..((bx + 1) * BLOCK).min(w)]);
                }
                let k = (values.len() * 9 / 10).min(values.len() - 1);
                *values.select_nth_unstable_by(k, f32::total_cmp).1
            })
        })
        .collect();
    // Bilinear between block centres: the same horizontal weights serve every row.
    let axis = |i: usize, n: usize| {
        let f = ((i as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        let i0 = f as usize;
        (i0, (i0 + 1).min(n - 1), f - i0 as f32)
    };
    let xs: Vec<(usize, usize, f32)> = (0..w).map(|x| axis(x, bw)).collect();
    let mut out = Plane::new(w, h, 0.0);
    let mut row_paper = vec![[0f32; 3]; bw];
    for y in 0..h {
        let (y0, y1, ty) = axis(y, bh);
        for (bx, r) in row_paper.iter_mut().enumerate() {
            let (a, b) = (paper[y0 * bw + bx], paper[y1 * bw + bx]);
            *r = [0, 1, 2].map(|c| a[c] * (1.0 - ty) + b[c] * ty);
        }
        for (x, &(x0, x1, tx)) in xs.iter().enumerate() {
            let (a, b) = (row_paper[x0], row_paper[x1]);
            let n = [0, 1, 2].map(|c| {
                let level = a[c] * (1.0 - tx) + b[c] * tx;
                (rgb[c].data[y * w + x] / level.max(0.02)).min(1.0)
            });
            let (lo, hi) = (n[0].min(n[1]).min(n[2]), n[0].max(n[1]).max(n[2]));
            out.data[y * w + x] = if 1.0 - hi > TRACE_INK {
                f32::NAN
            } else {
                match kind {
                    GridPlane::Saturation => hi - lo,
                    GridPlane::Darkness => 1.0 - lo,
                }
            };
        }
    }
    // The colour fringes and blur around a stroke are no grid either: the trace mask grows
    // by a pixel each way (rows, then columns).
    let trace: Vec<bool> = out.data.iter().map(|v| v.is_nan()).collect();
    let mut wide = trace.clone();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            wide[i] = trace[i] || (x > 0 && trace[i - 1]) || (x + 1 < w && trace[i + 1]);
        }
    }
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if wide[i] || (y > 0 && wide[i - w]) || (y + 1 < h && wide[i + w]) {
                out.data[i] = f32::NAN;
            }
        }
    }
    out
}

/// Pixels darker than this in their brightest channel, against the paper, are trace or
/// text, not grid: even a dark red grid leaves the red channel bright, and a grey grid is
/// printed lighter than the trace.
const TRACE_INK: f32 = 0.5;

fn norm(v: [f32; 2]) -> f32 {
    libm::hypotf(v[0], v[1])
}

fn dot(a: [f32; 2], b: [f32; 2]) -> f32 {
    a[0] * b[0] + a[1] * b[1]
}

/// The two strongest, roughly perpendicular spectral peaks of the plane within the survey's
/// periods: the wave vectors (cycles per pixel) of the two line families, the one across
/// the page (mostly along x, pointing right) first, the other turned so the pair is not
/// mirrored; and the weaker peak's prominence.
fn survey_peaks(p: &Plane, opts: &LatticeOptions) -> Option<Survey> {
    let (buf, fw, fh) = spectrum(p);
    let mag = |kx: i64, ky: i64| -> f32 {
        let (ix, iy) = (
            kx.rem_euclid(fw as i64) as usize,
            ky.rem_euclid(fh as i64) as usize,
        );
        buf[iy * fw + ix].norm()
    };
    // Bins of the annulus, in the half plane kx > 0 (or kx = 0, ky > 0).
    let (r_lo, r_hi) = (
        1.0 / opts.max_survey_period_px,
        1.0 / opts.min_survey_period_px,
    );
    let mut annulus = Vec::new();
    let (hx, hy) = (fw as i64 / 2, fh as i64 / 2);
    for ky in -hy + 1..hy {
        for kx in 0..hx {
            if kx == 0 && ky <= 0 {
                continue;
            }
            let f = [kx as f32 / fw as f32, ky as f32 / fh as f32];
            let r = norm(f);
            if r >= r_lo && r <= r_hi {
                annulus.push((kx, ky, mag(kx, ky)));
            }
        }
    }
    if annulus.len() < 16 {
        return None;
    }
    let mut mags: Vec<f32> = annulus.iter().map(|a| a.2).collect();
    let mid = mags.len() / 2;
    let median = *mags.select_nth_unstable_by(mid, f32::total_cmp).1;
    let freq = |kx: i64, ky: i64| [kx as f32 / fw as f32, ky as f32 / fh as f32];
    let first = *annulus.iter().max_by(|a, b| a.2.total_cmp(&b.2))?;
    if !(first.2 > 1e-6 && median > 1e-9) {
        return None; // blank
    }
    let f1 = freq(first.0, first.1);
    // The other family: at least 60° away, and of a period within a factor of 1.6.
    let second = *annulus
        .iter()
        .filter(|a| {
            let f = freq(a.0, a.1);
            let cos = dot(f, f1) / (norm(f) * norm(f1));
            let ratio = norm(f) / norm(f1);
            cos.abs() < 0.5 && (1.0 / 1.6..=1.6).contains(&ratio)
        })
        .max_by(|a, b| a.2.total_cmp(&b.2))?;
    // Sub-bin position by a parabola through the log magnitudes on each axis.
    let refine = |kx: i64, ky: i64| -> [f32; 2] {
        let vertex = |a: f32, b: f32, c: f32| {
            let (a, b, c) = (a.max(1e-12).ln(), b.max(1e-12).ln(), c.max(1e-12).ln());
            let d = a - 2.0 * b + c;
            if d < 0.0 {
                (0.5 * (a - c) / d).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        };
        let dx = vertex(mag(kx - 1, ky), mag(kx, ky), mag(kx + 1, ky));
        let dy = vertex(mag(kx, ky - 1), mag(kx, ky), mag(kx, ky + 1));
        [(kx as f32 + dx) / fw as f32, (ky as f32 + dy) / fh as f32]
    };
    let mut k = [refine(first.0, first.1), refine(second.0, second.1)];
    // A wave vector worked out from others: refined at the nearest bin of the half-plane
    // the peaks were taken from.
    let refine_near = |f: [f32; 2]| {
        let (kx, ky) = (
            (f[0] * fw as f32).round() as i64,
            (f[1] * fh as f32).round() as i64,
        );
        if kx < 0 || (kx == 0 && ky < 0) {
            refine(-kx, -ky)
        } else {
            refine(kx, ky)
        }
    };
    // Thin lines have strong harmonics, and a grid's diagonal ones (k1 ± k2) can outshine
    // its fundamentals: two peaks that are the diagonals of a lattice at half their sum
    // and half their difference, which also shows, give way to it.
    let at = |f: [f32; 2]| {
        mag(
            (f[0] * fw as f32).round() as i64,
            (f[1] * fh as f32).round() as i64,
        )
    };
    let halves = [
        [(k[0][0] + k[1][0]) / 2.0, (k[0][1] + k[1][1]) / 2.0],
        [(k[0][0] - k[1][0]) / 2.0, (k[0][1] - k[1][1]) / 2.0],
    ];
    let weaker = first.2.min(second.2);
    if halves.iter().all(|&f| {
        let r = norm(f);
        r >= r_lo && at(f) >= opts.min_fundamental_share * weaker
    }) {
        k = halves.map(refine_near);
    }
    // The strongest peaks may be harmonics of the lattice the lines repeat on: the 1 mm
    // lines of a 5 mm grid, or the second harmonic of thin lines. The lattice is the
    // coarsest whole fraction of both that still shows in the spectrum.
    let weaker = at(k[0]).min(at(k[1]));
    for m in [5.0f32, 4.0, 3.0, 2.0] {
        let sub = k.map(|f| f.map(|c| c / m));
        let shows = |f: [f32; 2]| {
            let m = at(f);
            norm(f) >= r_lo
                && m >= opts.min_fundamental_share * weaker
                && m >= opts.min_peak_prominence * median
        };
        if sub.iter().all(|&f| shows(f)) {
            k = sub.map(refine_near);
            break;
        }
    }
    if k[0][0].abs() < k[1][0].abs() {
        k.swap(0, 1);
    }
    if k[0][0] < 0.0 {
        k[0] = k[0].map(|c| -c);
    }
    if k[0][0] * k[1][1] - k[0][1] * k[1][0] < 0.0 {
        k[1] = k[1].map(|c| -c);
    }
    // Share of the spectral energy around each peak (its 9×9 bins) in its 3×3 bins.
    let concentration = k
        .iter()
        .map(|f| {
            let (kx, ky) = (
                (f[0] * fw as f32).round() as i64,
                (f[1] * fh as f32).round() as i64,
            );
            let (mut inner, mut outer) = (0f32, 0f32);
            for dy in -4..=4i64 {
                for dx in -4..=4i64 {
                    let e = mag(kx + dx, ky + dy).powi(2);
                    outer += e;
                    if dx.abs() <= 1 && dy.abs() <= 1 {
                        inner += e;
                    }
                }
            }
            if outer > 0.0 {
                inner / outer
            } else {
                1.0
            }
        })
        .fold(1.0, f32::min);
    Some(Survey {
        k,
        prominence: first.2.min(second.2) / median.max(1e-12),
        concentration,
    })
}

/// What the spectrum of a reduced copy shows of the grid.
struct Survey {
    /// The two line families' wave vectors, cycles per pixel (see [`survey_peaks`]).
    k: [[f32; 2]; 2],
    /// The weaker peak over the median of the periods searched.
    prominence: f32,
    /// The smaller share of either peak's surrounding energy (its 9×9 bins) within its
    /// 3×3 bins: near 1 for a flat page, whose lines keep one direction and period; less
    /// for a curled or folded one, whose lines bend.
    concentration: f32,
}

/// The windowed, mean-free plane's 2D spectrum, zero-padded to powers of two: the buffer
/// and its width and height.
fn spectrum(p: &Plane) -> (Vec<Complex<f32>>, usize, usize) {
    let (w, h) = (p.width, p.height);
    let (fw, fh) = (w.next_power_of_two(), h.next_power_of_two());
    let known = p.data.iter().filter(|v| !v.is_nan());
    let count = known.clone().count().max(1);
    let mean = known.sum::<f32>() / count as f32;
    let hann = |i: usize, n: usize| {
        0.5 - 0.5 * libm::cosf(std::f32::consts::TAU * (i as f32 + 0.5) / n as f32)
    };
    let wy: Vec<f32> = (0..h).map(|y| hann(y, h)).collect();
    let wx: Vec<f32> = (0..w).map(|x| hann(x, w)).collect();
    // In f64, as the grid stage's FFT: one copy of rustfft's code in the .wasm, not two.
    let mut buf = vec![Complex::new(0f64, 0.0); fw * fh];
    for y in 0..h {
        for x in 0..w {
            let v = p.get(x, y);
            if !v.is_nan() {
                buf[y * fw + x].re = f64::from((v - mean) * wx[x] * wy[y]);
            }
        }
    }
    fft2(&mut buf, fw, fh);
    let buf = buf
        .iter()
        .map(|c| Complex::new(c.re as f32, c.im as f32))
        .collect();
    (buf, fw, fh)
}

/// In-place 2D FFT of a row-major `w`×`h` buffer.
fn fft2(buf: &mut [Complex<f64>], w: usize, h: usize) {
    let mut planner = FftPlanner::new();
    let rows = planner.plan_fft_forward(w);
    for row in buf.chunks_exact_mut(w) {
        rows.process(row);
    }
    let cols = planner.plan_fft_forward(h);
    let mut col = vec![Complex::new(0f64, 0.0); h];
    for x in 0..w {
        for (y, c) in col.iter_mut().enumerate() {
            *c = buf[y * w + x];
        }
        cols.process(&mut col);
        for (y, c) in col.iter().enumerate() {
            buf[y * w + x] = *c;
        }
    }
}

/// One tile's windowed, mean-free samples, for demodulation at any wave vector.
struct TileSamples {
    radius: usize,
    /// `(2·radius)²` samples, windowed.
    values: Vec<f32>,
    /// Weighted root mean square of the mean-free samples, times the window's sum.
    spread: f32,
}

impl TileSamples {
    fn new(g: &Plane, centre: (usize, usize), radius: usize, window: &[f32]) -> TileSamples {
        let side = 2 * radius;
        let (x0, y0) = (centre.0 - radius, centre.1 - radius);
        let mut mean = 0f32;
        let mut weight = 0f32;
        for y in 0..side {
            for x in 0..side {
                let v = g.get(x0 + x, y0 + y);
                if !v.is_nan() {
                    let wgt = window[y] * window[x];
                    mean += wgt * v;
                    weight += wgt;
                }
            }
        }
        mean /= weight.max(1e-6);
        let mut values = Vec::with_capacity(side * side);
        let mut var = 0f32;
        for y in 0..side {
            for x in 0..side {
                let wgt = window[y] * window[x];
                let v = g.get(x0 + x, y0 + y) - mean;
                if v.is_nan() {
                    values.push(0.0);
                } else {
                    var += wgt * v * v;
                    values.push(wgt * v);
                }
            }
        }
        TileSamples {
            radius,
            values,
            spread: (var / weight.max(1e-6)).sqrt() * weight,
        }
    }

    /// The complex amplitude of wave vector `k` about the tile's centre, and the share of
    /// the tile's variation it explains (0 to 1).
    fn demodulate(&self, k: [f32; 2]) -> (Complex<f32>, f32) {
        let side = 2 * self.radius;
        let phasors = |f: f32| -> Vec<Complex<f32>> {
            (0..side)
                .map(|i| {
                    let a = -std::f32::consts::TAU * f * (i as f32 - self.radius as f32 + 0.5);
                    Complex::new(libm::cosf(a), libm::sinf(a))
                })
                .collect()
        };
        let (ex, ey) = (phasors(k[0]), phasors(k[1]));
        let mut total = Complex::new(0f32, 0.0);
        for (row, e) in self.values.chunks_exact(side).zip(&ey) {
            let mut s = Complex::new(0f32, 0.0);
            for (&v, p) in row.iter().zip(&ex) {
                s += p * v;
            }
            total += s * e;
        }
        // A sinusoid of amplitude a gives |total| = a/2 · Σw and a spread of a/√2 · Σw.
        let quality = if self.spread > 0.0 {
            std::f32::consts::SQRT_2 * total.norm() / self.spread
        } else {
            0.0
        };
        (total, quality.min(1.0))
    }
}

/// Phase of a complex amplitude in cycles, in (-0.5, 0.5].
fn cycles(a: Complex<f32>) -> f32 {
    libm::atan2f(a.im, a.re) / std::f32::consts::TAU
}

/// A tile waiting to be unwrapped, by the quality of the neighbour that reached it.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    /// Quality's bits: non-negative floats order as their bits do.
    priority: u32,
    tile: usize,
    from: usize,
}

/// Demodulates tiles across the plane and unwraps their phases outward from the best one,
/// following the wave vectors as they turn and stretch across a curled page. Returns the
/// unwrapped tiles.
fn unwrap(g: &Plane, k0: [[f32; 2]; 2], opts: &LatticeOptions) -> Vec<Tile> {
    let period = 1.0 / norm(k0[0]).max(norm(k0[1]));
    let radius = ((opts.tile_radius_periods * period).round() as usize).max(4);
    let step = ((opts.tile_step_periods * period).round() as usize).max(2);
    if g.width < 2 * radius + 1 || g.height < 2 * radius + 1 {
        return Vec::new();
    }
    let xs: Vec<usize> = (radius..=g.width - radius).step_by(step).collect();
    let ys: Vec<usize> = (radius..=g.height - radius).step_by(step).collect();
    let (nx, ny) = (xs.len(), ys.len());
    let window: Vec<f32> = (0..2 * radius)
        .map(|i| {
            let t = (i as f32 + 0.5) / (2 * radius) as f32;
            0.5 - 0.5 * libm::cosf(std::f32::consts::TAU * t)
        })
        .collect();
    let samples: Vec<TileSamples> = ys
        .iter()
        .flat_map(|&y| xs.iter().map(move |&x| (x, y)))
        .map(|c| TileSamples::new(g, c, radius, &window))
        .collect();
    let centre = |t: usize| [xs[t % nx] as f32, ys[t / nx] as f32];
    // Seed: the best tile at the survey's wave vectors, among the middle ninth of the image
    // if any there is good (the page is usually in the middle of a photo).
    let seed_quality = |t: usize| {
        let (a, qa) = samples[t].demodulate(k0[0]);
        let (b, qb) = samples[t].demodulate(k0[1]);
        (qa.min(qb), a, b)
    };
    let middle: Vec<usize> = (0..nx * ny)
        .filter(|&t| {
            let (ix, iy) = (t % nx, t / nx);
            (nx / 3..=2 * nx / 3).contains(&ix) && (ny / 3..=2 * ny / 3).contains(&iy)
        })
        .collect();
    let best = |set: &mut dyn Iterator<Item = usize>| {
        set.map(|t| (t, seed_quality(t)))
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
    };
    let seed = best(&mut middle.iter().copied())
        .filter(|s| s.1 .0 >= opts.min_tile_quality)
        .or_else(|| best(&mut (0..nx * ny)))
        .filter(|s| s.1 .0 >= opts.min_tile_quality);
    let Some((seed, (q, a, b))) = seed else {
        return Vec::new();
    };
    let mut solved: Vec<Option<Tile>> = vec![None; nx * ny];
    solved[seed] = Some(Tile {
        centre: centre(seed),
        k: k0,
        uv: [cycles(a), cycles(b)],
        quality: q,
    });
    let neighbours = |t: usize| {
        let (ix, iy) = (t % nx, t / nx);
        let mut n = Vec::with_capacity(4);
        if ix > 0 {
            n.push(t - 1);
        }
        if ix + 1 < nx {
            n.push(t + 1);
        }
        if iy > 0 {
            n.push(t - nx);
        }
        if iy + 1 < ny {
            n.push(t + nx);
        }
        n
    };
    let mut queue = BinaryHeap::new();
    let push = |queue: &mut BinaryHeap<Pending>, solved: &[Option<Tile>], t: usize| {
        let q = solved[t].as_ref().map_or(0.0, |s| s.quality);
        for n in neighbours(t) {
            if solved[n].is_none() {
                queue.push(Pending {
                    priority: q.to_bits(),
                    tile: n,
                    from: t,
                });
            }
        }
    };
    push(&mut queue, &solved, seed);
    let mut tries = vec![0u8; nx * ny];
    while let Some(Pending { tile, from, .. }) = queue.pop() {
        if solved[tile].is_some() || tries[tile] >= 4 {
            continue;
        }
        tries[tile] += 1;
        let src = solved[from].clone().expect("queued from a solved tile");
        let c = centre(tile);
        let Some(t) = fit_tile(&samples[tile], c, &src, opts) else {
            continue;
        };
        solved[tile] = Some(t);
        // The wave vectors from the phase differences to every unwrapped neighbour, the
        // source's standing in for directions no neighbour measures.
        let known: Vec<Tile> = neighbours(tile)
            .into_iter()
            .filter_map(|n| solved[n].clone())
            .collect();
        if let Some(s) = solved[tile].as_mut() {
            s.k = gradient(s, &known, src.k);
        }
        push(&mut queue, &solved, tile);
    }
    // A last pass: every tile demodulated again at wave vectors fitted to its whole
    // neighbourhood, which a curled page's phases follow more closely.
    let done: Vec<Option<Tile>> = solved.clone();
    for t in 0..nx * ny {
        let Some(s) = done[t].as_ref() else { continue };
        let (ix, iy) = (t % nx, t / nx);
        let around: Vec<Tile> = (iy.saturating_sub(1)..=(iy + 1).min(ny - 1))
            .flat_map(|y| (ix.saturating_sub(1)..=(ix + 1).min(nx - 1)).map(move |x| y * nx + x))
            .filter(|&n| n != t)
            .filter_map(|n| done[n].clone())
            .collect();
        let k = gradient(s, &around, s.k);
        let (a, qa) = samples[t].demodulate(k[0]);
        let (b, qb) = samples[t].demodulate(k[1]);
        let near = |fresh: f32, old: f32| fresh + (old - fresh).round();
        solved[t] = Some(Tile {
            centre: s.centre,
            k,
            uv: [near(cycles(a), s.uv[0]), near(cycles(b), s.uv[1])],
            quality: qa.min(qb),
        });
    }
    solved.into_iter().flatten().collect()
}

/// Tile `samples` at `centre` demodulated at the wave vectors of its unwrapped neighbour
/// `src`, with its line numbers chosen nearest to what `src` predicts; `None` where it shows
/// no grid, or not the same one.
fn fit_tile(
    samples: &TileSamples,
    centre: [f32; 2],
    src: &Tile,
    opts: &LatticeOptions,
) -> Option<Tile> {
    let (a, qa) = samples.demodulate(src.k[0]);
    let (b, qb) = samples.demodulate(src.k[1]);
    let quality = qa.min(qb);
    if quality < opts.min_tile_quality {
        return None;
    }
    let d = [centre[0] - src.centre[0], centre[1] - src.centre[1]];
    let mut uv = [0f32; 2];
    for (f, phase) in [cycles(a), cycles(b)].into_iter().enumerate() {
        let predicted = src.uv[f] + dot(src.k[f], d);
        let whole = (predicted - phase).round();
        if (phase + whole - predicted).abs() > opts.max_phase_misfit {
            return None;
        }
        uv[f] = phase + whole;
    }
    Some(Tile {
        centre,
        k: src.k,
        uv,
        quality,
    })
}

/// Wave vectors of tile `t` fitted to the line-number differences to its unwrapped
/// neighbours (least squares, per family), with `prior` as a weak pull for directions the
/// neighbours leave open.
fn gradient(t: &Tile, neighbours: &[Tile], prior: [[f32; 2]; 2]) -> [[f32; 2]; 2] {
    let mut out = prior;
    for (f, k) in out.iter_mut().enumerate() {
        // Normal equations of Σ (k·d − Δ)² + λ |d|² |k − prior|², λ small.
        let mut m = [[0f64; 2]; 2];
        let mut r = [0f64; 2];
        let mut scale = 0f64;
        for n in neighbours {
            let d = [
                (n.centre[0] - t.centre[0]) as f64,
                (n.centre[1] - t.centre[1]) as f64,
            ];
            let delta = (n.uv[f] - t.uv[f]) as f64;
            for a in 0..2 {
                for b in 0..2 {
                    m[a][b] += d[a] * d[b];
                }
                r[a] += d[a] * delta;
            }
            scale += d[0] * d[0] + d[1] * d[1];
        }
        let lambda = 0.05 * scale.max(1.0) / neighbours.len().max(1) as f64;
        for a in 0..2 {
            m[a][a] += lambda;
            r[a] += lambda * prior[f][a] as f64;
        }
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        if det.abs() > 1e-12 {
            *k = [
                ((r[0] * m[1][1] - r[1] * m[0][1]) / det) as f32,
                ((m[0][0] * r[1] - m[1][0] * r[0]) / det) as f32,
            ];
        }
    }
    out
}

/// The crossings of whole-numbered lines, each from the tiles around it (their local linear
/// phase, weighted by quality and distance), in analysis pixels; then holes filled and the
/// edges extended. `step` is the tiles' spacing in pixels.
fn crossings(tiles: &[Tile], step: f32, opts: &LatticeOptions) -> Option<Lattice> {
    let lo = |f: usize| tiles.iter().map(|t| t.uv[f]).fold(f32::MAX, f32::min);
    let hi = |f: usize| tiles.iter().map(|t| t.uv[f]).fold(f32::MIN, f32::max);
    let margin = opts.extend_cells as i64 + 2;
    let (i0, j0) = (lo(0).floor() as i64 - margin, lo(1).floor() as i64 - margin);
    let (i1, j1) = (hi(0).ceil() as i64 + margin, hi(1).ceil() as i64 + margin);
    let (columns, rows) = ((i1 - i0 + 1) as usize, (j1 - j0 + 1) as usize);
    if columns * rows > 1 << 20 {
        return None;
    }
    let mut acc = vec![(0f64, 0f64, 0f64); columns * rows];
    let sigma2 = 2.0 * (step as f64).powi(2);
    for t in tiles {
        let [[a, b], [c, d]] = t.k;
        let det = a * d - b * c;
        if det.abs() < 1e-9 {
            continue;
        }
        // (x, y) = centre + J⁻¹ (Δu, Δv), J the rows of wave vectors.
        let inv = [[d / det, -b / det], [-c / det, a / det]];
        let (u, v) = (t.uv[0], t.uv[1]);
        for j in (v - 1.5).floor() as i64..=(v + 1.5).ceil() as i64 {
            for i in (u - 1.5).floor() as i64..=(u + 1.5).ceil() as i64 {
                let (du, dv) = (i as f32 - u, j as f32 - v);
                let dx = inv[0][0] * du + inv[0][1] * dv;
                let dy = inv[1][0] * du + inv[1][1] * dv;
                let wgt = t.quality as f64 * (-((dx * dx + dy * dy) as f64) / sigma2).exp();
                let e = &mut acc[((j - j0) as usize) * columns + (i - i0) as usize];
                e.0 += wgt;
                e.1 += wgt * (t.centre[0] + dx) as f64;
                e.2 += wgt * (t.centre[1] + dy) as f64;
            }
        }
    }
    let mut support: Vec<f64> = acc.iter().map(|e| e.0).filter(|&w| w > 0.0).collect();
    if support.is_empty() {
        return None;
    }
    let mid = support.len() / 2;
    let median = *support.select_nth_unstable_by(mid, f64::total_cmp).1;
    let floor = opts.min_node_support as f64 * median;
    let mut nodes: Vec<Option<[f32; 2]>> = acc
        .iter()
        .map(|e| (e.0 >= floor).then(|| [(e.1 / e.0) as f32, (e.2 / e.0) as f32]))
        .collect();
    keep_largest_component(&mut nodes, columns, rows);
    fill_holes(&mut nodes, columns, rows);
    let solidity = solidity(&nodes, columns);
    for _ in 0..opts.extend_cells {
        extend_once(&mut nodes, columns, rows);
    }
    let mut lattice = trim(nodes, columns, rows)?;
    lattice.solidity = solidity;
    Some(lattice)
}

/// Share of the positions inside the convex hull of the found crossings, in line numbers,
/// that hold one (see [`Lattice::solidity`]); 1 with fewer than three.
fn solidity(nodes: &[Option<[f32; 2]>], columns: usize) -> f32 {
    let found: Vec<Point<i32>> = (0..nodes.len())
        .filter(|&k| nodes[k].is_some())
        .map(|k| Point::new((k % columns) as i32, (k / columns) as i32))
        .collect();
    if found.len() < 3 {
        return 1.0;
    }
    let count = found.len();
    let hull = convex_hull(found);
    let (j0, j1) = hull.iter().fold((i32::MAX, i32::MIN), |(lo, hi), p| {
        (lo.min(p.y), hi.max(p.y))
    });
    // Per row of crossings, the hull's extent: where its edges meet the row.
    let mut inside = 0;
    for j in j0..=j1 {
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for (e, &a) in hull.iter().enumerate() {
            let b = hull[(e + 1) % hull.len()];
            if (a.y - j) * (b.y - j) > 0 {
                continue;
            }
            let ends = if a.y == b.y {
                [a.x as f64, b.x as f64]
            } else {
                let x = a.x as f64 + (b.x - a.x) as f64 * (j - a.y) as f64 / (b.y - a.y) as f64;
                [x, x]
            };
            lo = lo.min(ends[0].min(ends[1]));
            hi = hi.max(ends[0].max(ends[1]));
        }
        if hi >= lo {
            inside += ((hi + 1e-6).floor() - (lo - 1e-6).ceil()) as usize + 1;
        }
    }
    count as f32 / inside.max(1) as f32
}

/// Keeps the largest 4-connected set of found crossings: stray tiles on the desk go.
fn keep_largest_component(nodes: &mut [Option<[f32; 2]>], columns: usize, rows: usize) {
    let mut label = vec![usize::MAX; nodes.len()];
    let mut best = (0, usize::MAX);
    for start in 0..nodes.len() {
        if nodes[start].is_none() || label[start] != usize::MAX {
            continue;
        }
        let mut stack = vec![start];
        label[start] = start;
        let mut size = 0;
        while let Some(n) = stack.pop() {
            size += 1;
            let (i, j) = (n % columns, n / columns);
            let mut visit = |m: usize| {
                if nodes[m].is_some() && label[m] == usize::MAX {
                    label[m] = start;
                    stack.push(m);
                }
            };
            if i > 0 {
                visit(n - 1);
            }
            if i + 1 < columns {
                visit(n + 1);
            }
            if j > 0 {
                visit(n - columns);
            }
            if j + 1 < rows {
                visit(n + columns);
            }
        }
        if size > best.0 {
            best = (size, start);
        }
    }
    for (n, l) in nodes.iter_mut().zip(&label) {
        if *l != best.1 {
            *n = None;
        }
    }
}

/// Fills missing crossings that have found ones on both sides along a line (glare, a
/// handwritten word, a thick trace), by the mean of the two sides, until none is left.
fn fill_holes(nodes: &mut [Option<[f32; 2]>], columns: usize, rows: usize) {
    loop {
        let mut filled = Vec::new();
        for j in 0..rows {
            for i in 0..columns {
                if nodes[j * columns + i].is_some() {
                    continue;
                }
                let at = |i: usize, j: usize| nodes[j * columns + i];
                let mut sum = [0f32; 2];
                let mut n = 0;
                if i > 0 && i + 1 < columns {
                    if let (Some(a), Some(b)) = (at(i - 1, j), at(i + 1, j)) {
                        sum = [sum[0] + a[0] + b[0], sum[1] + a[1] + b[1]];
                        n += 2;
                    }
                }
                if j > 0 && j + 1 < rows {
                    if let (Some(a), Some(b)) = (at(i, j - 1), at(i, j + 1)) {
                        sum = [sum[0] + a[0] + b[0], sum[1] + a[1] + b[1]];
                        n += 2;
                    }
                }
                if n > 0 {
                    filled.push((j * columns + i, [sum[0] / n as f32, sum[1] / n as f32]));
                }
            }
        }
        if filled.is_empty() {
            return;
        }
        for (k, p) in filled {
            nodes[k] = Some(p);
        }
    }
}

/// Adds one ring of crossings around the found ones, each continuing the line through its
/// two nearest found neighbours (the mean where both families give one).
fn extend_once(nodes: &mut [Option<[f32; 2]>], columns: usize, rows: usize) {
    let mut added = Vec::new();
    for j in 0..rows as i64 {
        for i in 0..columns as i64 {
            let at = |i: i64, j: i64| {
                if i < 0 || j < 0 || i >= columns as i64 || j >= rows as i64 {
                    None
                } else {
                    nodes[j as usize * columns + i as usize]
                }
            };
            if at(i, j).is_some() {
                continue;
            }
            let mut sum = [0f32; 2];
            let mut n = 0;
            for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                if let (Some(a), Some(b)) = (at(i + di, j + dj), at(i + 2 * di, j + 2 * dj)) {
                    sum = [sum[0] + 2.0 * a[0] - b[0], sum[1] + 2.0 * a[1] - b[1]];
                    n += 1;
                }
            }
            if n > 0 {
                added.push((
                    j as usize * columns + i as usize,
                    [sum[0] / n as f32, sum[1] / n as f32],
                ));
            }
        }
    }
    for (k, p) in added {
        nodes[k] = Some(p);
    }
}

/// The lattice cut to the rows and columns that hold crossings.
fn trim(nodes: Vec<Option<[f32; 2]>>, columns: usize, rows: usize) -> Option<Lattice> {
    let used = |k: usize| nodes[k].is_some();
    let cols: Vec<usize> = (0..columns)
        .filter(|&i| (0..rows).any(|j| used(j * columns + i)))
        .collect();
    let rws: Vec<usize> = (0..rows)
        .filter(|&j| (0..columns).any(|i| used(j * columns + i)))
        .collect();
    let (&c0, &c1, &r0, &r1) = (cols.first()?, cols.last()?, rws.first()?, rws.last()?);
    if c1 - c0 < 2 || r1 - r0 < 2 {
        return None;
    }
    let out_cols = c1 - c0 + 1;
    let nodes = (r0..=r1)
        .flat_map(|j| (c0..=c1).map(move |i| (i, j)))
        .map(|(i, j)| nodes[j * columns + i])
        .collect();
    Some(Lattice {
        columns: out_cols,
        rows: r1 - r0 + 1,
        nodes,
        period_px: 0.0,
        coverage: 0.0,
        bend_periods: 0.0,
        concentration: 0.0,
        solidity: 1.0,
    })
}

/// How far the crossings stray from the homography that fits them best, in periods (root
/// mean square): a flat page photographed at any angle has none.
fn bend(l: &Lattice) -> f32 {
    // Inner crossings only: the outer rings are extrapolated.
    let ring = 3;
    let pairs: Vec<Pair> = (ring..l.rows.saturating_sub(ring))
        .flat_map(|j| (ring..l.columns.saturating_sub(ring)).map(move |i| (i, j)))
        .filter_map(|(i, j)| l.node(i, j).map(|p| ((i as f32, j as f32), (p[0], p[1]))))
        .collect();
    if pairs.len() < 8 || l.period_px <= 0.0 {
        return 0.0;
    }
    let Some(h) = fit_homography(&pairs) else {
        return 0.0;
    };
    // Residuals averaged over neighbourhoods of crossings: a curl or a fold moves whole
    // regions, while the lattice's own errors (a minor line taken for a major one, glare)
    // scatter and average out. Then the median: a few misplaced crossings are no bend.
    let mut field = vec![None; l.columns * l.rows];
    for &((u, v), (x, y)) in &pairs {
        let (px, py) = apply_homography(&h, u as f64, v as f64);
        field[v as usize * l.columns + u as usize] = Some((x as f64 - px, y as f64 - py));
    }
    const REACH: usize = 2;
    let mut residuals: Vec<f64> = Vec::with_capacity(pairs.len());
    for &((u, v), _) in &pairs {
        let (i, j) = (u as usize, v as usize);
        let (mut sx, mut sy, mut n) = (0f64, 0f64, 0f64);
        for jj in j.saturating_sub(REACH)..(j + REACH + 1).min(l.rows) {
            for ii in i.saturating_sub(REACH)..(i + REACH + 1).min(l.columns) {
                if let Some((rx, ry)) = field[jj * l.columns + ii] {
                    sx += rx;
                    sy += ry;
                    n += 1.0;
                }
            }
        }
        residuals.push((sx * sx + sy * sy).sqrt() / n.max(1.0));
    }
    let mid = residuals.len() / 2;
    (*residuals.select_nth_unstable_by(mid, f64::total_cmp).1 / l.period_px as f64) as f32
}

/// A crossing's lattice position `(u, v)` and its image position `(x, y)`.
type Pair = ((f32, f32), (f32, f32));

/// Least-squares homography (direct linear transform, h33 = 1) from `(u, v)` to `(x, y)`,
/// with both sides normalised for conditioning.
fn fit_homography(pairs: &[Pair]) -> Option<[f64; 9]> {
    let n = pairs.len() as f64;
    let stats = |f: &dyn Fn(&Pair) -> (f64, f64)| {
        let (mut mx, mut my) = (0.0, 0.0);
        for p in pairs {
            let (x, y) = f(p);
            mx += x;
            my += y;
        }
        let (mx, my) = (mx / n, my / n);
        let mut s = 0.0;
        for p in pairs {
            let (x, y) = f(p);
            s += ((x - mx).powi(2) + (y - my).powi(2)).sqrt();
        }
        (mx, my, (s / n).max(1e-9))
    };
    let (ux, uy, us) = stats(&|p| (p.0 .0 as f64, p.0 .1 as f64));
    let (xx, xy, xs) = stats(&|p| (p.1 .0 as f64, p.1 .1 as f64));
    let mut ata = nalgebra::DMatrix::<f64>::zeros(8, 8);
    let mut atb = nalgebra::DVector::<f64>::zeros(8);
    for p in pairs {
        let (u, v) = ((p.0 .0 as f64 - ux) / us, (p.0 .1 as f64 - uy) / us);
        let (x, y) = ((p.1 .0 as f64 - xx) / xs, (p.1 .1 as f64 - xy) / xs);
        for (row, rhs) in [
            ([u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x], x),
            ([0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y], y),
        ] {
            for a in 0..8 {
                for b in 0..8 {
                    ata[(a, b)] += row[a] * row[b];
                }
                atb[a] += row[a] * rhs;
            }
        }
    }
    let h = ata.lu().solve(&atb)?;
    // Undo the normalisations: H = Tx⁻¹ · Hn · Tu.
    let hn = nalgebra::Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0);
    let tu = nalgebra::Matrix3::new(
        1.0 / us,
        0.0,
        -ux / us,
        0.0,
        1.0 / us,
        -uy / us,
        0.0,
        0.0,
        1.0,
    );
    let tx_inv = nalgebra::Matrix3::new(xs, 0.0, xx, 0.0, xs, xy, 0.0, 0.0, 1.0);
    let m = tx_inv * hn * tu;
    Some([
        m[(0, 0)],
        m[(0, 1)],
        m[(0, 2)],
        m[(1, 0)],
        m[(1, 1)],
        m[(1, 2)],
        m[(2, 0)],
        m[(2, 1)],
        m[(2, 2)],
    ])
}

fn apply_homography(h: &[f64; 9], u: f64, v: f64) -> (f64, f64) {
    let w = h[6] * u + h[7] * v + h[8];
    (
        (h[0] * u + h[1] * v + h[2]) / w,
        (h[3] * u + h[4] * v + h[5]) / w,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{render, synthetic_ecg, RenderOptions, Rendered};

    fn page(opts: RenderOptions) -> Rendered {
        render(&synthetic_ecg(3, 72.0, 10.0, 500.0), &opts)
    }

    /// Where the 5 mm grid's crossings lie in the rendered image.
    fn true_crossings(p: &Rendered) -> Vec<(f32, f32)> {
        let g = &p.geometry;
        let step = 5.0 * g.px_per_mm;
        let (nx, ny) = (
            (g.width_px as f32 / step) as usize,
            (g.height_px as f32 / step) as usize,
        );
        (0..=ny)
            .flat_map(|j| (0..=nx).map(move |i| (i as f32 * step, j as f32 * step)))
            .map(|(x, y)| g.to_image(x, y))
            .collect()
    }

    #[test]
    fn a_flat_scan_is_told_at_a_glance() {
        let l = find(&page(RenderOptions::default()).image, &Default::default()).expect("a grid");
        assert_eq!(l.columns, 0, "no crossings traced on a flat page");
        assert!(l.concentration >= 0.85, "{}", l.concentration);
    }

    #[test]
    fn a_curled_major_only_page_on_a_desk_is_traced_crossing_by_crossing() {
        let p = page(RenderOptions {
            curl: 0.02,
            desk_margin: 0.1,
            rotation_deg: 6.0,
            grid_minor_rgb: None,
            seed: 3,
            ..Default::default()
        });
        let l = find(&p.image, &Default::default()).expect("a grid");
        let truth = true_crossings(&p);
        let period = 5.0 * p.geometry.px_per_mm;
        assert!(
            (l.period_px / period - 1.0).abs() < 0.05,
            "period {}",
            l.period_px
        );
        assert!(l.bend_periods >= 0.08, "bend {}", l.bend_periods);
        // The crossings lie on the grid's own (the renderer's pixel centres are at halves),
        // over most of the sheet.
        let misses: Vec<f32> = l
            .nodes
            .iter()
            .flatten()
            .map(|&[x, y]| {
                truth
                    .iter()
                    .map(|&(tx, ty)| libm::hypotf(tx - 0.5 - x, ty - 0.5 - y))
                    .fold(f32::MAX, f32::min)
            })
            .collect();
        let on_grid: Vec<f32> = misses.iter().copied().filter(|&m| m < 1.5).collect();
        assert!(
            on_grid.len() as f32 > 0.8 * truth.len() as f32,
            "{} of {} crossings found",
            on_grid.len(),
            truth.len()
        );
        let mean = on_grid.iter().sum::<f32>() / on_grid.len() as f32;
        assert!(mean < 0.5, "crossings {mean:.2} px off on average");
    }

    /// Lines every 40 px (crossings at 20 + 40 k), and along the vertical line x = 220 over
    /// rows `ys` a darker vertical stroke 4 px to its right, as an R wave drawn beside a
    /// line: how far the refined crossings move, at most.
    fn crossings_moved_by_a_stroke_beside_a_line(ys: std::ops::Range<usize>) -> f32 {
        let (period, n) = (40.0, 14);
        let line = |d: f32| (1.0 - (d / 1.5).powi(2)).max(0.0);
        let mut g = Plane::new(600, 600, 0.0);
        for y in 0..600 {
            for x in 0..600 {
                let off =
                    |c: usize| (c as f32 - 20.0 + period / 2.0).rem_euclid(period) - period / 2.0;
                let mut v = 0.5 * line(off(x)).max(line(off(y)));
                if ys.contains(&y) {
                    v = v.max(line(x as f32 - 224.0));
                }
                g.set(x, y, v);
            }
        }
        let mut l = Lattice {
            columns: n,
            rows: n,
            nodes: (0..n)
                .flat_map(|j| (0..n).map(move |i| (i, j)))
                .map(|(i, j)| Some([20.0 + period * i as f32, 20.0 + period * j as f32]))
                .collect(),
            period_px: period,
            coverage: 1.0,
            bend_periods: 0.0,
            concentration: 0.0,
            solidity: 1.0,
        };
        let before = l.nodes.clone();
        l.refine(&[&g], &Default::default());
        before
            .iter()
            .zip(&l.nodes)
            .map(|(a, b)| {
                let (a, b) = (a.unwrap(), b.unwrap());
                libm::hypotf(a[0] - b[0], a[1] - b[1])
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_stroke_of_trace_beside_a_grid_line_does_not_pull_the_crossings() {
        // One stretch of the line.
        let moved = crossings_moved_by_a_stroke_beside_a_line(140..180);
        assert!(moved < 0.3, "a crossing moved {moved} px");
    }

    #[test]
    fn a_tall_stroke_beside_a_grid_line_does_not_pull_the_crossings() {
        // Four stretches in a row (a 2 mV R wave at 10 mm/mV on a 5 mm grid), which agree
        // with each other along the line but not with the lines either side. Followed, it
        // bent the line onto the stroke and shifted the QRS 5 px on the flat page (ph011).
        let moved = crossings_moved_by_a_stroke_beside_a_line(140..300);
        assert!(moved < 0.3, "a crossing moved {moved} px");
    }

    /// A plane with lines every 40 px (crossings at 20 + 40 k), of strength `ink`, and a
    /// 14 x 14 lattice whose crossings lie `shift` px right of them.
    fn lines_and_shifted_lattice(ink: f32, shift: f32) -> (Plane, Lattice) {
        let (period, n) = (40.0, 14);
        let line = |d: f32| (1.0 - (d / 1.5).powi(2)).max(0.0);
        let off = |c: usize| (c as f32 - 20.0 + period / 2.0).rem_euclid(period) - period / 2.0;
        let mut g = Plane::new(600, 600, 0.0);
        for y in 0..600 {
            for x in 0..600 {
                g.set(x, y, ink * line(off(x)).max(line(off(y))));
            }
        }
        let l = Lattice {
            columns: n,
            rows: n,
            nodes: (0..n)
                .flat_map(|j| (0..n).map(move |i| (i, j)))
                .map(|(i, j)| Some([20.0 + shift + period * i as f32, 20.0 + period * j as f32]))
                .collect(),
            period_px: period,
            coverage: 1.0,
            bend_periods: 0.0,
            concentration: 0.0,
            solidity: 1.0,
        };
        (g, l)
    }

    #[test]
    fn lines_washed_out_in_colour_are_followed_in_darkness() {
        // The colour plane shows no line (a washed-out tint); the darkness plane shows them
        // 3 px left of where the lattice has them.
        let (dark, mut l) = lines_and_shifted_lattice(0.5, 3.0);
        let colour = Plane::new(600, 600, 0.0);
        l.refine(&[&colour, &dark], &Default::default());
        // The outermost crossings have no paper beyond them to measure their lines across.
        for (k, n) in l.nodes.iter().enumerate() {
            let [x, y] = n.unwrap();
            let (i, j) = (k % l.columns, k / l.columns);
            if i == 0 || j == 0 || i + 1 == l.columns || j + 1 == l.rows {
                continue;
            }
            let moved = libm::hypotf(x - (20.0 + 40.0 * i as f32), y - (20.0 + 40.0 * j as f32));
            assert!(moved < 0.5, "crossing ({i}, {j}) at {x}, {y}");
        }
    }

    #[test]
    fn the_plane_the_lattice_was_found_in_is_kept_unless_the_other_is_clearly_better() {
        // Both planes show every line, the second more faintly but no more smoothly: the
        // first decides (and both put the lines where they are).
        let (colour, mut l) = lines_and_shifted_lattice(0.5, 3.0);
        let (faint, _) = lines_and_shifted_lattice(0.2, 3.0);
        let measure = |g: &Plane, l: &Lattice| {
            let mut l = l.clone();
            l.refine(&[g], &Default::default());
            l.nodes
        };
        let alone = measure(&colour, &l);
        l.refine(&[&colour, &faint], &Default::default());
        assert_eq!(l.nodes, alone);
        // Stretch by stretch: a line measured roughly is not followed over a smooth one
        // that shows as many stretches.
        let smooth = Measured::new(vec![Some(0.0); 12], vec![Some(0.0); 12], 4, 4);
        let rough = Measured::new(
            (0..12).map(|k| Some(0.05 * (k / 4 % 2) as f32)).collect(),
            vec![Some(0.0); 12],
            4,
            4,
        );
        assert!(smooth.roughness < rough.roughness);
        assert_eq!((smooth.count, rough.count), (24, 24));
    }

    #[test]
    fn a_corner_whose_grid_lost_its_tint_is_found_in_darkness() {
        // ph006: light of another colour over a corner of the sheet left its grid grey there;
        // the colour lattice stops at the corner (a bay), and its cells read as desk.
        let mut p = page(RenderOptions {
            curl: 0.015,
            desk_margin: 0.1,
            grid_minor_rgb: None,
            seed: 9,
            ..Default::default()
        });
        let (w, h) = p.image.dimensions();
        for (x, y, px) in p.image.enumerate_pixels_mut() {
            if x > w / 2 && y < h / 2 {
                let grey = ((px[0] as u32 + px[1] as u32 + px[2] as u32) / 3) as u8;
                *px = image::Rgb([grey; 3]);
            }
        }
        let colour_only = LatticeOptions {
            min_solidity: 0.0,
            ..Default::default()
        };
        let l = find(&p.image, &colour_only).expect("a grid");
        assert!(l.solidity < 0.92, "colour alone: solidity {}", l.solidity);
        let l = find(&p.image, &Default::default()).expect("a grid");
        assert!(l.solidity >= 0.92, "solidity {}", l.solidity);
        let corner: Vec<(f32, f32)> = true_crossings(&p)
            .into_iter()
            .filter(|&(x, y)| x > 0.6 * w as f32 && y < 0.4 * h as f32)
            .collect();
        let found = corner
            .iter()
            .filter(|&&(tx, ty)| {
                l.nodes
                    .iter()
                    .flatten()
                    .any(|&[x, y]| libm::hypotf(tx - 0.5 - x, ty - 0.5 - y) < 1.5)
            })
            .count();
        assert!(
            found as f32 > 0.8 * corner.len() as f32,
            "{found} of {} crossings in the corner",
            corner.len()
        );
    }

    #[test]
    fn paper_without_a_grid_has_no_lattice() {
        let blank = RgbImage::from_pixel(800, 600, image::Rgb([250, 250, 245]));
        assert!(find(&blank, &Default::default()).is_none());
    }

    #[test]
    fn a_homography_explains_a_perspective_but_not_a_bend() {
        let lattice = |f: &dyn Fn(f32, f32) -> [f32; 2]| Lattice {
            columns: 20,
            rows: 15,
            nodes: (0..15)
                .flat_map(|j| (0..20).map(move |i| (i as f32, j as f32)))
                .map(|(i, j)| Some(f(i, j)))
                .collect(),
            period_px: 40.0,
            coverage: 1.0,
            bend_periods: 0.0,
            concentration: 0.0,
            solidity: 1.0,
        };
        let tilted = lattice(&|i, j| {
            let w = 1.0 + 0.01 * i + 0.005 * j;
            [(100.0 + 40.0 * i + 3.0 * j) / w, (50.0 + 40.0 * j) / w]
        });
        assert!(bend(&tilted) < 0.01, "{}", bend(&tilted));
        // Rows sagging 10 px (a quarter period) in the middle against the edges.
        let curled = lattice(&|i, j| [40.0 * i, 40.0 * j + 0.1 * (i - 10.0).powi(2)]);
        assert!(bend(&curled) > 0.02, "{}", bend(&curled));
    }

    #[test]
    fn a_bay_of_lost_tiles_at_the_lattice_edge_is_bridged() {
        // A straight 16 px grid, its tiles lost in a bay 5 cells deep and 6 high at the
        // right edge (ph006: a crumpled corner blanked a panel's whole trace).
        let (step, period, depth) = (24.0, 16.0, 5);
        let last_x = 16.0 + step * 29.0;
        let bay_y = 200.0..300.0;
        let in_bay = |c: &[f32; 2]| c[0] > last_x - depth as f32 * period && bay_y.contains(&c[1]);
        let tiles: Vec<Tile> = (0..20)
            .flat_map(|y| (0..30).map(move |x| [16.0 + step * x as f32, 16.0 + step * y as f32]))
            .filter(|c| !in_bay(c))
            .map(|c| Tile {
                centre: c,
                k: [[1.0 / period, 0.0], [0.0, 1.0 / period]],
                uv: [c[0] / period, c[1] / period],
                quality: 0.5,
            })
            .collect();
        let l = crossings(&tiles, step, &LatticeOptions::default()).expect("a lattice");
        // Node (i, j) is line u = i0 + i, v = j0 + j: the offsets from any node found.
        let first = (0..l.nodes.len()).find(|&n| l.nodes[n].is_some()).unwrap();
        let p = l.nodes[first].unwrap();
        let (i0, j0) = (
            (p[0] / period).round() as i64 - (first % l.columns) as i64,
            (p[1] / period).round() as i64 - (first / l.columns) as i64,
        );
        let right = (last_x / period).floor() as i64;
        for v in (bay_y.start / period).ceil() as i64..=(bay_y.end / period).floor() as i64 {
            for u in right - depth..=right {
                let (i, j) = ((u - i0) as usize, (v - j0) as usize);
                let n = l
                    .node(i, j)
                    .unwrap_or_else(|| panic!("no crossing ({u}, {v})"));
                let miss = (n[0] - u as f32 * period).hypot(n[1] - v as f32 * period);
                assert!(miss < 0.05 * period, "({u}, {v}) {n:?}");
            }
        }
    }

    #[test]
    fn smoothing_reduces_crossing_noise_and_keeps_an_affine_grid() {
        // A sheared, stretched 20x15 grid: the affine part of a page's perspective.
        let (cols, rows) = (20, 15);
        let ideal = |i: usize, j: usize| {
            let (u, v) = (i as f32, j as f32);
            [30.0 + 41.0 * u + 3.0 * v, 12.0 - 2.0 * u + 39.5 * v]
        };
        let lattice = |noise: f32| Lattice {
            columns: cols,
            rows,
            nodes: (0..rows)
                .flat_map(|j| (0..cols).map(move |i| (i, j)))
                .map(|(i, j)| {
                    // Deterministic jitter, uncorrelated from one crossing to the next.
                    let h = ((i * 7919 + j * 104_729) % 1000) as f32 / 1000.0 - 0.5;
                    let g = ((i * 15_485_863 + j * 32_452_843) % 1000) as f32 / 1000.0 - 0.5;
                    let p = ideal(i, j);
                    Some([p[0] + noise * h, p[1] + noise * g])
                })
                .collect(),
            period_px: 40.0,
            coverage: 1.0,
            bend_periods: 0.0,
            concentration: 0.0,
            solidity: 1.0,
        };
        let rms = |l: &Lattice| {
            let inner: Vec<f32> = (1..rows - 1)
                .flat_map(|j| (1..cols - 1).map(move |i| (i, j)))
                .map(|(i, j)| {
                    let (n, p) = (l.node(i, j).unwrap(), ideal(i, j));
                    (n[0] - p[0]).powi(2) + (n[1] - p[1]).powi(2)
                })
                .collect();
            (inner.iter().sum::<f32>() / inner.len() as f32).sqrt()
        };
        let mut clean = lattice(0.0);
        clean.smooth(LatticeOptions::default().smooth_weight);
        assert!(rms(&clean) < 1e-3, "an affine grid moved: {}", rms(&clean));
        let mut noisy = lattice(1.0);
        let before = rms(&noisy);
        noisy.smooth(LatticeOptions::default().smooth_weight);
        let after = rms(&noisy);
        assert!(after < 0.8 * before, "noise {before} -> {after}");
    }

    #[test]
    fn a_bay_in_the_found_crossings_lowers_the_solidity() {
        // A 10 x 8 block of crossings, then the same with a 5 x 4 corner cut out.
        let (columns, rows) = (12, 10);
        let block = |i: usize, j: usize| (1..11).contains(&i) && (1..9).contains(&j);
        let nodes: Vec<Option<[f32; 2]>> = (0..rows)
            .flat_map(|j| (0..columns).map(move |i| block(i, j).then_some([i as f32, j as f32])))
            .collect();
        assert_eq!(solidity(&nodes, columns), 1.0);
        let bay: Vec<Option<[f32; 2]>> = nodes
            .iter()
            .enumerate()
            .map(|(k, n)| n.filter(|_| !(k % columns >= 6 && k / columns <= 4)))
            .collect();
        // The hull of the 60 left, from (1, 1) over (5, 1) and (10, 5) to (10, 8) and (1, 8),
        // holds 66 positions: those of the bay its diagonal edge leaves inside.
        let s = solidity(&bay, columns);
        assert!((s - 60.0 / 66.0).abs() < 1e-6, "{s}");
    }
}
