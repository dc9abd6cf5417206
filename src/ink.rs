//! Stage 3a, ink: flatten the paper and score every pixel as trace ink or not.
//!
//! Paper brightness is estimated per colour channel as a high percentile over coarse
//! blocks, so shadows, creases and colour casts divide out. Trace ink is dark in every
//! channel, while coloured grid ink leaves at least one channel bright: the darkness of
//! the *brightest* channel therefore separates trace from grid by colour. Grey grids are
//! separated later by level (see [`InkLevels`]).

use crate::raster::{histogram_median, level_bin, Plane};
use image::RgbImage;

/// Tuning knobs for paper flattening.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InkOptions {
    /// Side of the square blocks over which paper brightness is estimated, in pixels.
    pub block_px: usize,
    /// Percentile of a block's values taken as its paper level; above the grid's share.
    pub paper_percentile: f32,
    /// Paper darker than this (0–1) is treated as no page at all, e.g. rotation fill.
    pub min_paper_level: f32,
    /// Pages whose ink plane is noisier than this (pixel standard deviation, 0–1) are
    /// smoothed before any ink is read: photos in poor light, photocopies, strong JPEG grain.
    pub denoise_above: f32,
    /// Most smoothing applied, as a Gaussian sigma in pixels.
    pub max_denoise_sigma_px: f32,
    /// Gaussian sigma, in pixels, of the smoothing along columns only that makes the stroke
    /// plane of a smoothed page (0: no stroke plane).
    pub stroke_sigma_px: f32,
    /// Noise counts as white, independent from pixel to pixel, when differences of pixels two
    /// apart spread at most this many times as far as those of neighbours: as far for white
    /// noise, up to twice as far for smooth grain. Only white noise averages out along a
    /// one-pixel stroke; a photo's grain does not (1.27–1.71 on the real photos seen,
    /// 1.0–1.11 on noisy generated pages), and its darker grid lines are strokes too.
    pub max_white_noise_ratio: f32,
}

impl Default for InkOptions {
    fn default() -> Self {
        InkOptions {
            block_px: 16,
            paper_percentile: 0.8,
            min_paper_level: 0.15,
            denoise_above: 0.035,
            max_denoise_sigma_px: 1.5,
            stroke_sigma_px: 2.5,
            max_white_noise_ratio: 1.2,
        }
    }
}

/// Per-pixel scores on the flattened page, all 0 (paper) to 1 (black).
#[derive(Debug, Clone)]
pub struct InkPlanes {
    /// Darkness of the brightest channel: high only for neutral dark ink (trace, text).
    pub ink: Plane,
    /// Darkness of the darkest channel: high for grid, trace and text alike.
    pub mark: Plane,
    /// Standard deviation of the pixel noise measured on the ink plane, before smoothing.
    pub noise: f32,
    /// Gaussian sigma, in pixels, the planes were smoothed with (0: not smoothed).
    pub smoothed_px: f32,
    /// Whether the page's noise is white (see [`InkOptions::max_white_noise_ratio`]).
    pub white_noise: bool,
    /// On a page smoothed for white noise, the ink plane before smoothing, for
    /// [`stroke_plane`] where the page's scale calls for one.
    pub unsmoothed: Option<Plane>,
}

/// Flattens the paper and computes the ink and mark planes.
pub fn separate(image: &RgbImage, opts: &InkOptions) -> InkPlanes {
    separate_noise(image, opts, None)
}

/// Like [`separate`], on a resampled (deskewed or turned) copy of a page whose own planes
/// found `white_noise`: interpolation mixes neighbouring pixels, so the copy's noise is no
/// longer white even where the page's was.
pub fn separate_resampled(image: &RgbImage, opts: &InkOptions, white_noise: bool) -> InkPlanes {
    separate_noise(image, opts, Some(white_noise))
}

