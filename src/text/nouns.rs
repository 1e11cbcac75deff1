//! Noun concepts of a phrase: the words the tagger marks as common nouns, lower-cased and
//! reduced to their singular ("dogs" -> "dog", "children" -> "child").

use super::tagger::Tagger;

/// Splits a phrase into the word stream the tagger was trained on: runs of letters, with a
/// possessive or contracted `'s` (and similar clitics) split off as its own word. Digits and
/// punctuation are dropped.
pub fn words(phrase: &str) -> Vec<String> {
    let mut words = Vec::new();
    for run in phrase.split(|c: char| !(c.is_alphabetic() || c == '\'' || c == '\u{2019}')) {
        let run = run.replace('\u{2019}', "'");
        let run = run.trim_matches('\'');
        if run.is_empty() {
            continue;
        }
        match run.find('\'') {
            Some(split) if split > 0 => {
                words.push(run[..split].to_string());
                words.push(run[split..].to_string());
            }
            _ => words.push(run.to_string()),
        }
    }
    words
}

/// Reduces a lower-case English noun to its singular form.
pub fn singular(noun: &str) -> String {
    // Words the rules of `pluralizer` mangle, or that are their own singular in captions.
    match noun {
        "people" => return "person".into(),
        "glasses" | "jeans" | "pants" | "shorts" | "sunglasses" | "trousers" | "scissors"
        | "clothes" => {
            return noun.into();
        }
        _ => {}
    }
    pluralizer::pluralize(noun, 1, false)
}

/// Extracts the singular common nouns of `phrase`, in order of appearance, without repeats.
pub fn nouns(tagger: &Tagger, phrase: &str) -> Vec<String> {
    let words = words(phrase);
    let labels = tagger.tag(&words);
    let mut nouns: Vec<String> = Vec::new();
    for (word, label) in words.iter().zip(labels) {
        if !label.starts_with("NOUN|") || word.starts_with('\'') || word.chars().count() < 2 {
            continue;
        }
        let noun = singular(&word.to_lowercase());
        if !nouns.contains(&noun) {
            nouns.push(noun);
        }
    }
    nouns
}

/// Splits a phrase into noun-phrase chunks: runs of determiners, numbers, adjectives, nouns
/// and possessive clitics that end with a common noun ("a green hat", "the man 's arm").
/// Returns each chunk's text and its head noun (the last noun, singular).
pub fn noun_chunks(tagger: &Tagger, phrase: &str) -> Vec<(String, String)> {
    let words = words(phrase);
    let labels = tagger.tag(&words);
    let mut chunks = Vec::new();
    let mut start = None;
    // Index of the last common noun of the current run.
    let mut last_noun: Option<usize> = None;
    let close =
        |start: Option<usize>, last_noun: Option<usize>, chunks: &mut Vec<(String, String)>| {
            if let (Some(start), Some(end)) = (start, last_noun) {
                let noun = words[end].to_lowercase();
                if noun.chars().count() >= 2 {
                    chunks.push((words[start..=end].join(" "), singular(&noun)));
                }
            }
        };
    for (index, label) in labels.iter().enumerate() {
        let upos = label.split('|').next().unwrap_or_default();
        let continues = matches!(upos, "DET" | "NUM" | "ADJ" | "NOUN" | "PROPN")
            || (upos == "PART" && words[index].starts_with('\''));
        // A determiner after a noun starts a new chunk ("a man the dog").
        let restarts = upos == "DET" && last_noun.is_some();
        if !continues || restarts {
            close(start, last_noun, &mut chunks);
            start = None;
            last_noun = None;
            if !continues {
                continue;
            }
        }
        start.get_or_insert(index);
        if upos == "NOUN" && !words[index].starts_with('\'') {
            last_noun = Some(index);
        }
    }
    close(start, last_noun, &mut chunks);
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_clitics_and_drop_punctuation() {
        assert_eq!(
            words("A man's hat, 2 dogs!"),
            vec!["A", "man", "'s", "hat", "dogs"]
        );
        assert_eq!(words("don’t stop"), vec!["don", "'t", "stop"]);
    }

    #[test]
    fn singular_forms() {
        let cases = [
            ("dogs", "dog"),
            ("children", "child"),
            ("women", "woman"),
            ("people", "person"),
            ("glasses", "glasses"),
            ("bus", "bus"),
            ("boxes", "box"),
        ];
        for (plural, expected) in cases {
            assert_eq!(singular(plural), expected, "singular of {plural}");
        }
    }
}
