//! Stage 2, geometry: estimate how far the page is rotated and turn it upright.
//!
//! The grid's two line families dominate the image's edge directions. A gradient
//! orientation histogram, folded modulo 90°, gives a coarse angle; sharpening of the
//! row and column projection profiles (the "projection profile" deskew method,
//! <https://en.wikipedia.org/wiki/Document_layout_analysis>) refines it to a few
//! hundredths of a degree.

use crate::raster::Plane;
use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{warp_with, Border, Interpolation};

/// Tuning knobs of the deskew search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeometryOptions {
    /// Largest rotation searched, in degrees either way.
    pub max_angle_deg: f32,
    /// Rotations smaller than this are left alone: resampling would only blur.
    pub min_correction_deg: f32,
    /// Sampling stride, in pixels, of the coarse orientation histogram.
    pub coarse_stride: usize,
}

impl Default for GeometryOptions {
    fn default() -> Self {
        GeometryOptions {
            max_angle_deg: 45.0,
            min_correction_deg: 0.04,
            coarse_stride: 3,
        }
    }
}

/// Maps upright (working) coordinates back to the decoded image, for overlays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageTransform {
    /// Counter-clockwise rotation of the page as seen on screen, in degrees.
    pub rotation_deg: f32,
    /// Rotation centre, in pixels.
    pub center: (f32, f32),
}

impl PageTransform {
    /// Where the upright point `(x, y)` lies in the image before deskewing.
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        let r = self.rotation_deg.to_radians();
        let (s, c) = (libm::sinf(r), libm::cosf(r));
        let (dx, dy) = (x - self.center.0, y - self.center.1);
        (
            self.center.0 + dx * c + dy * s,
            self.center.1 - dx * s + dy * c,
        )
    }
}

/// The page turned upright.
#[derive(Debug, Clone)]
pub struct Upright {
    /// The deskewed page, same size as the input; uncovered corners are white.
    pub image: RgbImage,
    /// How upright coordinates map back to the input.
    pub transform: PageTransform,
}

/// Estimates the page rotation and returns the page deskewed.
pub fn deskew(image: &RgbImage, opts: &GeometryOptions) -> Upright {
    // Flattened, so a tinted or shaded page does not count as one big dark rectangle.
    let mark = crate::ink::separate(image, &crate::ink::InkOptions::default()).mark;
    let angle = estimate_rotation_deg(&mark, opts);
    let center = (
        (image.width() as f32 - 1.0) / 2.0,
        (image.height() as f32 - 1.0) / 2.0,
    );
    let transform = PageTransform {
        rotation_deg: angle,
        center,
    };
    if angle.abs() < opts.min_correction_deg {
        return Upright {
            image: image.clone(),
            transform: PageTransform {
                rotation_deg: 0.0,
                center,
            },
        };
    }
    let rotated = warp_with(
        image,
        move |x, y| transform.to_source(x, y),
        Interpolation::Bilinear,
        Border::Constant(Rgb([255, 255, 255])),
    );
    Upright {
        image: rotated,
        transform,
    }
}

/// Darkness of the darkest channel, 0 (white) to 1 (black): grid, trace and text alike.
pub fn darkness(image: &RgbImage) -> Plane {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut out = Plane::new(w, h, 0.0);
    for (o, p) in out.data.iter_mut().zip(image.pixels()) {
        let m = p[0].min(p[1]).min(p[2]);
        *o = 1.0 - m as f32 / 255.0;
    }
    out
}

/// Counter-clockwise page rotation in degrees, within ±`max_angle_deg`.
///
/// The orientation histogram proposes a few angles (a blurred dense grid also has diagonal
/// gradients); projection sharpness, which only aligned grid lines make high, decides.
pub fn estimate_rotation_deg(mark: &Plane, opts: &GeometryOptions) -> f32 {
    let mut candidates = coarse_angles_deg(mark, opts.coarse_stride.max(1), 3);
    candidates.push(0.0);
    let coarse_points = profile_points(mark, 100_000);
    if coarse_points.is_empty() {
        return 0.0;
    }
    let mut best = (0.0f32, f64::MIN);
    for c in candidates {
        let c = c.clamp(-opts.max_angle_deg, opts.max_angle_deg);
        let a = refine(&coarse_points, mark, c, 2.0, 0.1);
        let score = sharpness(&coarse_points, mark, a);
        if score > best.1 {
            best = (a, score);
        }
    }
    if std::env::var("ECG_DEBUG").is_ok() {
        eprintln!("coarse angle {}", best.0);
    }
    let points = profile_points(mark, 400_000);
    refine(&points, mark, best.0, 0.12, 0.01)
}