fn separate_noise(image: &RgbImage, opts: &InkOptions, white_noise: Option<bool>) -> InkPlanes {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let paper = paper_levels(image, opts);
    let mut ink = Plane::new(w, h, 0.0);
    let mut mark = Plane::new(w, h, 0.0);
    let raw = image.as_raw();
    // Reciprocal paper levels per block (0 where there is no page), interpolated bilinearly:
    // the same horizontal weights serve every row.
    let inv: Vec<[f32; 3]> = paper
        .levels
        .iter()
        .map(|lv| {
            if lv[0].max(lv[1]).max(lv[2]) < opts.min_paper_level {
                [0.0; 3]
            } else {
                lv.map(|l| 1.0 / (255.0 * l.max(0.02)))
            }
        })
        .collect();
    let axis = |i: usize, blocks: usize| {
        let f = ((i as f32 + 0.5) / paper.block as f32 - 0.5).clamp(0.0, (blocks - 1) as f32);
        let i0 = f.floor() as usize;
        (i0, (i0 + 1).min(blocks - 1), f - i0 as f32)
    };
    let xs: Vec<(usize, usize, f32)> = (0..w).map(|x| axis(x, paper.bw)).collect();
    // Runs of columns between the same two block centres: their weights and the page test
    // are fixed along a run, which leaves a loop without branches per pixel.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (x, &(x0, _, _)) in xs.iter().enumerate() {
        match spans.last_mut() {
            Some(span) if xs[span.0].0 == x0 => span.1 = x + 1,
            _ => spans.push((x, x + 1)),
        }
    }
    let mut row_inv = vec![[0f32; 3]; paper.bw];
    for y in 0..h {
        let (y0, y1, ty) = axis(y, paper.bh);
        for (bx, r) in row_inv.iter_mut().enumerate() {
            let (a, b) = (inv[y0 * paper.bw + bx], inv[y1 * paper.bw + bx]);
            *r = [0, 1, 2].map(|c| a[c] * (1.0 - ty) + b[c] * ty);
        }
        let pixels = &raw[y * w * 3..(y + 1) * w * 3];
        let (ink_row, mark_row) = (
            &mut ink.data[y * w..(y + 1) * w],
            &mut mark.data[y * w..(y + 1) * w],
        );
        for &(start, end) in &spans {
            let (x0, x1, _) = xs[start];
            let (a, b) = (row_inv[x0], row_inv[x1]);
            if a[0] == 0.0 || b[0] == 0.0 {
                continue; // no page here (rotation fill, background)
            }
            let d = [0, 1, 2].map(|c| b[c] - a[c]);
            let columns = ink_row[start..end]
                .iter_mut()
                .zip(&mut mark_row[start..end])
                .zip(pixels[start * 3..end * 3].chunks_exact(3))
                .zip(&xs[start..end]);
            for (((ink_px, mark_px), p), &(_, _, tx)) in columns {
                let n = [0, 1, 2].map(|c| (p[c] as f32 * (a[c] + d[c] * tx)).min(1.0));
                *ink_px = 1.0 - n[0].max(n[1]).max(n[2]);
                *mark_px = 1.0 - n[0].min(n[1]).min(n[2]);
            }
        }
    }
    let spread = difference_spread(&ink, 1);
    let noise = spread / NEIGHBOUR_SPREAD_PER_SIGMA;
    let sigma = denoise_sigma(noise, opts);
    let white_noise = white_noise
        .unwrap_or_else(|| difference_spread(&ink, 2) <= opts.max_white_noise_ratio * spread);
    let mut unsmoothed = None;
    if sigma > 0.0 {
        if white_noise && opts.stroke_sigma_px > 0.0 {
            unsmoothed = Some(ink.clone());
        }
        ink = blur(ink, sigma);
        mark = blur(mark, sigma);
    }
    InkPlanes {
        ink,
        mark,
        noise,
        smoothed_px: sigma,
        white_noise,
        unsmoothed,
    }
}

/// How much to smooth a page whose ink plane carries `noise` (its pixel standard deviation):
/// nothing on clean scans, and on noisy ones enough to bring the noise back under the
/// threshold, within the largest blur a 1 px trace survives.
fn denoise_sigma(noise: f32, opts: &InkOptions) -> f32 {
    if noise <= opts.denoise_above {
        return 0.0;
    }
    // A Gaussian of sigma s divides white noise by about 2·sqrt(pi)·s.
    let s = noise / (opts.denoise_above * 2.0 * std::f32::consts::PI.sqrt());
    s.clamp(
        opts.max_denoise_sigma_px.min(0.7),
        opts.max_denoise_sigma_px,
    )
}

type FloatImage = image::ImageBuffer<image::Luma<f32>, Vec<f32>>;

fn as_image(p: Plane) -> FloatImage {
    FloatImage::from_raw(p.width as u32, p.height as u32, p.data).expect("plane size")
}

fn as_plane(img: FloatImage) -> Plane {
    Plane {
        width: img.width() as usize,
        height: img.height() as usize,
        data: img.into_raw(),
    }
}

fn blur(p: Plane, sigma: f32) -> Plane {
    as_plane(imageproc::filter::gaussian_blur_f32(&as_image(p), sigma))
}

