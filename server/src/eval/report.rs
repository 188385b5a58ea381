//! Shared report plumbing for the evaluation commands: JSON + Markdown files, PNG plots,
//! progress bars.

use std::path::Path;
use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Where the plot font comes from (Debian's fonts-dejavu-core, installed by scripts/install-deps).
pub const FONT_PATHS: &[&str] =
    &["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"];

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("no font for plot labels; install fonts-dejavu-core (scripts/install-deps)")]
    NoFont,
    #[error("plot {path}: {message}")]
    Plot { path: String, message: String },
}

pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    write_text(path, &text)
}

pub fn write_text(path: &Path, text: &str) -> Result<(), ReportError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.display().to_string(), source })?;
    }
    std::fs::write(path, text).map_err(|source| ReportError::Io { path: path.display().to_string(), source })
}

/// A progress bar on stderr: `label [====>   ] 120/400 eta 3s`.
pub fn progress(len: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar
}

/// Registers the plot font once per process.
pub fn ensure_font() -> Result<(), ReportError> {
    static FONT: OnceLock<bool> = OnceLock::new();
    let ok = FONT.get_or_init(|| {
        let Some(bytes) = FONT_PATHS.iter().find_map(|p| std::fs::read(p).ok()) else {
            return false;
        };
        // plotters keeps a 'static reference; the font lives for the whole process anyway.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    });
    if *ok { Ok(()) } else { Err(ReportError::NoFont) }
}

/// One named curve of a line plot.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Axis settings of a line plot.
pub struct Axes<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    /// log10 x axis (DET/ROC over small error rates).
    pub log_x: bool,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn plot_err(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Plot { path: path.display().to_string(), message: e.to_string() }
}

/// Draws curves into a 900×600 PNG.
pub fn line_plot(path: &Path, axes: &Axes<'_>, series: &[Series]) -> Result<(), ReportError> {
    ensure_font()?;
    let (w, h) = (900u32, 600u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let mut builder = ChartBuilder::on(&root);
        builder.caption(axes.title, ("sans-serif", 22)).margin(16).x_label_area_size(48).y_label_area_size(64);
        let (x0, x1) = axes.x_range;
        let (y0, y1) = axes.y_range;
        if axes.log_x {
            let mut chart = builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(|e| plot_err(path, e))?;
            chart.configure_mesh().x_desc(axes.x_label).y_desc(axes.y_label).draw().map_err(|e| plot_err(path, e))?;
            draw_series(&mut chart, series, path)?;
        } else {
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| plot_err(path, e))?;
            chart.configure_mesh().x_desc(axes.x_label).y_desc(axes.y_label).draw().map_err(|e| plot_err(path, e))?;
            draw_series(&mut chart, series, path)?;
        }
        root.present().map_err(|e| plot_err(path, e))?;
    }
    save_png(path, w, h, buf)
}

fn draw_series<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
    path: &Path,
) -> Result<(), ReportError>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| plot_err(path, e))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_err(path, e))
}

/// Overlaid histograms (e.g. genuine vs impostor scores) with `bins` bins over `range`.
pub fn histogram_plot(path: &Path, axes: &Axes<'_>, groups: &[(&str, &[f64])], bins: usize) -> Result<(), ReportError> {
    let (lo, hi) = axes.x_range;
    let width = (hi - lo) / bins as f64;
    let series: Vec<Series> = groups
        .iter()
        .map(|(name, values)| {
            let mut counts = vec![0usize; bins];
            for v in values.iter() {
                let b = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
                counts[b] += 1;
            }
            let total = values.len().max(1) as f64;
            // A step outline of each density, so overlapping groups stay readable.
            let mut points = Vec::with_capacity(bins * 2);
            for (b, c) in counts.iter().enumerate() {
                let y = *c as f64 / total;
                points.push((lo + b as f64 * width, y));
                points.push((lo + (b + 1) as f64 * width, y));
            }
            Series { name: format!("{name} (n={})", values.len()), points }
        })
        .collect();
    line_plot(path, axes, &series)
}

fn save_png(path: &Path, w: u32, h: u32, buf: Vec<u8>) -> Result<(), ReportError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.display().to_string(), source })?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).ok_or_else(|| plot_err(path, "buffer size"))?;
    img.save(path).map_err(|e| plot_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_readable_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roc.png");
        let axes = Axes {
            title: "ROC",
            x_label: "FMR",
            y_label: "TMR",
            x_range: (1e-4, 1.0),
            y_range: (0.0, 1.0),
            log_x: true,
        };
        let series = vec![Series { name: "a".into(), points: vec![(1e-4, 0.5), (1e-2, 0.9), (1.0, 1.0)] }];
        line_plot(&path, &axes, &series).unwrap();
        let img = image::open(&path).unwrap().into_rgb8();
        assert_eq!(img.dimensions(), (900, 600));
        let non_white = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(non_white > 5_000, "axes, labels and the curve are drawn ({non_white} px)");
    }
}