/// The `count` dominant edge directions folded into (-45°, 45°], from a magnitude-weighted
/// histogram of Sobel gradients sampled every `stride` pixels at full resolution
/// (downsampling first would alias the fine grid into moiré at arbitrary angles).
fn coarse_angles_deg(mark: &Plane, stride: usize, count: usize) -> Vec<f32> {
    let (w, h) = (mark.width, mark.height);
    if w < 3 || h < 3 {
        return Vec::new();
    }
    // Smoothing first turns the staircases of aliased (binary) lines into straight edges.
    let mark = &box_blur(&box_blur(mark, 2), 2);
    const BINS: usize = 180; // 0.5° bins over 90°
    let mut hist = [0f64; BINS];
    for y in (1..h - 1).step_by(stride) {
        let (up, row, down) = (mark.row(y - 1), mark.row(y), mark.row(y + 1));
        for x in (1..w - 1).step_by(stride) {
            let gx = (up[x + 1] + 2.0 * row[x + 1] + down[x + 1])
                - (up[x - 1] + 2.0 * row[x - 1] + down[x - 1]);
            let gy =
                (down[x - 1] + 2.0 * down[x] + down[x + 1]) - (up[x - 1] + 2.0 * up[x] + up[x + 1]);
            let mag = gx * gx + gy * gy;
            if mag < 0.01 {
                continue;
            }
            let theta = libm::atan2f(gy, gx).to_degrees().rem_euclid(90.0);
            let bin = ((theta / 90.0 * BINS as f32) as usize).min(BINS - 1);
            hist[bin] += mag.sqrt() as f64;
        }
    }
    // Circular smoothing over ±1.5°, then the strongest peaks at least 3° apart.
    let smooth: Vec<f64> = (0..BINS)
        .map(|i| {
            (-3i32..=3)
                .map(|d| hist[(i as i32 + d).rem_euclid(BINS as i32) as usize])
                .sum()
        })
        .collect();
    let mut order: Vec<usize> = (0..BINS).collect();
    order.sort_by(|&a, &b| smooth[b].total_cmp(&smooth[a]));
    let mut peaks: Vec<usize> = Vec::new();
    for i in order {
        let circ = |a: usize, b: usize| {
            (a as i32 - b as i32)
                .rem_euclid(BINS as i32)
                .min((b as i32 - a as i32).rem_euclid(BINS as i32))
        };
        if peaks.iter().all(|&p| circ(p, i) >= 6) {
            peaks.push(i);
        }
        if peaks.len() == count {
            break;
        }
    }
    peaks
        .into_iter()
        .map(|bin| {
            let theta = (bin as f32 + 0.5) * 90.0 / BINS as f32;
            // A gradient at +θ belongs to lines rotated by -θ on screen (y points down).
            let angle = -theta;
            if angle < -45.0 {
                angle + 90.0
            } else {
                angle
            }
        })
        .collect()
}

/// Separable running-mean blur with a (2r+1)-pixel window, edges clamped.
fn box_blur(p: &Plane, r: usize) -> Plane {
    let (w, h) = (p.width, p.height);
    let mut tmp = Plane::new(w, h, 0.0);
    let norm = 1.0 / (2 * r + 1) as f32;
    for y in 0..h {
        let row = p.row(y);
        let at = |i: isize| row[i.clamp(0, w as isize - 1) as usize];
        let mut acc: f32 = (-(r as isize)..=r as isize).map(at).sum();
        for x in 0..w {
            tmp.data[y * w + x] = acc * norm;
            acc += at(x as isize + r as isize + 1) - at(x as isize - r as isize);
        }
    }
    let mut out = Plane::new(w, h, 0.0);
    for x in 0..w {
        let at = |i: isize| tmp.data[i.clamp(0, h as isize - 1) as usize * w + x];
        let mut acc: f32 = (-(r as isize)..=r as isize).map(at).sum();
        for y in 0..h {
            out.data[y * w + x] = acc * norm;
            acc += at(y as isize + r as isize + 1) - at(y as isize - r as isize);
        }
    }
    out
}

