//! QR images: the module matrix from qrcodegen, written as SVG (with an optional caption)
//! or PNG, ZIP files of many, and printable A4 label sheets (SVG, millimetre units).
//!
//! Every size is bounded: a code holds at most [`MAX_URL_CHARS`] characters, a PNG is at
//! most [`MAX_PNG_SIDE`] pixels a side (two colours, one bit a pixel), and ZIP files are
//! written to any writer as they are made, so an export is never held whole in memory.

use std::collections::HashSet;
use std::io::Write;

use baoxiu_core::{DomainError, DomainResult, FieldError};
use qrcodegen::{QrCode, QrCodeEcc};
use serde::Deserialize;

use crate::qr::{ErrorCorrection, QrStyle};

/// The longest URL a code may hold, counted once `{host}`, `{slug}` and `{code}` are
/// filled in. At the high error correction level it makes a code of 117 × 117 modules.
pub const MAX_URL_CHARS: usize = 512;

/// The widest (and tallest) PNG image, in pixels: a code that would be larger at the
/// style's pixels per module gets as many pixels per module as fit.
pub const MAX_PNG_SIDE: usize = 2048;

/// The URL, as it will be printed, fits a code.
pub fn check_url(text: &str) -> DomainResult<()> {
    let length = text.chars().count();
    if length > MAX_URL_CHARS {
        return Err(DomainError::invalid(
            "url_template",
            "too_long",
            format!(
                "the URL in the code is {length} characters once {{host}}, {{slug}} and {{code}} \
                 are filled in; at most {MAX_URL_CHARS}"
            ),
        ));
    }
    Ok(())
}

fn matrix(text: &str, ecc: ErrorCorrection) -> DomainResult<QrCode> {
    check_url(text)?;
    let ecc = match ecc {
        ErrorCorrection::Low => QrCodeEcc::Low,
        ErrorCorrection::Medium => QrCodeEcc::Medium,
        ErrorCorrection::Quartile => QrCodeEcc::Quartile,
        ErrorCorrection::High => QrCodeEcc::High,
    };
    QrCode::encode_text(text, ecc).map_err(|_| {
        DomainError::invalid(
            "url_template",
            "too_long",
            "the URL is too long for a QR code",
        )
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The dark modules as one SVG path, offset by the quiet zone, in module units.
fn path(qr: &QrCode, quiet: i32) -> String {
    let mut d = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                d.push_str(&format!("M{},{}h1v1h-1z", x + quiet, y + quiet));
            }
        }
    }
    d
}

/// One code as SVG; the caption, if any, under it.
pub fn svg(text: &str, style: &QrStyle, caption: Option<&str>) -> DomainResult<String> {
    let qr = matrix(text, style.error_correction)?;
    let quiet = i32::try_from(style.quiet_zone).unwrap_or(4);
    let side = qr.size() + 2 * quiet;
    let caption_height = if caption.is_some() { 4 } else { 0 };
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 {side} {height}\" \
         stroke=\"none\" shape-rendering=\"crispEdges\">\n<rect width=\"100%\" height=\"100%\" fill=\"{bg}\"/>\n<path d=\"{d}\" fill=\"{fg}\"/>\n",
        height = side + caption_height,
        bg = escape(&style.background),
        fg = escape(&style.foreground),
        d = path(&qr, quiet),
    );
    if let Some(caption) = caption {
        out.push_str(&format!(
            "<text x=\"{x}\" y=\"{y}\" font-size=\"2.5\" text-anchor=\"middle\" font-family=\"sans-serif\" fill=\"{fg}\">{text}</text>\n",
            x = f64::from(side) / 2.0,
            y = side + 2,
            fg = escape(&style.foreground),
            text = escape(caption),
        ));
    }
    out.push_str("</svg>\n");
    Ok(out)
}

fn rgb(colour: &str) -> [u8; 3] {
    let channel = |i: usize| {
        colour
            .get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0)
    };
    [channel(1), channel(3), channel(5)]
}

/// Pixels per module, the image's side in pixels and the quiet zone in modules of a PNG
/// of `qr`: the style's pixels per module, or fewer, to stay within [`MAX_PNG_SIDE`].
fn png_geometry(qr: &QrCode, style: &QrStyle) -> (usize, usize, i32) {
    let quiet = i32::try_from(style.quiet_zone.min(10)).unwrap_or(4);
    let modules = usize::try_from(qr.size() + 2 * quiet).unwrap_or(1).max(1);
    let px = usize::try_from(style.module_px.clamp(1, 40))
        .unwrap_or(8)
        .min(MAX_PNG_SIDE / modules)
        .max(1);
    (px, modules * px, quiet)
}

