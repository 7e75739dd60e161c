//! Charts drawn on the server as SVG with maud: a line chart for Overview's days and a bar
//! chart for the funnel and the A/B comparison. Only presentation attributes (no `style`),
//! so the console's Content-Security-Policy needs no exception; each chart has a title
//! and a description, and the numbers it draws are also in a table beside it.

use maud::{html, Markup};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;
/// The series' colours, distinguishable for the common colour-vision deficiencies.
const COLOURS: [&str; 3] = ["#1f5fbf", "#d06400", "#2c8a3c"];

/// A round top for the value axis: 1, 2 or 5 times a power of ten, at least `max`.
fn axis_top(max: f64) -> f64 {
    // Counts this small get whole-number ticks (four of them).
    if max <= 4.0 {
        return 4.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|top| *top >= max)
        .unwrap_or(max)
}

fn y_of(value: f64, top: f64) -> f64 {
    TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - value / top)
}

fn value_axis(top: f64) -> Markup {
    html! {
        @for k in 0..=4u32 {
            @let v = top * f64::from(k) / 4.0;
            @let y = y_of(v, top);
            line x1=(LEFT) x2=(WIDTH) y1=(y) y2=(y) stroke="#d8dde6" stroke-width="1" {}
            text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" font-size="11" fill="#4a5568" { (v) }
        }
    }
}

/// One line per series over the same labels (days); the legend names each series.
pub fn lines(title: &str, labels: &[String], series: &[(&str, Vec<f64>)]) -> Markup {
    let max = series
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .fold(0.0, f64::max);
    let top = axis_top(max);
    let step = if labels.len() > 1 {
        // Room on the right for the last day's label.
        (WIDTH - LEFT - 40.0) / (labels.len() - 1) as f64
    } else {
        0.0
    };
    let x_of = |i: usize| LEFT + 6.0 + step * i as f64;
    // At most about eight labels under the axis, whatever the number of days.
    let every = labels.len().div_ceil(8).max(1);
    html! {
        svg.chart-svg viewBox=(format!("0 0 {WIDTH} {}", HEIGHT + 18.0)) role="img" aria-labelledby="chart-title" {
            title id="chart-title" { (title) }
            (value_axis(top))
            @for (i, label) in labels.iter().enumerate() {
                @if i % every == 0 {
                    text x=(x_of(i)) y=(HEIGHT - 8.0) text-anchor="middle" font-size="11" fill="#4a5568" { (label) }
                }
            }
            @for ((name, values), colour) in series.iter().zip(COLOURS) {
                polyline fill="none" stroke=(colour) stroke-width="2" data-series=(name)
                    points=(values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v, top))).collect::<Vec<_>>().join(" ")) {}
                @for (i, v) in values.iter().enumerate() {
                    circle cx=(format!("{:.1}", x_of(i))) cy=(format!("{:.1}", y_of(*v, top))) r="3" fill=(colour) {
                        title { (name) ", " (labels.get(i).map_or("", String::as_str)) ": " (v) }
                    }
                }
            }
            @for (k, ((name, _), colour)) in series.iter().zip(COLOURS).enumerate() {
                @let x = LEFT + 130.0 * k as f64;
                rect x=(x) y=(HEIGHT + 6.0) width="12" height="4" fill=(colour) {}
                text x=(x + 16.0) y=(HEIGHT + 12.0) font-size="11" fill="#1a202c" { (name) }
            }
        }
    }
}

/// One bar per labelled value, each with its value written above it.
pub fn bars(title: &str, bars: &[(String, f64)]) -> Markup {
    let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let top = axis_top(max);
    let slot = (WIDTH - LEFT) / bars.len().max(1) as f64;
    let width = (slot * 0.6).min(90.0);
    html! {
        svg.chart-svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) {
            title { (title) }
            (value_axis(top))
            @for (i, (label, value)) in bars.iter().enumerate() {
                @let x = LEFT + slot * i as f64 + (slot - width) / 2.0;
                @let y = y_of(*value, top);
                rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{width:.1}"))
                    height=(format!("{:.1}", (HEIGHT - BOTTOM - y).max(0.0))) fill=(COLOURS[i % 2]) data-bar=(label) {
                    title { (label) ": " (value) }
                }
                text x=(format!("{:.1}", x + width / 2.0)) y=(format!("{:.1}", y - 4.0)) text-anchor="middle" font-size="11" fill="#1a202c" { (value) }
                text x=(format!("{:.1}", x + width / 2.0)) y=(HEIGHT - 8.0) text-anchor="middle" font-size="11" fill="#4a5568" { (label) }
            }
        }
    }
}
