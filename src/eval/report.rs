//! The analyses of an evaluation: accuracy per concept (the phrase's head noun) and by box
//! area, with the correlation between box size and success, as CSV tables and SVG charts.

use std::collections::BTreeMap;
#[cfg(not(target_arch = "wasm32"))]
use std::fmt::Write as _;
#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use serde::Serialize;

#[cfg(not(target_arch = "wasm32"))]
use super::run::EvalResult;
use super::score::PhraseOutcome;
#[cfg(not(target_arch = "wasm32"))]
use crate::error::Result;
#[cfg(not(target_arch = "wasm32"))]
use crate::files::write_atomic;
use crate::text::{Tagger, nouns};

/// Number of box-area bins, cut at quantiles of the box areas so each has a similar count.
const AREA_BINS: usize = 10;
/// Concepts drawn in the per-concept chart, most frequent first.
#[cfg(not(target_arch = "wasm32"))]
const CHART_CONCEPTS: usize = 30;

/// Accuracy of the phrases of one concept.
#[derive(Debug, Clone, Serialize)]
pub struct ConceptRow {
    /// The head noun.
    pub concept: String,
    /// Phrases with this head noun.
    pub total: usize,
    /// Of which hits.
    pub hits: usize,
    /// Hits / total in percent.
    pub accuracy: f64,
    /// Mean largest-box area as a share of the photo.
    pub mean_box_area: f64,
}

/// Accuracy of the phrases whose largest box falls in one area range.
#[derive(Debug, Clone, Serialize)]
pub struct AreaRow {
    /// Lower bound of the box area, share of the photo.
    pub from: f64,
    /// Upper bound of the box area, share of the photo.
    pub to: f64,
    /// Phrases in the bin.
    pub total: usize,
    /// Of which hits.
    pub hits: usize,
    /// Hits / total in percent.
    pub accuracy: f64,
}

/// Summary of the analyses.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    /// Pearson correlation between a phrase's box area and its hit (0 or 1). It is `None`
    /// with fewer than two phrases, or when all are hits or all are misses.
    pub area_hit_correlation: Option<f64>,
    /// Pearson correlation between a concept's mean box area and its accuracy, over concepts
    /// with at least 5 phrases; `None` where undefined (fewer than two such concepts).
    pub concept_area_accuracy_correlation: Option<f64>,
    /// Concepts with at least one phrase.
    pub concepts: usize,
}

/// Returns the head noun of a phrase: its last common noun, or its last word without one.
pub fn head_noun(tagger: &Tagger, phrase: &str) -> String {
    nouns(tagger, phrase)
        .pop()
        .or_else(|| {
            crate::text::words(phrase)
                .pop()
                .map(|word| word.to_lowercase())
        })
        .unwrap_or_else(|| "(none)".into())
}

/// Computes the Pearson correlation of two equally long samples; `None` when there are fewer
/// than two values or either sample is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return None;
    }
    let (mean_x, mean_y) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut covariance, mut var_x, mut var_y) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        covariance += (a - mean_x) * (b - mean_y);
        var_x += (a - mean_x).powi(2);
        var_y += (b - mean_y).powi(2);
    }
    if var_x == 0.0 || var_y == 0.0 {
        None
    } else {
        Some(covariance / (var_x * var_y).sqrt())
    }
}

/// Groups outcomes by head noun, most frequent first.
pub fn per_concept(tagger: &Tagger, outcomes: &[PhraseOutcome]) -> Vec<ConceptRow> {
    let mut groups: BTreeMap<String, (usize, usize, f64)> = BTreeMap::new();
    for outcome in outcomes {
        let entry = groups
            .entry(head_noun(tagger, &outcome.phrase))
            .or_default();
        entry.0 += 1;
        entry.1 += usize::from(outcome.hit);
        entry.2 += outcome.box_area;
    }
    let mut rows: Vec<ConceptRow> = groups
        .into_iter()
        .map(|(concept, (total, hits, area))| ConceptRow {
            concept,
            total,
            hits,
            accuracy: 100.0 * hits as f64 / total as f64,
            mean_box_area: area / total as f64,
        })
        .collect();
    rows.sort_by(|a, b| b.total.cmp(&a.total).then(a.concept.cmp(&b.concept)));
    rows
}

/// Splits outcomes into [`AREA_BINS`] bins of similar size by box area.
pub fn by_box_area(outcomes: &[PhraseOutcome]) -> Vec<AreaRow> {
    let mut sorted: Vec<&PhraseOutcome> = outcomes.iter().collect();
    sorted.sort_by(|a, b| a.box_area.total_cmp(&b.box_area));
    let per_bin = sorted.len().div_ceil(AREA_BINS).max(1);
    sorted
        .chunks(per_bin)
        .map(|chunk| {
            let hits = chunk.iter().filter(|o| o.hit).count();
            AreaRow {
                from: chunk[0].box_area,
                to: chunk[chunk.len() - 1].box_area,
                total: chunk.len(),
                hits,
                accuracy: 100.0 * hits as f64 / chunk.len() as f64,
            }
        })
        .collect()
}