/// The stroke plane of a page's [`InkPlanes::unsmoothed`] ink: a Gaussian of
/// [`InkOptions::stroke_sigma_px`] along columns only, summed row by row. A steep one-pixel
/// stroke keeps its contrast there, which the round blur spreads over its neighbours, while
/// the noise still averages out along the stroke.
pub fn stroke_plane(unsmoothed: &Plane, opts: &InkOptions) -> Plane {
    let sigma = opts.stroke_sigma_px;
    let r = (2.5 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-r..=r)
        // libm, not std: the same bits natively and in wasm.
        .map(|i| libm::expf(-(i * i) as f32 / (2.0 * sigma * sigma)))
        .collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.into_iter().map(|k| k / sum).collect();
    let (w, h) = (unsmoothed.width, unsmoothed.height);
    let mut out = Plane::new(w, h, 0.0);
    for y in 0..h {
        let dst = &mut out.data[y * w..(y + 1) * w];
        for (i, &k) in kernel.iter().enumerate() {
            // Rows past the edges repeat the edge row.
            let sy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
            for (d, &s) in dst.iter_mut().zip(unsmoothed.row(sy)) {
                *d += k * s;
            }
        }
    }
    out
}

/// Standard deviation of pixel noise in a plane, from the median absolute difference of
/// horizontal neighbours (robust to the few pixels of lines and traces).
pub fn noise_level(p: &Plane) -> f32 {
    difference_spread(p, 1) / NEIGHBOUR_SPREAD_PER_SIGMA
}

/// Median absolute difference of two neighbours per unit of Gaussian noise.
const NEIGHBOUR_SPREAD_PER_SIGMA: f32 = 0.6745 * std::f32::consts::SQRT_2;

/// Median absolute difference of pixels `lag` apart along rows.
fn difference_spread(p: &Plane, lag: usize) -> f32 {
    // Fifty rows are plenty for a median, and cheap.
    let mut diffs: Vec<f32> = Vec::new();
    let step = (p.height / 50).max(1);
    for y in (0..p.height).step_by(step) {
        let row = p.row(y);
        diffs.extend(
            row.iter()
                .zip(row.iter().skip(lag))
                .map(|(a, b)| (b - a).abs()),
        );
    }
    if diffs.is_empty() {
        return 0.0;
    }
    let mid = diffs.len() / 2;
    let (_, m, _) = diffs.select_nth_unstable_by(mid, f32::total_cmp);
    *m
}

/// Takes from every column of `p` its own background, the median over blocks of
/// `block_px` rows (interpolated between blocks), where that lies above `floor`: a vertical
/// grid line or a dotted separator is then no stroke, while a stroke shorter than half a
/// block keeps its level.
pub fn remove_column_background(p: &mut Plane, block_px: usize, floor: f32) {
    const BINS: usize = 64;
    let (w, h) = (p.width, p.height);
    let block_px = block_px.max(1);
    let blocks = h.div_ceil(block_px);
    let mut background = vec![0f32; w * blocks];
    let mut hist = vec![[0u32; BINS]; w];
    for b in 0..blocks {
        hist.iter_mut().for_each(|c| *c = [0; BINS]);
        let rows = b * block_px..((b + 1) * block_px).min(h);
        let n = rows.len();
        for y in rows {
            for (c, &v) in hist.iter_mut().zip(p.row(y)) {
                c[level_bin(v, BINS)] += 1;
            }
        }
        for (x, c) in hist.iter().enumerate() {
            background[b * w + x] = histogram_median(c, n);
        }
    }
    for y in 0..h {
        let f = ((y as f32 + 0.5) / block_px as f32 - 0.5).clamp(0.0, (blocks - 1) as f32);
        let b0 = f.floor() as usize;
        let b1 = (b0 + 1).min(blocks - 1);
        let t = f - b0 as f32;
        let (r0, r1) = (&background[b0 * w..][..w], &background[b1 * w..][..w]);
        for ((v, &g0), &g1) in p.data[y * w..(y + 1) * w].iter_mut().zip(r0).zip(r1) {
            let g = g0 + (g1 - g0) * t;
            *v = (*v - (g - floor).max(0.0)).max(0.0);
        }
    }
}

/// Paper brightness per channel on a coarse block grid.
struct PaperLevels {
    block: usize,
    bw: usize,
    bh: usize,
    levels: Vec<[f32; 3]>,
}

