//! An English part-of-speech tagger: the averaged perceptron of the `denckring-en-pos`
//! package (Honnibal's feature set, trained on UD English-EWT, 93.4% UPOS accuracy), run
//! from its weight table `tagger.json.gz` with no download at build or run time.
//!
//! Labels are `UPOS|VerbForm` strings such as `NOUN|-` or `VERB|Fin`.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Markers for positions before the first and after the last word.
const START: &str = "<s>";
const END: &str = "</s>";

#[derive(Deserialize)]
struct TaggerFile {
    classes: Vec<String>,
    tagdict: HashMap<String, String>,
    weights: HashMap<String, HashMap<String, f64>>,
}

/// The perceptron tagger.
#[derive(Debug)]
pub struct Tagger {
    /// Labels in sorted order; ties between equal scores go to the later label.
    classes: Vec<String>,
    /// Words whose tag is unambiguous in the training data, looked up instead of predicted.
    tagdict: HashMap<String, usize>,
    /// Feature string to (class index, weight) pairs.
    weights: HashMap<String, Vec<(usize, f64)>>,
}

impl Tagger {
    /// Reads the tagger from the gzip-compressed JSON table (`tagger.json.gz`).
    pub fn from_gzip(bytes: &[u8]) -> Result<Self> {
        let invalid = |detail: String| Error::Config {
            name: "tagger.json.gz".into(),
            detail,
        };
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut json)
            .map_err(|error| {
                invalid(format!(
                    "not a gzip file ({error}); restore weights/tagger.json.gz"
                ))
            })?;
        let file: TaggerFile = serde_json::from_slice(&json)
            .map_err(|error| invalid(format!("not a tagger table ({error})")))?;

        let mut classes = file.classes;
        classes.sort();
        let index: HashMap<&str, usize> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let class_of = |label: &str| {
            index
                .get(label)
                .copied()
                .ok_or_else(|| invalid(format!("label {label:?} is not among the classes")))
        };
        let mut tagdict = HashMap::with_capacity(file.tagdict.len());
        for (word, label) in &file.tagdict {
            tagdict.insert(word.clone(), class_of(label)?);
        }
        let mut weights = HashMap::with_capacity(file.weights.len());
        for (feature, row) in file.weights {
            let mut entries = Vec::with_capacity(row.len());
            for (label, weight) in row {
                entries.push((class_of(&label)?, weight));
            }
            weights.insert(feature, entries);
        }
        Ok(Self {
            classes,
            tagdict,
            weights,
        })
    }

    fn predict(&self, features: &[String]) -> usize {
        let mut scores = vec![0f64; self.classes.len()];
        let mut any = false;
        for feature in features {
            if let Some(row) = self.weights.get(feature) {
                any = true;
                for &(class, weight) in row {
                    scores[class] += weight;
                }
            }
        }
        if !any {
            return self.classes.len() - 1;
        }
        // Highest score; among equal scores the label that sorts last, as the reference does.
        let mut best = 0;
        for class in 1..scores.len() {
            if scores[class] >= scores[best] {
                best = class;
            }
        }
        best
    }

    /// Tags a sentence given as words; returns one label per word.
    pub fn tag<S: AsRef<str>>(&self, words: &[S]) -> Vec<&str> {
        let context: Vec<String> = words.iter().map(|w| w.as_ref().to_lowercase()).collect();
        let mut labels = Vec::with_capacity(words.len());
        let (mut previous, mut before_previous) = (START.to_string(), START.to_string());
        for (index, word) in words.iter().enumerate() {
            let class = match self.tagdict.get(&context[index]) {
                Some(&class) => class,
                None => self.predict(&features(
                    index,
                    word.as_ref(),
                    &context,
                    &previous,
                    &before_previous,
                )),
            };
            let label = self.classes[class].as_str();
            labels.push(label);
            before_previous = std::mem::replace(&mut previous, label.to_string());
        }
        labels
    }
}

/// Builds the feature strings of one word, identical to the reference implementation's.
fn features(
    index: usize,
    word: &str,
    context: &[String],
    previous: &str,
    before_previous: &str,
) -> Vec<String> {
    let lower = word.to_lowercase();
    let mut shape = if word.chars().next().is_some_and(char::is_uppercase) {
        "X"
    } else {
        "x"
    }
    .to_string();
    if word.chars().any(|c| c.is_ascii_digit()) {
        shape.push('d');
    }
    let suffix = |n: usize| {
        let chars: Vec<char> = lower.chars().collect();
        chars[chars.len().saturating_sub(n)..]
            .iter()
            .collect::<String>()
    };
    let prefix: String = lower.chars().take(1).collect();
    let at = |offset: isize| {
        let position = index as isize + offset;
        if position < 0 {
            START.to_string()
        } else {
            context
                .get(position as usize)
                .cloned()
                .unwrap_or_else(|| END.to_string())
        }
    };
    vec![
        "bias".to_string(),
        format!("suf3 {}", suffix(3)),
        format!("suf2 {}", suffix(2)),
        format!("suf1 {}", suffix(1)),
        format!("pre1 {prefix}"),
        format!("shape {shape}"),
        format!("w {lower}"),
        format!("t-1 {previous}"),
        format!("t-2 {before_previous}"),
        format!("t-1t-2 {previous} {before_previous}"),
        format!("w-1 {}", at(-1)),
        format!("w-2 {}", at(-2)),
        format!("w+1 {}", at(1)),
        format!("w+2 {}", at(2)),
        format!("t-1 w {previous} {lower}"),
    ]
}
