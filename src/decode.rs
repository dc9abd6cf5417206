//! Stage 1, decode: file bytes to an RGB raster at working resolution.
//!
//! Formats are sniffed from the bytes, never from the file name. Dimensions and the decoded
//! size are checked against [`DecodeLimits`] from the header, before any pixel buffer is
//! allocated, so a decompression bomb is refused cheaply. EXIF orientation is applied.
//! Large pages are reduced by [area averaging](https://en.wikipedia.org/wiki/Image_scaling#Box_sampling)
//! in bands, so a 100 MP scan never exists as a second full-size RGB copy.

use crate::error::Error;
use crate::options::DecodeLimits;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// Smallest side, in pixels, that can still hold a readable 12-lead page.
pub const MIN_SIDE_PX: u32 = 200;

/// Formats the decoder reads; anything else it recognises is refused by name.
const DECODED_FORMATS: [ImageFormat; 6] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
    ImageFormat::WebP,
    ImageFormat::Gif,
];

/// Pages or frames counted at most, so that a looping or endless chain stays cheap.
const MAX_PAGES_COUNTED: usize = 1000;

/// Source rows converted to RGB at a time while downscaling.
const BAND_ROWS: u32 = 64;

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
    /// Resolution stored in the file, dots per inch of the stored pixels, if it states one.
    pub stored_dpi: Option<f32>,
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
    check_file_size(bytes.len() as u64, limits)?;
    if let Some((format, hint)) = refused_format(bytes) {
        return Err(Error::UnsupportedFormat {
            format: format.into(),
            hint: hint.into(),
        });
    }
    let format = image::guess_format(bytes).map_err(|_| Error::NotAnImage)?;
    let format_name = format_name(format);
    if !DECODED_FORMATS.contains(&format) {
        return Err(Error::UnsupportedFormat {
            format: format_name.into(),
            hint: "convert the image to PNG or JPEG".into(),
        });
    }

    // The JPEG decoder pads a truncated scan with grey instead of failing; a page with its
    // lower part missing must not be digitized as if it were whole.
    if format == ImageFormat::Jpeg && jpeg_is_truncated(bytes) {
        return Err(truncated(format_name));
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image_limits(limits));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| classify(e, format_name, None, limits))?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, limits)?;
    check_memory(w, h, decoder.total_bytes(), limits)?;
    working_size(w, h, max_working_side_px)?;

    let mut warnings = Vec::new();
    if let Some(warning) = extra_pages_warning(format, bytes) {
        warnings.push(warning);
    }
    let orientation = decoder.orientation().ok();
    let img = DynamicImage::from_decoder(decoder)
        .map_err(|e| classify(e, format_name, Some((w, h)), limits))?;
    // The raster, not the header, is what gets indexed from here on.
    let (w, h) = (img.width(), img.height());
    check_size(w, h, limits)?;
    let working = working_size(w, h, max_working_side_px)?;

    let mut scale = 1.0;
    let mut rgb = match working {
        Some((nw, nh)) => {
            scale = nw.max(nh) as f32 / w.max(h) as f32;
            downscale_area(&img, nw, nh)
        }
        None => flatten_alpha(img),
    };
    let mut original_size = (w, h);
    // Turning the small working page is cheaper than turning the stored one, and equivalent.
    if let Some(o) = orientation.filter(|&o| o != Orientation::NoTransforms) {
        let mut turned = DynamicImage::ImageRgb8(rgb);
        turned.apply_orientation(o);
        rgb = turned.into_rgb8();
        if swaps_axes(o) {
            original_size = (h, w);
        }
        warnings.push("applied the EXIF orientation stored in the file".to_string());
    }
    if scale != 1.0 {
        warnings.push(format!(
            "the {}×{} px page was downscaled to {}×{} px before digitizing",
            original_size.0,
            original_size.1,
            rgb.width(),
            rgb.height()
        ));
    }
    Ok(Decoded {
        image: rgb,
        original_size,
        scale,
        format: format_name.to_string(),
        stored_dpi: stored_dpi(format, bytes),
        warnings,
    })
}