fn paper_levels(image: &RgbImage, opts: &InkOptions) -> PaperLevels {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let block = opts.block_px.max(2);
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    let raw = image.as_raw();
    let mut levels = vec![[1f32; 3]; bw * bh];
    // Two histograms per channel, for even and odd columns: neighbouring pixels of blank
    // paper share a value, and counting both into one bin would make each count wait for
    // the last.
    let mut hist = vec![[0u32; 256]; 6];
    for by in 0..bh {
        for bx in 0..bw {
            for hc in hist.iter_mut() {
                hc.fill(0);
            }
            let (x0, x1) = (bx * block, ((bx + 1) * block).min(w));
            let (y0, y1) = (by * block, ((by + 1) * block).min(h));
            for y in y0..y1 {
                for x in x0..x1 {
                    let i = (y * w + x) * 3;
                    for c in 0..3 {
                        hist[2 * c + (x & 1)][raw[i + c] as usize] += 1;
                    }
                }
            }
            let count = ((x1 - x0) * (y1 - y0)) as u32;
            let target = (count as f32 * opts.paper_percentile) as u32;
            for c in 0..3 {
                // The least value with more than `target` pixels at or below it, found from
                // the top: paper is the bright end, so the walk is short.
                let (even, odd) = (&hist[2 * c], &hist[2 * c + 1]);
                // Fewer than this many pixels may lie above the level.
                let room = count.saturating_sub(target);
                let mut v = 255usize;
                let mut above = 0u32;
                while v > 0 && above + even[v] + odd[v] < room {
                    above += even[v] + odd[v];
                    v -= 1;
                }
                levels[by * bw + bx][c] = v as f32 / 255.0;
            }
        }
    }
    PaperLevels {
        block,
        bw,
        bh,
        levels: median3x3(&levels, bw, bh),
    }
}

