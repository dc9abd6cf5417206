//! Stage 1, decode: file bytes to an RGB raster at working resolution.
//!
//! Formats are sniffed from the bytes, never from the file name. The image crate's
//! dimension and allocation limits are set before any pixel is decoded, so a
//! decompression bomb is refused cheaply. EXIF orientation is applied.

use crate::error::Error;
use crate::options::DecodeLimits;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// Smallest side, in pixels, that can still hold a readable 12-lead page.
pub const MIN_SIDE_PX: u32 = 200;

/// A decoded page, ready for the geometry stage.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The page at working resolution, alpha composited over white.
    pub image: RgbImage,
    /// Width and height of the file as stored, after EXIF orientation.
    pub original_size: (u32, u32),
    /// Working pixels per original pixel (1.0 unless the page was downscaled).
    pub scale: f32,
    /// Name of the detected file format.
    pub format: String,
    /// Things the user should know, in plain words.
    pub warnings: Vec<String>,
}

/// Decodes `bytes`, refusing anything beyond `limits`, and downscales pages whose longer side
/// exceeds `max_working_side_px`.
pub fn decode(
    bytes: &[u8],
    limits: &DecodeLimits,
    max_working_side_px: u32,
) -> Result<Decoded, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    if let Some((format, hint)) = refused_format(bytes) {
        return Err(Error::UnsupportedFormat {
            format: format.into(),
            hint: hint.into(),
        });
    }
    let format = image::guess_format(bytes).map_err(|_| Error::NotAnImage)?;
    let format_name = format_name(format);
    let corrupt = |e: image::ImageError| classify(e, format_name, limits);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image_limits(limits));
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, limits)?;
    let orientation = decoder.orientation().ok();
    let mut warnings = Vec::new();
    let mut img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    if let Some(o) = orientation {
        if o != image::metadata::Orientation::NoTransforms {
            img.apply_orientation(o);
            warnings.push("applied the EXIF orientation stored in the file".to_string());
        }
    }
    let original_size = (img.width(), img.height());
    let mut rgb = flatten_alpha(img);

    let mut scale = 1.0;
    let long_side = rgb.width().max(rgb.height());
    if long_side > max_working_side_px {
        scale = max_working_side_px as f32 / long_side as f32;
        let nw = ((rgb.width() as f32 * scale).round() as u32).max(1);
        let nh = ((rgb.height() as f32 * scale).round() as u32).max(1);
        rgb = image::imageops::resize(&rgb, nw, nh, image::imageops::FilterType::Triangle);
        warnings.push(format!(
            "the {}×{} px page was downscaled to {}×{} px before digitizing",
            original_size.0, original_size.1, nw, nh
        ));
    }
    Ok(Decoded {
        image: rgb,
        original_size,
        scale,
        format: format_name.to_string(),
        warnings,
    })
}

fn image_limits(limits: &DecodeLimits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side_px);
    l.max_image_height = Some(limits.max_side_px);
    l.max_alloc = Some(limits.max_alloc_bytes);
    l
}

fn check_size(w: u32, h: u32, limits: &DecodeLimits) -> Result<(), Error> {
    if w > limits.max_side_px || h > limits.max_side_px {
        return Err(Error::TooLarge {
            width: w,
            height: h,
            limit: format!("{} px per side", limits.max_side_px),
        });
    }
    if w as u64 * h as u64 > limits.max_pixels {
        return Err(Error::TooLarge {
            width: w,
            height: h,
            limit: format!("{} megapixels", limits.max_pixels / 1_000_000),
        });
    }
    if w < MIN_SIDE_PX || h < MIN_SIDE_PX {
        return Err(Error::TooSmall {
            width: w,
            height: h,
        });
    }
    Ok(())
}

fn classify(e: image::ImageError, format: &str, limits: &DecodeLimits) -> Error {
    match e {
        image::ImageError::Limits(_) => Error::TooLarge {
            width: 0,
            height: 0,
            limit: format!(
                "{} MiB of decoded memory",
                limits.max_alloc_bytes / (1024 * 1024)
            ),
        },
        other => Error::Corrupt {
            format: format.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Composites any alpha over white paper and drops to 8-bit RGB.
fn flatten_alpha(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = src[3] as u32;
        for c in 0..3 {
            dst[c] = ((src[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        other => other.extensions_str().first().copied().unwrap_or("unknown"),
    }
}

/// Formats recognised by their magic bytes that we deliberately do not decode.
fn refused_format(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"%PDF") {
        return Some((
            "PDF",
            "open the PDF and export or screenshot the ECG page as PNG or JPEG",
        ));
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        if [
            b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heim", b"heis",
        ]
        .iter()
        .any(|b| brand == *b)
        {
            return Some((
                "HEIC",
                "export the photo as JPEG (on iPhone: Settings › Camera › Formats › Most Compatible)",
            ));
        }
        if brand == b"avif" || brand == b"avis" {
            return Some(("AVIF", "convert the image to PNG or JPEG"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(w, h, image::Rgb([250, 240, 240]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decodes_png_at_full_resolution() {
        let d = decode(&png_bytes(300, 220), &DecodeLimits::default(), 4000).unwrap();
        assert_eq!(d.image.dimensions(), (300, 220));
        assert_eq!(d.scale, 1.0);
        assert_eq!(d.format, "PNG");
    }

    #[test]
    fn large_pages_are_downscaled_with_a_warning() {
        let d = decode(&png_bytes(1200, 600), &DecodeLimits::default(), 600).unwrap();
        assert_eq!(d.image.dimensions(), (600, 300));
        assert!((d.scale - 0.5).abs() < 1e-6);
        assert!(d.warnings[0].contains("downscaled"));
    }

    #[test]
    fn empty_tiny_and_foreign_inputs_get_typed_errors() {
        assert_eq!(
            decode(&[], &DecodeLimits::default(), 4000).unwrap_err(),
            Error::Empty
        );
        assert!(matches!(
            decode(&png_bytes(1, 1), &DecodeLimits::default(), 4000),
            Err(Error::TooSmall { .. })
        ));
        assert!(matches!(
            decode(b"%PDF-1.7 ...", &DecodeLimits::default(), 4000),
            Err(Error::UnsupportedFormat { .. })
        ));
        assert_eq!(
            decode(b"hello world, not an image", &DecodeLimits::default(), 4000).unwrap_err(),
            Error::NotAnImage
        );
    }

    #[test]
    fn truncated_png_is_reported_as_corrupt() {
        let bytes = png_bytes(300, 300);
        let err = decode(&bytes[..bytes.len() / 2], &DecodeLimits::default(), 4000).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn oversized_dimensions_are_refused_before_decoding() {
        let limits = DecodeLimits {
            max_pixels: 10_000,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decode(&png_bytes(300, 300), &limits, 4000),
            Err(Error::TooLarge { .. })
        ));
    }
}