/// The resolution a file states, in dots per inch: PNG's pHYs chunk (pixels per metre) or a
/// JPEG's JFIF header (per inch or per cm). `None` when it states none, only an aspect
/// ratio, or cannot be read.
fn stored_dpi(format: ImageFormat, bytes: &[u8]) -> Option<f32> {
    let dpi = match format {
        ImageFormat::Png => {
            let reader = png::Decoder::new(Cursor::new(bytes)).read_info().ok()?;
            let dims = reader.info().pixel_dims?;
            if dims.unit != png::Unit::Meter {
                return None;
            }
            dims.xppu as f32 * 0.0254
        }
        ImageFormat::Jpeg => {
            // The JFIF segment opens the file: SOI, APP0 marker and length, "JFIF\0",
            // version, units (1 per inch, 2 per cm), x density. The JPEG decoder does not
            // report it.
            let jfif = bytes.get(..16)?;
            if jfif[..4] != [0xFF, 0xD8, 0xFF, 0xE0] || &jfif[6..11] != b"JFIF\0" {
                return None;
            }
            let density = u16::from_be_bytes([jfif[14], jfif[15]]) as f32;
            match jfif[13] {
                1 => density,
                2 => density * 2.54,
                _ => return None,
            }
        }
        _ => return None,
    };
    (dpi.is_finite() && dpi > 0.0).then_some(dpi)
}

fn image_limits(limits: &DecodeLimits) -> image::Limits {
    // Dimensions are checked by `check_size`, which knows them and can say so; the image
    // crate's own dimension check fails before they are known.
    let mut l = image::Limits::default();
    l.max_image_width = None;
    l.max_image_height = None;
    l.max_alloc = Some(limits.max_alloc_bytes);
    l
}

/// Refuses files larger than the decoded-memory limit: holding one in memory already costs
/// that much, and one page never needs it (a multi-page TIFF that large should be split).
/// Callers that read from disk can check the file's length before reading it.
pub fn check_file_size(len_bytes: u64, limits: &DecodeLimits) -> Result<(), Error> {
    const MIB: u64 = 1024 * 1024;
    if len_bytes > limits.max_alloc_bytes {
        return Err(Error::FileTooLarge {
            mib: len_bytes.div_ceil(MIB),
            limit_mib: limits.max_alloc_bytes.div_ceil(MIB),
        });
    }
    Ok(())
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

/// Refuses pages whose decoded pixels would not fit in the memory limit.
fn check_memory(w: u32, h: u32, decoded_bytes: u64, limits: &DecodeLimits) -> Result<(), Error> {
    if decoded_bytes > limits.max_alloc_bytes {
        return Err(Error::TooLarge {
            width: w,
            height: h,
            limit: memory_limit(limits),
        });
    }
    Ok(())
}

fn memory_limit(limits: &DecodeLimits) -> String {
    const MIB: u64 = 1024 * 1024;
    if limits.max_alloc_bytes >= MIB {
        format!("{} MiB of decoded memory", limits.max_alloc_bytes / MIB)
    } else {
        format!("{} bytes of decoded memory", limits.max_alloc_bytes)
    }
}

/// The working size of a `w`×`h` page, or `None` when it is used as it is.
fn working_size(w: u32, h: u32, max_working_side_px: u32) -> Result<Option<(u32, u32)>, Error> {
    let long_side = w.max(h);
    if long_side <= max_working_side_px {
        return Ok(None);
    }
    let scale = max_working_side_px as f64 / long_side as f64;
    let nw = ((w as f64 * scale).round() as u32).clamp(1, max_working_side_px);
    let nh = ((h as f64 * scale).round() as u32).clamp(1, max_working_side_px);
    // Later stages expect a page-like raster; a 300×60000 strip would be 20 px wide here.
    if nw.min(nh) < MIN_SIDE_PX {
        return Err(Error::TooNarrow {
            width: w,
            height: h,
        });
    }
    Ok(Some((nw, nh)))
}

fn classify(
    e: image::ImageError,
    format: &str,
    size: Option<(u32, u32)>,
    limits: &DecodeLimits,
) -> Error {
    match e {
        image::ImageError::Limits(_) => match size {
            Some((width, height)) => Error::TooLarge {
                width,
                height,
                limit: memory_limit(limits),
            },
            None => Error::TooLargeToDecode {
                format: format.to_string(),
                limit: memory_limit(limits),
            },
        },
        image::ImageError::Unsupported(u) => Error::UnsupportedFeature {
            format: format.to_string(),
            feature: u.to_string(),
        },
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            truncated(format)
        }
        other => {
            // "Format error decoding Png: <reason>" would name the format twice.
            let reason = match &other {
                image::ImageError::Decoding(d) => std::error::Error::source(d)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| d.to_string()),
                _ => other.to_string(),
            };
            let lower = reason.to_ascii_lowercase();
            if [
                "not enough bytes",
                "unexpected end",
                "unexpected eof",
                "end of file",
            ]
            .iter()
            .any(|m| lower.contains(m))
            {
                return truncated(format);
            }
            Error::Corrupt {
                format: format.to_string(),
                reason: reason.trim().to_string(),
            }
        }
    }
}