/// Per-channel 3×3 median over the block grid, so a block full of ink borrows its neighbours'.
fn median3x3(levels: &[[f32; 3]], bw: usize, bh: usize) -> Vec<[f32; 3]> {
    let mut out = levels.to_vec();
    let mut buf = Vec::with_capacity(9);
    for by in 0..bh {
        for bx in 0..bw {
            for c in 0..3 {
                buf.clear();
                for dy in -1i32..=1 {
                    for dx in -1i32..=1 {
                        let (x, y) = (bx as i32 + dx, by as i32 + dy);
                        if x >= 0 && y >= 0 && (x as usize) < bw && (y as usize) < bh {
                            buf.push(levels[y as usize * bw + x as usize][c]);
                        }
                    }
                }
                buf.sort_by(f32::total_cmp);
                out[by * bw + bx][c] = buf[buf.len() / 2];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn black_trace_scores_high_and_red_grid_low() {
        let img = RgbImage::from_fn(64, 64, |x, y| {
            if y == 30 {
                Rgb([20, 20, 20])
            } else if x % 8 == 0 {
                Rgb([255, 0, 0])
            } else {
                Rgb([255, 250, 245])
            }
        });
        let p = separate(&img, &InkOptions::default());
        assert!(p.ink.get(5, 30) > 0.85);
        assert!(p.ink.get(8, 10) < 0.05);
        assert!(p.mark.get(8, 10) > 0.9);
        assert!(p.ink.get(5, 10) < 0.05);
    }

    /// Deterministic pixel noise, uniform in ±`amp` (standard deviation amp/√3).
    fn noisy(w: u32, h: u32, amp: f32) -> RgbImage {
        let mut state = 12345u64;
        RgbImage::from_fn(w, h, |_, _| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 40) as f32 / (1u64 << 24) as f32;
            let v = (200.0 + amp * (2.0 * u - 1.0)).clamp(0.0, 255.0) as u8;
            Rgb([v, v, v])
        })
    }

    #[test]
    fn noise_level_reads_the_pixel_noise() {
        let p = separate(&noisy(300, 300, 0.0), &InkOptions::default());
        assert_eq!(noise_level(&p.ink), 0.0);
        let img = noisy(300, 300, 40.0);
        let opts = InkOptions {
            denoise_above: 1.0, // measure only
            ..InkOptions::default()
        };
        let p = separate(&img, &opts);
        // Paper at 200 of 255 with ±40 noise: ink noise 40/√3 of the paper level.
        let expect = 40.0 / 3f32.sqrt() / 200.0;
        assert!(
            (p.noise / expect - 1.0).abs() < 0.15,
            "{} vs {expect}",
            p.noise
        );
    }

    #[test]
    fn a_noisy_page_is_smoothed_and_a_clean_one_is_not() {
        let clean = separate(&noisy(200, 200, 0.0), &InkOptions::default());
        assert_eq!(clean.smoothed_px, 0.0);
        let rough = separate(&noisy(200, 200, 60.0), &InkOptions::default());
        assert!(rough.smoothed_px > 0.0);
        assert!(noise_level(&rough.ink) < 0.5 * rough.noise);
    }

    /// `noisy`, with its noise drawn per 3x3 block and interpolated: grain, as in a photo.
    fn grainy(w: u32, h: u32, amp: f32) -> RgbImage {
        let coarse = noisy(w.div_ceil(3), h.div_ceil(3), amp);
        image::imageops::resize(&coarse, w, h, image::imageops::FilterType::Triangle)
    }

    #[test]
    fn white_noise_is_told_from_photo_grain() {
        let white = separate(&noisy(300, 300, 80.0), &InkOptions::default());
        assert!(white.smoothed_px > 0.0 && white.white_noise);
        assert!(white.unsmoothed.is_some());
        let grain = separate(&grainy(300, 300, 80.0), &InkOptions::default());
        assert!(grain.smoothed_px > 0.0, "{}", grain.noise);
        assert!(!grain.white_noise && grain.unsmoothed.is_none());
        // A resampled copy keeps the verdict of its original.
        let copy = separate_resampled(&grainy(300, 300, 80.0), &InkOptions::default(), true);
        assert!(copy.white_noise && copy.unsmoothed.is_some());
    }

    #[test]
    fn a_faint_steep_stroke_lost_in_white_noise_is_whole_in_the_stroke_plane() {
        // A one-pixel grey stroke 60 px tall (a QRS at 100 DPI) under strong white noise: the
        // round blur spreads it below the threshold, smoothing along the column does not.
        let (x0, rows) = (40u32, 270u32..330);
        let mut img = noisy(80, 600, 90.0);
        for y in rows.clone() {
            let p = img.get_pixel_mut(x0, y);
            p.0 = p.0.map(|v| (v as f32 - 100.0).max(0.0) as u8);
        }
        let mut planes = separate(&img, &InkOptions::default());
        let longest = |runs: &ColumnRuns| {
            (x0 - 1..=x0 + 1)
                .flat_map(|x| runs.columns[x as usize].iter())
                .filter(|r| r.bottom >= rows.start && r.top < rows.end)
                .map(|r| r.bottom.min(rows.end - 1) + 1 - r.top.max(rows.start))
                .max()
                .unwrap_or(0)
        };
        let level = 0.4;
        let plain = ColumnRuns::build(&planes.ink, level, |v| v);
        let unsmoothed = planes
            .unsmoothed
            .take()
            .expect("white noise keeps the unsmoothed plane");
        let strokes = stroke_plane(&unsmoothed, &InkOptions::default());
        let with =
            ColumnRuns::build_hysteresis(&planes.ink, Some((&strokes, level)), level, level, |v| v);
        let n = rows.len() as u32;
        assert!(longest(&plain) * 2 < n, "plain {} of {n}", longest(&plain));
        assert!(
            longest(&with) * 10 >= n * 9,
            "with strokes {} of {n}",
            longest(&with)
        );
    }

    #[test]
    fn column_background_takes_out_long_lines_and_keeps_short_strokes() {
        let mut p = Plane::new(40, 600, 0.02);
        for y in 0..600 {
            p.data[y * 40 + 10] = 0.4; // a grid line down the page
        }
        for y in 300..360 {
            p.data[y * 40 + 20] = 0.4; // a QRS stroke
        }
        remove_column_background(&mut p, 192, 0.05);
        assert!(p.get(10, 330) < 0.1, "line left at {}", p.get(10, 330));
        assert!(p.get(20, 330) > 0.35, "stroke cut to {}", p.get(20, 330));
        assert!(p.get(30, 330) > 0.0, "paper under the floor is kept");
    }

    #[test]
    fn shadow_is_divided_out() {
        // Left half in shadow at 40% brightness; the trace stays distinguishable.
        let img = RgbImage::from_fn(128, 64, |x, y| {
            let shade = if x < 64 { 0.4 } else { 1.0 };
            let v = if y == 20 { 30.0 } else { 250.0 };
            let v = (v * shade) as u8;
            Rgb([v, v, v])
        });
        let p = separate(&img, &InkOptions::default());
        assert!(p.ink.get(10, 40) < 0.05, "shadowed paper reads as paper");
        assert!(p.ink.get(10, 20) > 0.8, "shadowed trace reads as ink");
    }
}

/// The ink plane with its trace weighting, for sub-pixel measurements.
pub struct InkView<'a> {
    /// Ink scores, 0 to 1.
    pub plane: &'a Plane,
    /// Maps an ink score to trace membership, 0 to 1.
    pub weight: &'a dyn Fn(f32) -> f32,
}

