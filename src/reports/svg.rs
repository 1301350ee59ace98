//! Charts drawn on the server as SVG: no script, readable in black and white (grey bars, the
//! pilot group hatched, every value written beside its bar).

use std::fmt::Write;

/// Text safe inside SVG and HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar: its label, its value (none: no bar, "–"), and whether it is hatched.
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub hatched: bool,
}

const WIDTH: f64 = 640.0;
const LABEL: f64 = 200.0;
const ROW: f64 = 22.0;

/// Horizontal bars, longest to scale, with the values written after them and, when given, a
/// dashed line at the median.
pub fn bars(title: &str, bars: &[Bar], unit: &str, median: Option<f64>) -> String {
    let top = 28.0;
    let height = top + ROW * bars.len() as f64 + 24.0;
    let largest = bars
        .iter()
        .filter_map(|bar| bar.value)
        .chain(median)
        .fold(0.0_f64, f64::max);
    let room = WIDTH - LABEL - 70.0;
    let scale = |value: f64| match largest > 0.0 {
        true => value / largest * room,
        false => 0.0,
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Arial, Helvetica, sans-serif" font-size="12"><title>{title}</title><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#000" stroke-width="2.5"/></pattern></defs><text x="0" y="16" font-size="14" font-weight="bold">{title}</text>"##,
        title = escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = top + ROW * i as f64;
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{ty}" text-anchor="end">{label}</text>"##,
            x = LABEL - 8.0,
            ty = y + 15.0,
            label = escape(&bar.label)
        );
        let shown = match bar.value {
            Some(value) => {
                let fill = if bar.hatched { "url(#hatch)" } else { "#777" };
                let w = scale(value).max(1.0);
                let _ = write!(
                    svg,
                    r##"<rect x="{LABEL}" y="{ry}" width="{w:.1}" height="{h}" fill="{fill}" stroke="#000" stroke-width="0.8"/>"##,
                    ry = y + 3.0,
                    h = ROW - 6.0
                );
                format!("{value}{unit}")
            }
            None => "–".to_owned(),
        };
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{ty}">{shown}</text>"##,
            x = LABEL + bar.value.map_or(0.0, scale) + 6.0,
            ty = y + 15.0,
            shown = escape(&shown)
        );
    }
    if let Some(median) = median {
        let x = LABEL + scale(median);
        let bottom = top + ROW * bars.len() as f64;
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#000" stroke-width="1.5" stroke-dasharray="5 3"/><text x="{x:.1}" y="{ty}" text-anchor="middle">median {median}{unit}</text>"##,
            ty = bottom + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A table of cells shaded by a percentage (white 0 % to dark grey 100 %), each with its value
/// written in it: rows and columns named, `cell(row, column)` the percentage if any.
pub fn grid(
    title: &str,
    rows: &[String],
    columns: &[String],
    cell: impl Fn(usize, usize) -> Option<f64>,
) -> String {
    let (left, top, w, h) = (50.0, 44.0, 46.0, 24.0);
    let width = left + w * columns.len() as f64 + 4.0;
    let height = top + h * rows.len() as f64 + 4.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Arial, Helvetica, sans-serif" font-size="11"><title>{title}</title><text x="0" y="16" font-size="14" font-weight="bold">{title}</text>"##,
        title = escape(title)
    );
    for (c, column) in columns.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{y}" text-anchor="middle">{column}</text>"##,
            x = left + w * c as f64 + w / 2.0,
            y = top - 6.0,
            column = escape(column)
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + h * r as f64;
        let _ = write!(
            svg,
            r##"<text x="0" y="{ty}">{row}</text>"##,
            ty = y + 16.0,
            row = escape(row)
        );
        for c in 0..columns.len() {
            let x = left + w * c as f64;
            let Some(percent) = cell(r, c) else {
                let _ = write!(
                    svg,
                    r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#fff" stroke="#bbb"/>"##
                );
                continue;
            };
            let shade = (255.0 - percent.clamp(0.0, 100.0) * 1.6).round() as u8;
            let ink = if shade < 140 { "#fff" } else { "#000" };
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="rgb({shade},{shade},{shade})" stroke="#000" stroke-width="0.5"/><text x="{tx}" y="{ty}" text-anchor="middle" fill="{ink}">{percent}</text>"##,
                tx = x + w / 2.0,
                ty = y + 16.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}