fn truncated(format: &str) -> Error {
    Error::Corrupt {
        format: format.to_string(),
        reason: "the file ends before the image does (truncated?)".to_string(),
    }
}

/// True when a JPEG has no end-of-image marker after its first scan. Inside entropy-coded
/// data every 0xFF byte is followed by 0x00 or a restart marker, so an FF D9 found there is
/// the real end; thumbnails sit in the header segments, before the first scan.
fn jpeg_is_truncated(b: &[u8]) -> bool {
    let mut at = 2; // after SOI
    loop {
        // Segments: FF, marker (fill bytes FF may repeat), big-endian length including itself.
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (b.get(at), b.get(at + 1)) else {
            return true;
        };
        if marker == 0xD9 {
            return false; // an image without a scan: let the decoder judge it
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            at += 2; // markers without a length
            continue;
        }
        let Some(len) = b
            .get(at + 2..at + 4)
            .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
        else {
            return true;
        };
        if marker == 0xDA {
            let scan = b.get(at + 2 + len..).unwrap_or(&[]);
            return !scan.windows(2).any(|w| w == [0xFF, 0xD9]);
        }
        at += 2 + len;
    }
}

fn swaps_axes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
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

/// Where each of `n_in` source pixels lands among `n_out <= n_in` output pixels: the output
/// index it starts in, and the share of it that falls there (the rest falls into the next).
pub(crate) fn area_map(n_in: u32, n_out: u32) -> Vec<(u32, f32)> {
    let step = n_out as f64 / n_in as f64; // output pixels per source pixel, at most 1
    (0..n_in)
        .map(|i| {
            let lo = i as f64 * step;
            let o = (lo.floor() as u32).min(n_out - 1);
            let first = ((o + 1) as f64).min(lo + step) - lo;
            (o, (first / step).clamp(0.0, 1.0) as f32)
        })
        .collect()
}

/// Reduces `img` to `nw`×`nh` by averaging the source area under each output pixel. Source
/// rows are converted to RGB `BAND_ROWS` at a time, so memory stays at the output plus a band.
fn downscale_area(img: &DynamicImage, nw: u32, nh: u32) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let xs = area_map(w, nw);
    let ys = area_map(h, nh);
    let row_len = nw as usize * 3;
    // Sums for the current output row, and for the next one, which straddling rows spill into.
    let mut acc = vec![0f32; row_len];
    let mut spill = vec![0f32; row_len];
    let mut line = vec![0f32; row_len];
    let mut out = RgbImage::new(nw, nh);
    let norm = (nw as f64 * nh as f64 / (w as f64 * h as f64)) as f32;
    let mut out_y = 0u32;
    let mut finish_row = |acc: &mut Vec<f32>, spill: &mut Vec<f32>, out_y: &mut u32| {
        if *out_y < nh {
            let dst = &mut out.as_mut()[*out_y as usize * row_len..][..row_len];
            for (d, &a) in dst.iter_mut().zip(acc.iter()) {
                *d = (a * norm).round().clamp(0.0, 255.0) as u8;
            }
        }
        acc.fill(0.0);
        std::mem::swap(acc, spill);
        *out_y += 1;
    };
    let mut y0 = 0;
    while y0 < h {
        let band_h = BAND_ROWS.min(h - y0);
        let band = flatten_alpha(img.crop_imm(0, y0, w, band_h));
        for (by, row) in band.as_raw().chunks_exact(w as usize * 3).enumerate() {
            let (oy, share_y) = ys[y0 as usize + by];
            while out_y < oy {
                finish_row(&mut acc, &mut spill, &mut out_y);
            }
            line.fill(0.0);
            for (px, &(ox, share_x)) in row.chunks_exact(3).zip(&xs) {
                let i = ox as usize * 3;
                for c in 0..3 {
                    let v = px[c] as f32;
                    line[i + c] += v * share_x;
                    if share_x < 1.0 && i + 3 < row_len {
                        line[i + 3 + c] += v * (1.0 - share_x);
                    }
                }
            }
            for ((a, s), &l) in acc.iter_mut().zip(spill.iter_mut()).zip(&line) {
                *a += l * share_y;
                *s += l * (1.0 - share_y);
            }
        }
        y0 += band_h;
    }
    while out_y < nh {
        finish_row(&mut acc, &mut spill, &mut out_y);
    }
    out
}