impl InkView<'_> {
    /// Ink-weighted mean column of a near-vertical stroke inside columns `x_lo..=x_hi` and rows
    /// `y_lo..=y_hi`: its centre line to a small fraction of a pixel.
    pub fn stroke_x(&self, x_lo: usize, x_hi: usize, y_lo: f32, y_hi: f32) -> Option<f32> {
        let x_hi = x_hi.min(self.plane.width - 1);
        let (ya, yb) = (
            y_lo.max(0.0).ceil() as usize,
            (y_hi.floor() as usize).min(self.plane.height - 1),
        );
        // One centre per pixel row, then the median: rows that other ink touches are outvoted.
        let mut centres: Vec<f32> = (ya..=yb)
            .filter_map(|y| {
                let (mut m, mut mx) = (0f32, 0f32);
                for x in x_lo..=x_hi {
                    let w = (self.weight)(self.plane.get(x, y));
                    m += w;
                    mx += w * x as f32;
                }
                (m > 0.5).then(|| mx / m)
            })
            .collect();
        if centres.is_empty() {
            return None;
        }
        centres.sort_by(f32::total_cmp);
        Some(centres[centres.len() / 2])
    }
}

/// One vertical stretch of trace ink in a pixel column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// First inked row (inclusive).
    pub top: u32,
    /// Last inked row (inclusive).
    pub bottom: u32,
    /// Soft ink mass over the run and one pixel either side, in pixels of full ink.
    pub mass: f32,
    /// Ink-weighted centre row, sub-pixel.
    pub centroid: f32,
    /// Sub-pixel top edge: where coverage falls to half the run's own ink level.
    pub top_edge: f32,
    /// Sub-pixel bottom edge.
    pub bottom_edge: f32,
    /// Index into [`ColumnRuns::components`] of the connected ink blob this run belongs to.
    pub component: u32,
}

impl Run {
    /// Height in whole pixels.
    pub fn len(&self) -> u32 {
        self.bottom - self.top + 1
    }

    /// Always false: a run holds at least one pixel.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Sub-pixel extent, bottom edge minus top edge.
    pub fn extent(&self) -> f32 {
        self.bottom_edge - self.top_edge
    }

    /// Midpoint of its first and last pixel rows (whatever the ink's weight).
    pub fn middle(&self) -> f32 {
        (self.top + self.bottom) as f32 / 2.0
    }

    /// Vertical distance in pixels between two runs, 0 when they touch or overlap.
    pub fn gap_to(&self, other: &Run) -> u32 {
        let a = other.top.saturating_sub(self.bottom + 1);
        let b = self.top.saturating_sub(other.bottom + 1);
        a.max(b)
    }
}

/// Ink runs of every pixel column, top to bottom: the candidates for trace extraction.
#[derive(Debug, Clone)]
pub struct ColumnRuns {
    /// Runs of each column, sorted by `top`.
    pub columns: Vec<Vec<Run>>,
    /// Image height, for bounds.
    pub height: usize,
    /// Bounding box of every connected ink blob (8-connected), indexed by `Run::component`.
    pub components: Vec<BlobBox>,
}

/// A connected ink blob's extent in pixels, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobBox {
    /// Leftmost column.
    pub x_min: u32,
    /// Rightmost column.
    pub x_max: u32,
    /// Top row.
    pub y_min: u32,
    /// Bottom row.
    pub y_max: u32,
}

impl BlobBox {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.x_max - self.x_min + 1
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.y_max - self.y_min + 1
    }
}