/// Writes `qr` as a two-colour PNG (one bit a pixel, the style's colours as its palette),
/// one row at a time.
fn write_png<W: Write>(qr: &QrCode, style: &QrStyle, out: W) -> DomainResult<()> {
    let failed = |e: png::EncodingError| DomainError::Internal(format!("PNG encoding failed: {e}"));
    let (px, side, quiet) = png_geometry(qr, style);
    let side_px = u32::try_from(side).unwrap_or(1);
    let mut encoder = png::Encoder::new(out, side_px, side_px);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::One);
    // Index 0 is the background, 1 the foreground.
    encoder.set_palette([rgb(&style.background), rgb(&style.foreground)].concat());
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(failed)?;
    {
        let mut stream = writer.stream_writer().map_err(failed)?;
        let mut row = vec![0u8; side.div_ceil(8)];
        let modules = side / px;
        for module_y in 0..modules {
            row.fill(0);
            let y = i32::try_from(module_y).unwrap_or(0) - quiet;
            for x_px in 0..side {
                let x = i32::try_from(x_px / px).unwrap_or(0) - quiet;
                if qr.get_module(x, y) {
                    row[x_px / 8] |= 0x80 >> (x_px % 8);
                }
            }
            // A module is `px` identical rows of pixels.
            for _ in 0..px {
                stream
                    .write_all(&row)
                    .map_err(|e| DomainError::Internal(format!("PNG encoding failed: {e}")))?;
            }
        }
        stream.finish().map_err(failed)?;
    }
    writer.finish().map_err(failed)
}

/// One code as PNG (no caption: captions are for the SVG labels), at most
/// [`MAX_PNG_SIDE`] pixels a side.
pub fn png(text: &str, style: &QrStyle) -> DomainResult<Vec<u8>> {
    let qr = matrix(text, style.error_correction)?;
    let mut out = Vec::new();
    write_png(&qr, style, &mut out)?;
    Ok(out)
}

/// One label: what the code says and the caption under it.
#[derive(Debug, Clone)]
pub struct Label {
    pub text: String,
    pub caption: Option<String>,
}

