//! A plain single-channel `f32` raster shared by the stages, and block reduction of an RGB
//! image.

use image::RgbImage;

/// A row-major grid of `f32` samples, one per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` samples, row by row.
    pub data: Vec<f32>,
}

impl Plane {
    /// A plane filled with `value`.
    pub fn new(width: usize, height: usize, value: f32) -> Plane {
        Plane {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// The sample at column `x`, row `y`. Panics when out of range, like slice indexing.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Sets the sample at column `x`, row `y`.
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, value: f32) {
        self.data[y * self.width + x] = value;
    }

    /// One row as a slice.
    #[inline]
    pub fn row(&self, y: usize) -> &[f32] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// Bilinear sample at a continuous position (pixel centres at integers); `outside` beyond the edges.
    pub fn sample_bilinear(&self, x: f32, y: f32, outside: f32) -> f32 {
        if !(x >= 0.0 && y >= 0.0) {
            return outside;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        if x0 + 1 >= self.width || y0 + 1 >= self.height {
            if x0 < self.width && y0 < self.height && x == x0 as f32 && y == y0 as f32 {
                return self.get(x0, y0);
            }
            return outside;
        }
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let top = self.get(x0, y0) * (1.0 - fx) + self.get(x0 + 1, y0) * fx;
        let bottom = self.get(x0, y0 + 1) * (1.0 - fx) + self.get(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// The bin of a 0–1 level in a histogram of `bins` bins, the ends centred on 0 and 1.
#[inline]
pub fn level_bin(v: f32, bins: usize) -> usize {
    // Adding a half and truncating rounds the same for levels ≥ 0 (negative ones saturate to
    // bin 0 either way), without a call to `roundf` for every pixel.
    ((v * (bins - 1) as f32 + 0.5) as usize).min(bins - 1)
}

/// The level (0–1) of the median of the `n` samples counted in `hist`, a histogram of
/// [`level_bin`]s.
pub fn histogram_median(hist: &[u32], n: usize) -> f32 {
    let mut acc = 0;
    for (i, &c) in hist.iter().enumerate() {
        acc += c as usize;
        if acc * 2 > n {
            return i as f32 / (hist.len() - 1) as f32;
        }
    }
    1.0
}

/// `image` reduced by a whole factor `f` (no more than its width), each output pixel the
/// mean of its `f`×`f` block.
pub(crate) fn box_reduce(image: &RgbImage, f: u32) -> RgbImage {
    let (w, h) = ((image.width() / f).max(1), (image.height() / f).max(1));
    let (sw, f) = (image.width() as usize, f as usize);
    let raw = image.as_raw();
    let mut sums = vec![0u32; w as usize * 3];
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    let n = (f * f) as u32;
    for y in 0..h as usize {
        sums.fill(0);
        for row in raw[y * f * sw * 3..].chunks_exact(sw * 3).take(f) {
            for (x, s) in sums.chunks_exact_mut(3).enumerate() {
                for p in row[x * f * 3..(x + 1) * f * 3].chunks_exact(3) {
                    for c in 0..3 {
                        s[c] += p[c] as u32;
                    }
                }
            }
        }
        out.extend(sums.iter().map(|&s| ((s + n / 2) / n) as u8));
    }
    RgbImage::from_raw(w, h, out).expect("buffer matches dimensions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_median_reads_the_middle_sample() {
        let mut hist = [0u32; 11];
        for v in [0.0, 0.3, 0.31, 0.9, 1.0] {
            hist[level_bin(v, 11)] += 1;
        }
        assert_eq!(histogram_median(&hist, 5), 0.3);
        assert_eq!(histogram_median(&[0; 11], 0), 1.0);
    }

    #[test]
    fn bilinear_interpolates_between_centres_and_reports_outside() {
        let mut p = Plane::new(2, 2, 0.0);
        p.set(1, 0, 1.0);
        p.set(1, 1, 1.0);
        assert!((p.sample_bilinear(0.25, 0.5, -1.0) - 0.25).abs() < 1e-6);
        assert_eq!(p.sample_bilinear(1.0, 1.0, -1.0), 1.0);
        assert_eq!(p.sample_bilinear(-0.1, 0.0, -1.0), -1.0);
        assert_eq!(p.sample_bilinear(1.5, 0.0, -1.0), -1.0);
    }
}