/// Labels runs into 8-connected blobs with a union-find over neighbouring columns' runs:
/// cheaper than labelling pixels, since a page holds far fewer runs than pixels.
fn label_components(columns: &mut [Vec<Run>]) -> Vec<BlobBox> {
    let offsets: Vec<usize> = columns
        .iter()
        .scan(0usize, |acc, c| {
            let o = *acc;
            *acc += c.len();
            Some(o)
        })
        .collect();
    let total: usize = columns.iter().map(Vec::len).sum();
    let mut parent: Vec<u32> = (0..total as u32).collect();
    fn find(parent: &mut [u32], mut i: u32) -> u32 {
        while parent[i as usize] != i {
            parent[i as usize] = parent[parent[i as usize] as usize];
            i = parent[i as usize];
        }
        i
    }
    for x in 1..columns.len() {
        let (prev, cur) = (&columns[x - 1], &columns[x]);
        let mut j = 0;
        for (i, r) in cur.iter().enumerate() {
            // Runs touch diagonally too: widen by one row.
            while j < prev.len() && prev[j].bottom + 1 < r.top {
                j += 1;
            }
            let mut k = j;
            while k < prev.len() && prev[k].top <= r.bottom + 1 {
                let (a, b) = (
                    find(&mut parent, (offsets[x - 1] + k) as u32),
                    find(&mut parent, (offsets[x] + i) as u32),
                );
                if a != b {
                    parent[a.max(b) as usize] = a.min(b);
                }
                k += 1;
            }
        }
    }
    let mut index = vec![u32::MAX; total];
    let mut boxes: Vec<BlobBox> = Vec::new();
    for (x, col) in columns.iter_mut().enumerate() {
        for (i, r) in col.iter_mut().enumerate() {
            let root = find(&mut parent, (offsets[x] + i) as u32) as usize;
            if index[root] == u32::MAX {
                index[root] = boxes.len() as u32;
                boxes.push(BlobBox {
                    x_min: x as u32,
                    x_max: x as u32,
                    y_min: r.top,
                    y_max: r.bottom,
                });
            }
            let b = &mut boxes[index[root] as usize];
            b.x_min = b.x_min.min(x as u32);
            b.x_max = b.x_max.max(x as u32);
            b.y_min = b.y_min.min(r.top);
            b.y_max = b.y_max.max(r.bottom);
            r.component = index[root];
        }
    }
    boxes
}

impl ColumnRuns {
    /// Splits every column of the ink plane into runs above `threshold`, bridging one-pixel
    /// gaps (thin strokes break up after anti-aliasing). `weight` maps an ink score to 0–1.
    pub fn build(ink: &Plane, threshold: f32, weight: impl Fn(f32) -> f32) -> ColumnRuns {
        ColumnRuns::build_hysteresis(ink, None, threshold, threshold, weight)
    }

    /// Like [`ColumnRuns::build`], with hysteresis: runs are cut at `low`, and only blobs that
    /// reach `high` somewhere are kept. A steep QRS stroke at 100 DPI is a faint one-pixel
    /// line, lighter than the flat trace it leaves from; it survives as part of that trace,
    /// while paper noise that only reaches `low` is dropped.
    ///
    /// `strokes`, a stroke plane (see [`stroke_plane`]) with its own level, marks
    /// further pixels as ink: those of steep strokes that the noise broke up in `ink`.
    pub fn build_hysteresis(
        ink: &Plane,
        strokes: Option<(&Plane, f32)>,
        low: f32,
        high: f32,
        weight: impl Fn(f32) -> f32,
    ) -> ColumnRuns {
        let threshold = low.min(high);
        let (w, h) = (ink.width, ink.height);
        let mut columns: Vec<Vec<Run>> = vec![Vec::new(); w];
        // Walk rows once, keeping an open run per column: cache-friendly on a row-major plane.
        let mut open: Vec<Option<(u32, u32)>> = vec![None; w];
        let close = |col: &mut Vec<Run>, x: usize, top: u32, bottom: u32| {
            let lo = top.saturating_sub(1) as usize;
            let hi = ((bottom + 1) as usize).min(h - 1);
            let w = |y: usize| weight(ink.get(x, y));
            let (mut m, mut my, mut level) = (0f32, 0f32, 0f32);
            for y in lo..=hi {
                let v = w(y);
                m += v;
                my += v * y as f32;
                level = level.max(v);
            }
            if m <= 0.0 {
                return;
            }
            // Coverage of the end pixels, relative to the run's own ink level, places the
            // edges between pixel centres (pixel y spans y-0.5..y+0.5).
            let level = level.max(1e-3);
            let (t, b) = (top as usize, bottom as usize);
            let above = if t > 0 { w(t - 1) } else { 0.0 };
            let below = if b + 1 < h { w(b + 1) } else { 0.0 };
            let top_edge = t as f32 + 0.5 - ((w(t) + above) / level).min(2.0);
            let bottom_edge = b as f32 - 0.5 + ((w(b) + below) / level).min(2.0);
            col.push(Run {
                top,
                bottom,
                mass: m,
                centroid: my / m,
                top_edge,
                bottom_edge: bottom_edge.max(top_edge),
                component: 0,
            });
        };
        for y in 0..h {
            let row = ink.row(y);
            let stroke_row = strokes.map(|(p, level)| (p.row(y), level));
            for x in 0..w {
                if row[x] > threshold || stroke_row.is_some_and(|(r, level)| r[x] > level) {
                    open[x] = match open[x] {
                        Some((t, b)) if y as u32 <= b + 2 => Some((t, y as u32)),
                        Some((t, b)) => {
                            close(&mut columns[x], x, t, b);
                            Some((y as u32, y as u32))
                        }
                        None => Some((y as u32, y as u32)),
                    };
                }
            }
        }
        for (x, o) in open.into_iter().enumerate() {
            if let Some((t, b)) = o {
                close(&mut columns[x], x, t, b);
            }
        }
        let components = label_components(&mut columns);
        if high > threshold {
            let mut strong = vec![false; components.len()];
            for (x, col) in columns.iter().enumerate() {
                for r in col {
                    if !strong[r.component as usize]
                        && (r.top..=r.bottom).any(|y| ink.get(x, y as usize) > high)
                    {
                        strong[r.component as usize] = true;
                    }
                }
            }
            for col in columns.iter_mut() {
                col.retain(|r| strong[r.component as usize]);
            }
        }
        ColumnRuns {
            columns,
            height: h,
            components,
        }
    }

