//! Generated images decode back to their URL (rqrr), as PNG and as SVG (rendered by
//! resvg), at every error correction level; label sheets hold the codes asked for, and
//! each printed label reads back as its URL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use baoxiu_devices::qr::{Caption, ErrorCorrection, QrStyle};
use baoxiu_devices::render::{self, Label};

const URL: &str = "https://acme.baoxiu.example.com/q/BX000042";

fn style(ecc: ErrorCorrection) -> QrStyle {
    QrStyle {
        module_px: 6,
        quiet_zone: 4,
        error_correction: ecc,
        foreground: "#112233".into(),
        background: "#FFFFFF".into(),
        caption: Caption::Code,
    }
}

fn decode(gray: image::GrayImage) -> String {
    let mut prepared = rqrr::PreparedImage::prepare(gray);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one code in the image");
    grids[0].decode().unwrap().1
}

const LEVELS: [ErrorCorrection; 4] = [
    ErrorCorrection::Low,
    ErrorCorrection::Medium,
    ErrorCorrection::Quartile,
    ErrorCorrection::High,
];

#[test]
fn png_decodes_to_its_url_at_every_level() {
    for ecc in LEVELS {
        let png = render::png(URL, &style(ecc)).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(decode(image), URL, "{ecc:?}");
    }
}

/// Renders an SVG with resvg, `width` pixels wide, on white.
fn rasterise(svg: &str, width: u32) -> image::GrayImage {
    use resvg::{tiny_skia, usvg};
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).unwrap();
    let scale = width as f32 / tree.size().width();
    let height = (tree.size().height() * scale).ceil() as u32;
    let mut pixmap = tiny_skia::Pixmap::new(width, height).unwrap();
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    let rgba = image::RgbaImage::from_raw(width, height, pixmap.data().to_vec()).unwrap();
    image::DynamicImage::ImageRgba8(rgba).to_luma8()
}

#[test]
fn svg_decodes_to_its_url_at_every_level() {
    for ecc in LEVELS {
        let svg = render::svg(URL, &style(ecc), Some("BX000042 <一号机>")).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(
            svg.contains("BX000042 &lt;一号机&gt;"),
            "the caption, escaped"
        );
        assert!(svg.contains("fill=\"#112233\""));
        assert_eq!(decode(rasterise(&svg, 400)), URL, "{ecc:?}");
    }
}

/// The sheet parses as SVG; answers its label groups and caption texts.
fn labels_of(sheet: &str) -> (usize, Vec<String>) {
    let document = roxmltree::Document::parse(sheet).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("210mm"));
    assert_eq!(root.attribute("height"), Some("297mm"));
    let groups = root
        .descendants()
        .filter(|n| n.attribute("class") == Some("label"))
        .count();
    let captions = root
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect();
    (groups, captions)
}

#[test]
fn label_sheets_hold_the_requested_codes() {
    let mut labels: Vec<Label> = (1..=7)
        .map(|i| Label {
            text: format!("https://acme.example.com/q/BX{i:06}"),
            caption: Some(format!("BX{i:06}")),
        })
        .collect();
    // A device name is text anyone with a device may have typed.
    labels[6].caption = Some("</text><script>alert(1)</script> & \"1号\"".into());
    let sheet = render::label_sheet(&labels, &style(ErrorCorrection::Medium), 3, 3).unwrap();
    let (groups, captions) = labels_of(&sheet);
    assert_eq!(groups, 7);
    // Printed at 300 dpi, every label's code reads back as its URL (read one label at a
    // time, where the sheet places it: a detector may pair finder patterns across labels).
    let page = rasterise(&sheet, 2480);
    let px_per_mm = 2480.0 / 210.0;
    let document = roxmltree::Document::parse(&sheet).unwrap();
    let read: Vec<String> = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("label"))
        .map(|label| {
            let transform = label.attribute("transform").unwrap();
            let numbers: Vec<f64> = transform
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect();
            let (x, y, scale) = (numbers[0], numbers[1], numbers[2]);
            let modules: f64 = label
                .first_element_child()
                .unwrap()
                .attribute("width")
                .unwrap()
                .parse()
                .unwrap();
            let side = (modules * scale * px_per_mm) as u32;
            let cell = image::imageops::crop_imm(
                &page,
                (x * px_per_mm) as u32,
                (y * px_per_mm) as u32,
                side,
                side,
            )
            .to_image();
            decode(cell)
        })
        .collect();
    let printed: Vec<String> = labels.iter().map(|l| l.text.clone()).collect();
    assert_eq!(read, printed);
    assert_eq!(captions.len(), 7);
    assert_eq!(captions[0], "BX000001");
    assert_eq!(captions[6], "</text><script>alert(1)</script> & \"1号\"");
    // More codes than cells is refused on one sheet, and fills two in a ZIP.
    assert!(render::label_sheet(&labels, &style(ErrorCorrection::Medium), 2, 3).is_err());
    let zip = render::label_sheets_zip(&labels, &style(ErrorCorrection::Medium), 2, 3).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut per_sheet = Vec::new();
    for name in ["sheet-001.svg", "sheet-002.svg"] {
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut sheet).unwrap();
        per_sheet.push(labels_of(&sheet).0);
    }
    assert_eq!(per_sheet, [6, 1]);
    assert_eq!(zip.len(), 2);
}

#[test]
fn the_longest_url_at_the_largest_style_stays_within_the_pixel_limit() {
    use render::{MAX_PNG_SIDE, MAX_URL_CHARS};
    let base = "https://acme.example.com/q/BX000001?p=";
    let url = format!("{base}{}", "x".repeat(MAX_URL_CHARS - base.len()));
    let largest = QrStyle {
        module_px: 40,
        quiet_zone: 10,
        ..style(ErrorCorrection::High)
    };
    let png = render::png(&url, &largest).unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    assert_eq!(image.width(), image.height());
    assert!(image.width() as usize <= MAX_PNG_SIDE, "{}", image.width());
    // As many whole pixels a module as fit: 117 modules (version 25) and 2 × 10 of border.
    let bare = QrStyle {
        module_px: 1,
        quiet_zone: 0,
        ..largest.clone()
    };
    let modules = image::load_from_memory(&render::png(&url, &bare).unwrap())
        .unwrap()
        .width();
    assert_eq!(modules, 117);
    assert_eq!(image.width(), (2048 / (117 + 20)) * (117 + 20));
    assert_eq!(decode(image), url);
    // One character more is no code at all.
    let refused = render::png(&format!("{url}x"), &largest).unwrap_err();
    assert!(
        matches!(refused, baoxiu_core::DomainError::Validation(_)),
        "{refused:?}"
    );
}