/// "Only the first page was read", for multi-page TIFFs and animations; `None` for one page.
fn extra_pages_warning(format: ImageFormat, bytes: &[u8]) -> Option<String> {
    let (count, unit) = match format {
        ImageFormat::Tiff => (tiff_page_count(bytes), "pages"),
        ImageFormat::Gif => (gif_frame_count(bytes), "frames"),
        ImageFormat::WebP => (webp_frame_count(bytes), "frames"),
        _ => return None,
    };
    let at_least = if count >= MAX_PAGES_COUNTED {
        "at least "
    } else {
        ""
    };
    (count > 1).then(|| {
        format!(
            "the {} has {at_least}{count} {unit}; only the first was read",
            format_name(format)
        )
    })
}

/// Number of image file directories (pages) in a TIFF or BigTIFF, following the IFD chain.
fn tiff_page_count(b: &[u8]) -> usize {
    let le = match b.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return 1,
    };
    let read = |at: u64, n: usize| -> Option<u64> {
        let at = usize::try_from(at).ok()?;
        let s = b.get(at..at.checked_add(n)?)?;
        let v = if le {
            s.iter().rev().fold(0u64, |v, &x| (v << 8) | x as u64)
        } else {
            s.iter().fold(0u64, |v, &x| (v << 8) | x as u64)
        };
        Some(v)
    };
    let big = match read(2, 2) {
        Some(42) => false,
        Some(43) => true,
        _ => return 1,
    };
    let (count_len, entry_len, offset_len) = if big { (8, 20, 8) } else { (2, 12, 4) };
    let mut offset = read(if big { 8 } else { 4 }, offset_len);
    let mut seen: Vec<u64> = Vec::new();
    while let Some(at) = offset.filter(|&o| o != 0) {
        if seen.contains(&at) || seen.len() >= MAX_PAGES_COUNTED {
            break;
        }
        let Some(entries) = read(at, count_len) else {
            break;
        };
        seen.push(at);
        offset = entries
            .checked_mul(entry_len)
            .and_then(|n| n.checked_add(at.checked_add(count_len as u64)?))
            .and_then(|next| read(next, offset_len));
    }
    seen.len().max(1)
}