    /// Runs of column `x` that overlap rows `lo..=hi`.
    pub fn in_band(&self, x: usize, lo: f32, hi: f32) -> impl Iterator<Item = &Run> {
        self.columns[x]
            .iter()
            .filter(move |r| (r.bottom as f32) >= lo && (r.top as f32) <= hi)
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;

    #[test]
    fn runs_bridge_single_pixel_gaps_and_report_subpixel_centres() {
        let mut p = Plane::new(3, 20, 0.0);
        for y in [4, 5, 7] {
            p.set(1, y, 1.0);
        }
        p.set(1, 12, 0.5);
        p.set(1, 13, 1.0);
        let runs = ColumnRuns::build(&p, 0.3, |v| v);
        assert!(runs.columns[0].is_empty());
        let col = &runs.columns[1];
        assert_eq!(col.len(), 2);
        assert_eq!((col[0].top, col[0].bottom), (4, 7));
        assert!((col[1].centroid - (12.0 * 0.5 + 13.0) / 1.5).abs() < 1e-5);
        assert_eq!(col[0].gap_to(&col[1]), 4);
    }

    #[test]
    fn a_faint_stroke_joined_to_the_trace_survives_hysteresis_and_lone_faint_ink_does_not() {
        let mut p = Plane::new(20, 40, 0.0);
        for x in 0..20 {
            p.set(x, 30, 0.9); // the trace
        }
        for y in 10..30 {
            p.set(8, y, 0.35); // a faint QRS stroke rising from it
        }
        for y in 5..9 {
            p.set(15, y, 0.35); // faint ink on its own
        }
        let plain = ColumnRuns::build(&p, 0.5, |v| v);
        assert_eq!(
            plain.columns[8].len(),
            1,
            "the faint stroke is lost at one threshold"
        );
        let h = ColumnRuns::build_hysteresis(&p, None, 0.3, 0.5, |v| v);
        assert_eq!(h.columns[8].len(), 1);
        assert_eq!((h.columns[8][0].top, h.columns[8][0].bottom), (10, 30));
        assert!(
            h.columns[15].iter().all(|r| r.top >= 30),
            "lone faint ink is dropped"
        );
    }

    #[test]
    fn diagonal_neighbours_join_one_blob_and_separate_ink_does_not() {
        let mut p = Plane::new(6, 20, 0.0);
        // A diagonal stroke through columns 0..3, and a dot far below in column 5.
        for (x, y) in [(0, 2), (1, 3), (2, 4), (3, 5), (5, 15)] {
            p.set(x, y, 1.0);
        }
        let runs = ColumnRuns::build(&p, 0.5, |v| v);
        let stroke = runs.columns[0][0].component;
        assert!((0..4).all(|x| runs.columns[x][0].component == stroke));
        let dot = runs.columns[5][0].component;
        assert_ne!(dot, stroke);
        let b = runs.components[stroke as usize];
        assert_eq!((b.width(), b.height()), (4, 4));
    }
}