/// `labels` labels fit on one A4 sheet of `rows` × `columns`.
pub fn check_sheet(labels: usize, rows: u32, columns: u32) -> DomainResult<()> {
    let mut errors = Vec::new();
    if !(1..=20).contains(&rows) {
        errors.push(FieldError::new(
            "rows",
            "out_of_range",
            "must be from 1 to 20",
        ));
    }
    if !(1..=10).contains(&columns) {
        errors.push(FieldError::new(
            "columns",
            "out_of_range",
            "must be from 1 to 10",
        ));
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let capacity = usize::try_from(rows * columns).unwrap_or(0);
    if labels == 0 || labels > capacity {
        return Err(DomainError::invalid(
            "codes",
            "out_of_range",
            format!(
                "1 to {capacity} codes fit on a sheet of {rows} × {columns} (label_sheets_zip takes more)"
            ),
        ));
    }
    Ok(())
}

/// An A4 sheet (210 × 297 mm) of `rows` × `columns` labels, in reading order.
pub fn label_sheet(
    labels: &[Label],
    style: &QrStyle,
    rows: u32,
    columns: u32,
) -> DomainResult<String> {
    check_sheet(labels.len(), rows, columns)?;
    let (margin, width, height) = (10.0, 210.0, 297.0);
    let cell_w = (width - 2.0 * margin) / f64::from(columns);
    let cell_h = (height - 2.0 * margin) / f64::from(rows);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"210mm\" height=\"297mm\" \
         viewBox=\"0 0 {width} {height}\" shape-rendering=\"crispEdges\">\n<rect width=\"100%\" height=\"100%\" fill=\"#FFFFFF\"/>\n"
    );
    for (i, label) in labels.iter().enumerate() {
        let qr = matrix(&label.text, style.error_correction)?;
        let row = u32::try_from(i).unwrap_or(0) / columns;
        let column = u32::try_from(i).unwrap_or(0) % columns;
        let quiet = i32::try_from(style.quiet_zone).unwrap_or(4);
        let modules = f64::from(qr.size() + 2 * quiet);
        // The code is a square filling the cell's width or its height less the caption.
        let side = cell_w.min(cell_h - 6.0).max(1.0);
        let scale = side / modules;
        let x = margin + f64::from(column) * cell_w + (cell_w - side) / 2.0;
        let y = margin + f64::from(row) * cell_h;
        out.push_str(&format!(
            "<g class=\"label\" transform=\"translate({x:.3} {y:.3}) scale({scale:.5})\"><rect width=\"{modules}\" height=\"{modules}\" fill=\"{bg}\"/><path d=\"{d}\" fill=\"{fg}\"/></g>\n",
            bg = escape(&style.background),
            fg = escape(&style.foreground),
            d = path(&qr, quiet),
        ));
        if let Some(caption) = &label.caption {
            out.push_str(&format!(
                "<text x=\"{cx:.3}\" y=\"{cy:.3}\" font-size=\"3.5\" text-anchor=\"middle\" font-family=\"sans-serif\">{text}</text>\n",
                cx = x + side / 2.0,
                cy = y + side + 4.5,
                text = escape(caption),
            ));
        }
    }
    out.push_str("</svg>\n");
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageFormat {
    /// SVG, with the caption under the code.
    Svg,
    /// PNG, the code alone.
    Png,
}

/// A file name made of the code: characters a file system might refuse become `_`.
fn file_stem(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A ZIP file of one image per label, named after each label's code (`ABC0001.svg`).
pub fn images_zip(
    labels: &[(String, Label)],
    style: &QrStyle,
    format: ImageFormat,
) -> DomainResult<Vec<u8>> {
    write_images_zip(labels, style, format, Vec::new())
}

/// Writes [`images_zip`] to `out` image by image, and answers `out`: nothing but the
/// image being drawn is held in memory. Every URL is checked first, so a URL that does
/// not fit fails before anything is written.
pub fn write_images_zip<W: Write>(
    labels: &[(String, Label)],
    style: &QrStyle,
    format: ImageFormat,
    out: W,
) -> DomainResult<W> {
    for (_, label) in labels {
        check_url(&label.text)?;
    }
    let mut zip = ZipOut::new(out);
    let mut names = HashSet::new();
    for (code, label) in labels {
        let extension = match format {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        };
        let stem = file_stem(code);
        // Two codes that differ only in characters a file name cannot hold.
        let name = (1..)
            .map(|n| match n {
                1 => format!("{stem}.{extension}"),
                _ => format!("{stem}-{n}.{extension}"),
            })
            .find(|name| !names.contains(name))
            .unwrap_or_default();
        names.insert(name.clone());
        match format {
            ImageFormat::Svg => {
                let image = svg(&label.text, style, label.caption.as_deref())?;
                zip.file(name, true, image.as_bytes())?;
            }
            ImageFormat::Png => {
                let qr = matrix(&label.text, style.error_correction)?;
                // PNG data is compressed already.
                zip.start(name, false)?;
                write_png(&qr, style, &mut zip.writer)?;
            }
        }
    }
    zip.finish()
}

/// As many A4 label sheets as the labels need, in a ZIP file (`sheet-001.svg`, ...).
pub fn label_sheets_zip(
    labels: &[Label],
    style: &QrStyle,
    rows: u32,
    columns: u32,
) -> DomainResult<Vec<u8>> {
    write_label_sheets_zip(labels, style, rows, columns, Vec::new())
}

/// Writes [`label_sheets_zip`] to `out` sheet by sheet, and answers `out`; the layout and
/// every URL are checked before anything is written.
pub fn write_label_sheets_zip<W: Write>(
    labels: &[Label],
    style: &QrStyle,
    rows: u32,
    columns: u32,
    out: W,
) -> DomainResult<W> {
    let per_sheet = usize::try_from(rows.saturating_mul(columns))
        .unwrap_or(1)
        .max(1);
    for page in labels.chunks(per_sheet) {
        check_sheet(page.len(), rows, columns)?;
    }
    for label in labels {
        check_url(&label.text)?;
    }
    let mut zip = ZipOut::new(out);
    for (i, page) in labels.chunks(per_sheet).enumerate() {
        let sheet = label_sheet(page, style, rows, columns)?;
        zip.file(format!("sheet-{:03}.svg", i + 1), true, sheet.as_bytes())?;
    }
    zip.finish()
}

/// A ZIP file written front to back, never seeking back: it streams.
struct ZipOut<W: Write> {
    writer: zip::ZipWriter<zip::write::StreamWriter<W>>,
}

fn zip_failed(e: &dyn std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("zip: {e}"))
}

impl<W: Write> ZipOut<W> {
    fn new(out: W) -> Self {
        Self {
            writer: zip::ZipWriter::new_stream(out),
        }
    }

    fn start(&mut self, name: String, compress: bool) -> DomainResult<()> {
        let method = if compress {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        self.writer
            .start_file(name, options)
            .map_err(|e| zip_failed(&e))
    }

    fn file(&mut self, name: String, compress: bool, bytes: &[u8]) -> DomainResult<()> {
        self.start(name, compress)?;
        self.writer.write_all(bytes).map_err(|e| zip_failed(&e))
    }

    fn finish(self) -> DomainResult<W> {
        Ok(self
            .writer
            .finish()
            .map_err(|e| zip_failed(&e))?
            .into_inner())
    }
}
