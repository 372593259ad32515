//! QR images: the module matrix from qrcodegen, written as SVG (with an optional caption)
//! or PNG, ZIP files of many, and printable A4 label sheets (SVG, millimetre units).

use std::collections::HashSet;
use std::io::Write;

use baoxiu_core::{DomainError, DomainResult};
use qrcodegen::{QrCode, QrCodeEcc};
use serde::Deserialize;

use crate::qr::{ErrorCorrection, QrStyle};

fn matrix(text: &str, ecc: ErrorCorrection) -> DomainResult<QrCode> {
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

/// One code as PNG (no caption: captions are for the SVG labels).
pub fn png(text: &str, style: &QrStyle) -> DomainResult<Vec<u8>> {
    let qr = matrix(text, style.error_correction)?;
    let quiet = i32::try_from(style.quiet_zone).unwrap_or(4);
    let px = usize::try_from(style.module_px.clamp(1, 40)).unwrap_or(8);
    let modules = usize::try_from(qr.size() + 2 * quiet).unwrap_or(0);
    let side = modules * px;
    let (fg, bg) = (rgb(&style.foreground), rgb(&style.background));
    let mut pixels = Vec::with_capacity(side * side * 3);
    for py in 0..side {
        for px_x in 0..side {
            let x = i32::try_from(px_x / px).unwrap_or(0) - quiet;
            let y = i32::try_from(py / px).unwrap_or(0) - quiet;
            pixels.extend_from_slice(if qr.get_module(x, y) { &fg } else { &bg });
        }
    }
    let failed = |e: png::EncodingError| DomainError::Internal(format!("PNG encoding failed: {e}"));
    let mut out = Vec::new();
    let side = u32::try_from(side).unwrap_or(0);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(&pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

/// One label: what the code says and the caption under it.
#[derive(Debug, Clone)]
pub struct Label {
    pub text: String,
    pub caption: Option<String>,
}

/// An A4 sheet (210 × 297 mm) of `rows` × `columns` labels, in reading order.
pub fn label_sheet(
    labels: &[Label],
    style: &QrStyle,
    rows: u32,
    columns: u32,
) -> DomainResult<String> {
    if !(1..=20).contains(&rows) || !(1..=10).contains(&columns) {
        return Err(DomainError::invalid(
            "rows",
            "out_of_range",
            "1-20 rows and 1-10 columns",
        ));
    }
    let capacity = usize::try_from(rows * columns).unwrap_or(0);
    if labels.is_empty() || labels.len() > capacity {
        return Err(DomainError::invalid(
            "codes",
            "out_of_range",
            format!(
                "1 to {capacity} codes fit on a sheet of {rows} × {columns} (label_sheets_zip takes more)"
            ),
        ));
    }
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
    let mut names = HashSet::new();
    let mut files = Vec::new();
    for (code, label) in labels {
        let (image, extension) = match format {
            ImageFormat::Svg => (
                svg(&label.text, style, label.caption.as_deref())?.into_bytes(),
                "svg",
            ),
            ImageFormat::Png => (png(&label.text, style)?, "png"),
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
        files.push((name, image));
    }
    zip_files(files)
}

/// As many A4 label sheets as the labels need, in a ZIP file (`sheet-001.svg`, ...).
pub fn label_sheets_zip(
    labels: &[Label],
    style: &QrStyle,
    rows: u32,
    columns: u32,
) -> DomainResult<Vec<u8>> {
    let per_sheet = usize::try_from(rows.saturating_mul(columns))
        .unwrap_or(1)
        .max(1);
    let mut files = Vec::new();
    for (i, page) in labels.chunks(per_sheet).enumerate() {
        let sheet = label_sheet(page, style, rows, columns)?;
        files.push((format!("sheet-{:03}.svg", i + 1), sheet.into_bytes()));
    }
    zip_files(files)
}

fn zip_files(files: Vec<(String, Vec<u8>)>) -> DomainResult<Vec<u8>> {
    let failed = |e: &dyn std::fmt::Display| DomainError::Internal(format!("zip: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name, options).map_err(|e| failed(&e))?;
        zip.write_all(&bytes).map_err(|e| failed(&e))?;
    }
    Ok(zip.finish().map_err(|e| failed(&e))?.into_inner())
}