/// Draws a horizontal bar chart of `(label, percent)` rows as SVG.
#[cfg(not(target_arch = "wasm32"))]
fn bar_chart(title: &str, rows: &[(String, f64)]) -> String {
    let (left, bar_width, row_height) = (200.0, 400.0, 18.0);
    let height = 40.0 + row_height * rows.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">{}</text>\n",
        left + bar_width + 60.0,
        escape(title)
    );
    for (index, (label, percent)) in rows.iter().enumerate() {
        let y = 30.0 + row_height * index as f64;
        let width = bar_width * percent.clamp(0.0, 100.0) / 100.0;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{y}\" width=\"{width:.1}\" height=\"{}\" fill=\"#3b6fb6\"/><text x=\"{}\" y=\"{}\">{percent:.1}%</text>",
            left - 6.0,
            y + 12.0,
            escape(label),
            row_height - 4.0,
            left + width + 4.0,
            y + 12.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(not(target_arch = "wasm32"))]
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(not(target_arch = "wasm32"))]
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes `per_concept.csv`, `box_area.csv`, their SVG charts, `phrases.csv` and
/// `summary.json` into `dir`.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_report(dir: &Path, tagger: &Tagger, result: &EvalResult) -> Result<ReportSummary> {
    std::fs::create_dir_all(dir)
        .map_err(|source| crate::Error::io("failed to create", dir, source))?;
    let concepts = per_concept(tagger, &result.outcomes);
    let areas = by_box_area(&result.outcomes);

    let mut csv = String::from("concept,phrases,hits,accuracy_percent,mean_box_area\n");
    for row in &concepts {
        let _ = writeln!(
            csv,
            "{},{},{},{:.2},{:.4}",
            csv_field(&row.concept),
            row.total,
            row.hits,
            row.accuracy,
            row.mean_box_area
        );
    }
    write_atomic(&dir.join("per_concept.csv"), csv.as_bytes())?;
    let mut csv = String::from("box_area_from,box_area_to,phrases,hits,accuracy_percent\n");
    for row in &areas {
        let _ = writeln!(
            csv,
            "{:.4},{:.4},{},{},{:.2}",
            row.from, row.to, row.total, row.hits, row.accuracy
        );
    }
    write_atomic(&dir.join("box_area.csv"), csv.as_bytes())?;
    let mut csv = String::from("file,phrase,hit,point_x,point_y,box_area\n");
    for outcome in &result.outcomes {
        let _ = writeln!(
            csv,
            "{},{},{},{:.1},{:.1},{:.4}",
            csv_field(&outcome.file),
            csv_field(&outcome.phrase),
            u8::from(outcome.hit),
            outcome.point[0],
            outcome.point[1],
            outcome.box_area
        );
    }
    write_atomic(&dir.join("phrases.csv"), csv.as_bytes())?;

    let method = format!("{:?}", result.method).to_lowercase();
    let chart: Vec<(String, f64)> = concepts
        .iter()
        .take(CHART_CONCEPTS)
        .map(|row| (format!("{} ({})", row.concept, row.total), row.accuracy))
        .collect();
    write_atomic(
        &dir.join("per_concept.svg"),
        bar_chart(&format!("Pointing accuracy per concept, {method}"), &chart).as_bytes(),
    )?;
    let chart: Vec<(String, f64)> = areas
        .iter()
        .map(|row| {
            (
                format!("{:.1}-{:.1}% of photo", row.from * 100.0, row.to * 100.0),
                row.accuracy,
            )
        })
        .collect();
    write_atomic(
        &dir.join("box_area.svg"),
        bar_chart(&format!("Pointing accuracy by box area, {method}"), &chart).as_bytes(),
    )?;

    let area: Vec<f64> = result.outcomes.iter().map(|o| o.box_area).collect();
    let hit: Vec<f64> = result
        .outcomes
        .iter()
        .map(|o| f64::from(u8::from(o.hit)))
        .collect();
    let frequent: Vec<&ConceptRow> = concepts.iter().filter(|row| row.total >= 5).collect();
    let summary = ReportSummary {
        area_hit_correlation: pearson(&area, &hit),
        concept_area_accuracy_correlation: pearson(
            &frequent
                .iter()
                .map(|row| row.mean_box_area)
                .collect::<Vec<_>>(),
            &frequent.iter().map(|row| row.accuracy).collect::<Vec<_>>(),
        ),
        concepts: concepts.len(),
    };
    let json = serde_json::json!({ "result": result, "analysis": &summary });
    let text = serde_json::to_vec_pretty(&json).map_err(|error| crate::Error::Config {
        name: "summary.json".into(),
        detail: error.to_string(),
    })?;
    write_atomic(&dir.join("summary.json"), &text)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_by_hand() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[0.0, 1.0]), None);
    }
}