/// Dark points with their weights, subsampled to at most `max_points`.
fn profile_points(mark: &Plane, max_points: usize) -> Vec<(f32, f32, f32)> {
    let count = mark.data.iter().filter(|&&v| v > 0.2).count();
    let stride = (count / max_points.max(1)).max(1);
    let mut out = Vec::with_capacity(count / stride + 1);
    let mut k = 0usize;
    for y in 0..mark.height {
        for (x, &v) in mark.row(y).iter().enumerate() {
            if v > 0.2 {
                if k % stride == 0 {
                    out.push((x as f32, y as f32, v));
                }
                k += 1;
            }
        }
    }
    out
}

/// Sharpness of both projection profiles when the page is rotated by `angle_deg`.
fn sharpness(points: &[(f32, f32, f32)], mark: &Plane, angle_deg: f32) -> f64 {
    let (s, c) = (
        libm::sinf(angle_deg.to_radians()),
        libm::cosf(angle_deg.to_radians()),
    );
    let diag = (mark.width + mark.height) as f32;
    let n = (2.0 * diag) as usize + 4;
    let mut rows = vec![0f32; n];
    let mut cols = vec![0f32; n];
    for &(x, y, w) in points {
        let v = y * c + x * s + diag;
        let u = x * c - y * s + diag;
        rows[(v as usize).min(n - 1)] += w;
        cols[(u as usize).min(n - 1)] += w;
    }
    let sq = |p: &[f32]| p.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
    sq(&rows) + sq(&cols)
}

fn refine(points: &[(f32, f32, f32)], mark: &Plane, center: f32, span: f32, step: f32) -> f32 {
    let n = (span / step).round() as i32;
    let scores: Vec<(f32, f64)> = (-n..=n)
        .map(|i| {
            let a = center + i as f32 * step;
            (a, sharpness(points, mark, a))
        })
        .collect();
    let (bi, _) = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .unwrap();
    let a = scores[bi].0;
    if bi == 0 || bi + 1 == scores.len() {
        return a;
    }
    // Parabola through the peak and its neighbours.
    let (l, m, r) = (scores[bi - 1].1, scores[bi].1, scores[bi + 1].1);
    let denom = l - 2.0 * m + r;
    if denom.abs() < 1e-12 {
        return a;
    }
    a + (0.5 * (l - r) / denom) as f32 * step
}

#[cfg(test)]
mod tests {
    use super::*;

    /// White page with a dark square grid rotated `deg` counter-clockwise.
    fn grid_page(deg: f32) -> RgbImage {
        let (w, h) = (600u32, 450u32);
        let t = PageTransform {
            rotation_deg: deg,
            center: ((w - 1) as f32 / 2.0, (h - 1) as f32 / 2.0),
        };
        let (s, c) = deg.to_radians().sin_cos();
        let _ = t;
        RgbImage::from_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - 299.5, y as f32 - 224.5);
            // Upright coordinates of this source pixel.
            let u = dx * c - dy * s;
            let v = dx * s + dy * c;
            let on = |a: f32| (a.rem_euclid(20.0) - 10.0).abs() > 9.0;
            if on(u) || on(v) {
                Rgb([230, 40, 40])
            } else {
                Rgb([255, 255, 255])
            }
        })
    }

    #[test]
    fn rotated_grid_angle_is_found_within_a_tenth_of_a_degree() {
        for deg in [-8.0f32, -2.5, 0.0, 3.0, 7.3, 30.0] {
            let mark = darkness(&grid_page(deg));
            let est = estimate_rotation_deg(&mark, &GeometryOptions::default());
            assert!((est - deg).abs() < 0.1, "true {deg}, estimated {est}");
        }
    }

    #[test]
    fn deskewed_point_maps_back_to_its_source() {
        let t = PageTransform {
            rotation_deg: 5.0,
            center: (100.0, 50.0),
        };
        let (x, y) = t.to_source(150.0, 50.0);
        // A point right of the centre moves up when the page turns counter-clockwise.
        assert!(y < 50.0 && x < 150.0);
        assert!(((x - 100.0).hypot(y - 50.0) - 50.0).abs() < 1e-3);
    }

    #[test]
    fn upright_page_is_not_resampled() {
        let img = grid_page(0.0);
        let up = deskew(&img, &GeometryOptions::default());
        assert_eq!(up.transform.rotation_deg, 0.0);
        assert_eq!(up.image, img);
    }
}