/// Number of image descriptors in a GIF, walking its blocks without decoding any pixel.
fn gif_frame_count(b: &[u8]) -> usize {
    let table_len = |flags: u8| {
        if flags & 0x80 != 0 {
            3usize << ((flags & 7) + 1)
        } else {
            0
        }
    };
    // Skips the data sub-blocks starting at `at`; returns the index after their terminator.
    let skip_sub_blocks = |mut at: usize| -> Option<usize> {
        loop {
            let n = *b.get(at)? as usize;
            at += 1 + n;
            if n == 0 {
                return Some(at);
            }
        }
    };
    let Some(&flags) = b.get(10) else {
        return 1;
    };
    let mut at = 13 + table_len(flags);
    let mut frames = 0;
    while frames < MAX_PAGES_COUNTED {
        let next = match b.get(at) {
            Some(0x21) => skip_sub_blocks(at + 2),
            Some(0x2C) => {
                frames += 1;
                // 10-byte descriptor, optional local colour table, LZW code size, data.
                b.get(at + 9)
                    .and_then(|&f| skip_sub_blocks(at + 10 + table_len(f) + 1))
            }
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    frames.max(1)
}

/// Number of ANMF (animation frame) chunks in a WebP's RIFF container.
fn webp_frame_count(b: &[u8]) -> usize {
    let mut at = 12usize;
    let mut frames = 0;
    while frames < MAX_PAGES_COUNTED {
        let Some(header) = at.checked_add(8).and_then(|end| b.get(at..end)) else {
            break;
        };
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"ANMF" {
            frames += 1;
        }
        // Chunks are padded to an even length.
        match len
            .checked_add(8 + (len & 1))
            .and_then(|n| at.checked_add(n))
        {
            Some(n) => at = n,
            None => break,
        }
    }
    frames.max(1)
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Farbfeld => "Farbfeld",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Qoi => "QOI",
        other => other.extensions_str().first().copied().unwrap_or("unknown"),
    }
}

/// Formats recognised by their magic bytes that we deliberately do not decode, with what the
/// user can do instead.
fn refused_format(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    let head = &bytes[..bytes.len().min(1024)];
    // PDF readers accept the marker anywhere in the first kilobyte.
    if head.windows(5).any(|w| w == b"%PDF-") || bytes.starts_with(b"%PDF") {
        return Some((
            "PDF",
            "open the PDF and export or screenshot the ECG page as PNG or JPEG",
        ));
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        if [
            b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis",
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
    if bytes.get(128..132) == Some(b"DICM") {
        return Some((
            "DICOM",
            "export the ECG page from the DICOM viewer as PNG or JPEG (a DICOM waveform ECG is already digital and needs no digitizing)",
        ));
    }
    if bytes.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") || bytes.starts_with(b"\xff\x4f\xff\x51") {
        return Some(("JPEG 2000", "convert the image to PNG or JPEG"));
    }
    if bytes.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") || bytes.starts_with(b"\xff\x0a") {
        return Some(("JPEG XL", "convert the image to PNG or JPEG"));
    }
    if bytes.starts_with(b"8BPS") {
        return Some(("Photoshop", "export the image as PNG or JPEG"));
    }
    if bytes.starts_with(b"%!PS") || bytes.starts_with(b"\xc5\xd0\xd3\xc6") {
        return Some(("PostScript", "print or export the page to PNG or JPEG"));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Some((
            "ZIP",
            "unpack the archive (or the document) and digitize the images inside one by one",
        ));
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(256)]).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
        return Some(("SVG", "export the drawing as PNG"));
    }
    if text.starts_with("<?xml") {
        return Some((
            "XML",
            "if this is an ECG export (HL7 aECG, Philips, GE MUSE) it already holds the digital signal; otherwise export the page as PNG or JPEG",
        ));
    }
    if text.starts_with("<!doctype html") || text.starts_with("<html") {
        return Some((
            "HTML",
            "this is a web page: save the ECG image itself (right click › Save image as)",
        ));
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
    fn the_resolution_a_file_states_is_read() {
        let img = RgbImage::from_pixel(300, 220, image::Rgb([250, 240, 240]));
        let png = crate::render::to_png_at_dpi(&img, 150.0);
        let d = decode(&png, &DecodeLimits::default(), 4000).unwrap();
        assert!((d.stored_dpi.unwrap() - 150.0).abs() < 0.05);
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90);
        enc.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(200));
        img.write_with_encoder(enc).unwrap();
        let d = decode(&jpeg, &DecodeLimits::default(), 4000).unwrap();
        assert_eq!(d.stored_dpi, Some(200.0));
        // A file stating nothing (or only an aspect ratio) gives none.
        let d = decode(&png_bytes(300, 220), &DecodeLimits::default(), 4000).unwrap();
        assert_eq!(d.stored_dpi, None);
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

    /// A PNG whose header claims `w`×`h` RGB pixels, with a few bytes of data: tiny on disk.
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut c = !0u32;
            for &b in bytes {
                c ^= b as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut v = (data.len() as u32).to_be_bytes().to_vec();
            let body = [kind, data].concat();
            v.extend_from_slice(&body);
            v.extend_from_slice(&crc32(&body).to_be_bytes());
            v
        };
        let mut ihdr = [w.to_be_bytes(), h.to_be_bytes()].concat();
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        // zlib stream of one stored block of 16 zero bytes
        let mut idat = vec![0x78, 0x01, 0x01, 16, 0, !16, 0xFF];
        idat.extend_from_slice(&[0; 16]);
        idat.extend_from_slice(&0x0010_0001u32.to_be_bytes()); // adler32 of 16 zeros
        [
            b"\x89PNG\r\n\x1a\n".to_vec(),
            chunk(b"IHDR", &ihdr),
            chunk(b"IDAT", &idat),
            chunk(b"IEND", &[]),
        ]
        .concat()
    }

    #[test]
    fn huge_headers_are_refused_with_their_real_size() {
        let limits = DecodeLimits::default();
        for (w, h, limit) in [
            (20_000, 30_000, "100 megapixels"),
            (70_000, 300, "65000 px per side"),
            (1, 100_000, "65000 px per side"),
        ] {
            let err = decode(&png_claiming(w, h), &limits, 4000).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("the image is {w}×{h} px, above the limit of {limit}")
            );
        }
    }

    #[test]
    fn decoder_limit_errors_name_the_size_or_say_it_is_unknown() {
        // The decoders' own limits rarely fire first (the file-size and header checks do),
        // but when one does, the message must not invent a size.
        let limit_error = || {
            image::ImageError::Limits(image::error::LimitError::from_kind(
                image::error::LimitErrorKind::InsufficientMemory,
            ))
        };
        let limits = DecodeLimits::default();
        assert_eq!(
            classify(limit_error(), "TIFF", None, &limits).to_string(),
            "the TIFF image is too large to decode within the limit of 1024 MiB of decoded memory"
        );
        assert_eq!(
            classify(limit_error(), "TIFF", Some((9000, 9000)), &limits).to_string(),
            "the image is 9000×9000 px, above the limit of 1024 MiB of decoded memory"
        );
    }

    #[test]
    fn decoded_memory_is_checked_before_allocation() {
        let limits = DecodeLimits {
            max_alloc_bytes: 100_000,
            ..DecodeLimits::default()
        };
        let err = decode(&png_bytes(300, 300), &limits, 4000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the image is 300×300 px, above the limit of 100000 bytes of decoded memory"
        );
        let limits = DecodeLimits {
            max_alloc_bytes: 2 << 20,
            ..DecodeLimits::default()
        };
        let err = decode(&png_claiming(2000, 2000), &limits, 4000).unwrap_err();
        assert!(
            err.to_string().ends_with("2 MiB of decoded memory"),
            "{err}"
        );
        assert!(!err.to_string().contains("0×0"), "{err}");
    }

    #[test]
    fn files_larger_than_the_memory_limit_are_refused_unread() {
        let limits = DecodeLimits {
            max_alloc_bytes: 4 << 20,
            ..DecodeLimits::default()
        };
        let bytes = [png_bytes(300, 300), vec![0; 5 << 20]].concat();
        assert_eq!(
            decode(&bytes, &limits, 4000).unwrap_err().to_string(),
            "the file is 6 MiB, above the limit of 4 MiB"
        );
        assert!(check_file_size(4 << 20, &limits).is_ok());
    }

    #[test]
    fn long_narrow_strips_are_refused() {
        let err = decode(&png_claiming(300, 30_000), &DecodeLimits::default(), 4000).unwrap_err();
        assert_eq!(
            err,
            Error::TooNarrow {
                width: 300,
                height: 30_000
            }
        );
    }

    #[test]
    fn area_downscale_keeps_flat_colour_and_averages_blocks() {
        let flat =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(1000, 700, image::Rgb([200, 10, 99])));
        for (nw, nh) in [(333, 233), (999, 699), (1, 1), (500, 350)] {
            let small = downscale_area(&flat, nw, nh);
            assert_eq!(small.dimensions(), (nw, nh));
            assert!(small.pixels().all(|p| p.0 == [200, 10, 99]), "{nw}×{nh}");
        }
        // 2×2 blocks of black and white average to mid grey; stripes one pixel wide vanish.
        let stripes = RgbImage::from_fn(400, 300, |x, _| {
            image::Rgb(if x % 2 == 0 { [0; 3] } else { [255; 3] })
        });
        let small = downscale_area(&DynamicImage::ImageRgb8(stripes), 200, 150);
        assert!(small.pixels().all(|p| p.0 == [128; 3]));
    }

    #[test]
    fn area_shares_cover_each_output_pixel_once() {
        for (n_in, n_out) in [(10, 3), (4001, 4000), (7, 7), (100_000, 4000)] {
            let mut cover = vec![0f64; n_out as usize];
            for (o, share) in area_map(n_in, n_out) {
                cover[o as usize] += share as f64;
                if share < 1.0 {
                    cover[o as usize + 1] += 1.0 - share as f64;
                }
            }
            let per_output = n_in as f64 / n_out as f64;
            assert!(
                cover
                    .iter()
                    .all(|c| (c - per_output).abs() < 1e-3 * per_output),
                "{n_in}→{n_out}"
            );
        }
    }

    #[test]
    fn tiff_pages_are_counted_along_the_ifd_chain() {
        // Little-endian header, then IFDs of zero entries at 8, 14 and 20; the last ends it.
        let mut b = b"II*\0\x08\0\0\0".to_vec();
        for next in [14u32, 20, 0] {
            b.extend_from_slice(&0u16.to_le_bytes());
            b.extend_from_slice(&next.to_le_bytes());
        }
        assert_eq!(tiff_page_count(&b), 3);
        // An IFD pointing at itself is one page, not an endless loop.
        let looped = [b"II*\0\x08\0\0\0".as_slice(), &[0, 0, 8, 0, 0, 0]].concat();
        assert_eq!(tiff_page_count(&looped), 1);
        assert_eq!(tiff_page_count(b"II*\0\xff\xff\xff\xff"), 1);
        assert_eq!(tiff_page_count(b"MM"), 1);
    }

    #[test]
    fn gif_and_webp_frames_are_counted_without_decoding() {
        let frames: Vec<image::Frame> = (0..3)
            .map(|i| {
                image::Frame::new(image::RgbaImage::from_pixel(
                    4,
                    4,
                    image::Rgba([i * 50, 0, 0, 255]),
                ))
            })
            .collect();
        let mut gif = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
            enc.encode_frames(frames).unwrap();
        }
        assert_eq!(gif_frame_count(&gif), 3);
        assert!((1..=3).contains(&gif_frame_count(&gif[..gif.len() / 2])));
        assert_eq!(gif_frame_count(b"GIF89a"), 1);
        let chunk = |kind: &[u8], len: u32| {
            [
                kind,
                &len.to_le_bytes(),
                &vec![0; len as usize + (len & 1) as usize],
            ]
            .concat()
        };
        let webp = [
            b"RIFF\0\0\0\0WEBP".to_vec(),
            chunk(b"VP8X", 10),
            chunk(b"ANIM", 6),
            chunk(b"ANMF", 17),
            chunk(b"ANMF", 20),
        ]
        .concat();
        assert_eq!(webp_frame_count(&webp), 2);
        let mut endless = b"RIFF\0\0\0\0WEBPANMF".to_vec();
        endless.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(webp_frame_count(&endless), 1);
    }

    #[test]
    fn jpeg_without_its_end_marker_is_truncated() {
        let img = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 77])
        });
        let mut jpg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpg), ImageFormat::Jpeg)
            .unwrap();
        assert!(!jpeg_is_truncated(&jpg));
        let mut trailing = jpg.clone();
        trailing.extend_from_slice(b"camera maker's trailer");
        assert!(!jpeg_is_truncated(&trailing));
        for cut in [jpg.len() - 2, jpg.len() * 3 / 4, 300, 20, 3] {
            assert!(jpeg_is_truncated(&jpg[..cut]), "cut at {cut}");
        }
        // Refused as truncated before the size check could call it small.
        let err = decode(&jpg[..jpg.len() - 40], &DecodeLimits::default(), 4000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the JPEG image could not be decoded: the file ends before the image does (truncated?)"
        );
    }

    #[test]
    fn foreign_formats_are_refused_by_name() {
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\x02\0");
        let cases: [(&[u8], &str); 6] = [
            (&dicom, "DICOM"),
            (b"qoif\0\0\x01\0\0\0\x01\0\x03\0", "QOI"),
            (b"PK\x03\x04\x14\0\0\0", "ZIP"),
            (
                b"\xef\xbb\xbf  <?xml version=\"1.0\"?><AnnotatedECG>",
                "XML",
            ),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\">", "SVG"),
            (b"junk before the marker %PDF-1.7", "PDF"),
        ];
        for (bytes, format) in cases {
            match decode(bytes, &DecodeLimits::default(), 4000) {
                Err(Error::UnsupportedFormat { format: f, .. }) => assert_eq!(f, format),
                other => panic!("{format}: {other:?}"),
            }
        }
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
