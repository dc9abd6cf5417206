//! Typed errors. Every message is written for the person who dropped the file in.

use thiserror::Error;

/// Why a page could not be digitized. The `Display` text is shown to users verbatim.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// The input holds no bytes at all.
    #[error("the file is empty")]
    Empty,
    /// A known format that is deliberately not decoded (PDF, HEIC, ...).
    #[error("{format} files are not supported: {hint}")]
    UnsupportedFormat {
        /// Name of the detected format.
        format: String,
        /// How the user can get an image the digitizer reads.
        hint: String,
    },
    /// The bytes are not any image format we know.
    #[error("not an image: the file is not PNG, JPEG, BMP, TIFF, WebP or GIF")]
    NotAnImage,
    /// The decoder failed part-way, e.g. a truncated or corrupt file.
    #[error("the {format} image could not be decoded: {reason}")]
    Corrupt {
        /// Name of the detected format.
        format: String,
        /// The decoder's own explanation.
        reason: String,
    },
    /// The image exceeds the configured dimension or memory limits.
    #[error("the image is {width}×{height} px, above the limit of {limit}")]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The limit that was hit, in words.
        limit: String,
    },
    /// The file itself is larger than anything the decoder would accept.
    #[error("the file is {mib} MiB, above the limit of {limit_mib} MiB")]
    FileTooLarge {
        /// File size in MiB, rounded up.
        mib: u64,
        /// The largest accepted file, in MiB.
        limit_mib: u64,
    },
    /// The decoder hit the memory limit before the image's size was known.
    #[error("the {format} image is too large to decode within the limit of {limit}")]
    TooLargeToDecode {
        /// Name of the detected format.
        format: String,
        /// The limit that was hit, in words.
        limit: String,
    },
    /// The image is so long and narrow that its short side vanishes at working resolution.
    #[error("the image is {width}×{height} px: too long and narrow to hold an ECG page")]
    TooNarrow {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A supported format, but this file uses a variant of it the decoder cannot read.
    #[error("this {format} file uses a feature the decoder cannot read ({feature}): convert it to PNG or JPEG")]
    UnsupportedFeature {
        /// Name of the detected format.
        format: String,
        /// The decoder's description of the feature.
        feature: String,
    },
    /// The image is too small to hold a readable ECG.
    #[error("the image is {width}×{height} px: too small to hold an ECG")]
    TooSmall {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The page is mostly dark ink or noise, unlike any printout.
    #[error("{percent}% of the image is dark ink or noise: is this an ECG printout?")]
    TooMuchInk {
        /// Share of pixels read as ink.
        percent: u32,
    },
    /// Grid and trace search found nothing that looks like an ECG.
    #[error("no ECG trace rows found: is this an ECG printout?")]
    NoTraces,
    /// Trace rows were found, but not in any layout we know.
    #[error("{0}")]
    LayoutNotRecognised(String),
    /// An option given by the user is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}
