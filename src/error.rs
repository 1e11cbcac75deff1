//! The library's error type. Every message names the offending value and what to do about it,
//! because these errors reach people at a terminal or in the web page, not only programmers.

use std::path::PathBuf;

/// Errors raised by loading weights, decoding photos, encoding phrases and grounding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {path}: {error}")]
    Io {
        /// The failed action, as a verb phrase ("failed to read").
        action: &'static str,
        /// The file in question.
        path: PathBuf,
        /// The operating system's error, part of the message (not a separate source, so that
        /// error chains do not print it twice).
        error: std::io::Error,
    },

    /// An annotation or benchmark file has a malformed record.
    #[error("invalid data at {location}: {detail}")]
    Data {
        /// File and line, or file and record path.
        location: String,
        /// The problem and how to fix it.
        detail: String,
    },

    /// A weights file is missing a tensor, has an extra one, or one of the wrong shape or type.
    #[error("invalid weights in {file}: {detail}. {fix}")]
    Weights {
        /// The weights file (or a label for bytes loaded in the browser).
        file: String,
        /// The tensor at fault, with the expected and the found value.
        detail: String,
        /// How to get a correct file.
        fix: &'static str,
    },

    /// A photo could not be decoded, or exceeds the decoding limits.
    #[error("cannot use photo {name}: {detail}")]
    Photo {
        /// The file name or label of the photo.
        name: String,
        /// The problem and how to fix it.
        detail: String,
    },

    /// A phrase cannot be encoded (empty, whitespace only, or tokeniser failure).
    #[error("invalid phrase {phrase:?}: {detail}")]
    Phrase {
        /// The phrase as given.
        phrase: String,
        /// The problem and how to fix it.
        detail: String,
    },

    /// A configuration file or value is invalid.
    #[error("invalid configuration {name}: {detail}")]
    Config {
        /// The configuration file or field.
        name: String,
        /// The problem and how to fix it.
        detail: String,
    },

    /// Reading a tensor back from the device failed.
    #[error("failed to read a tensor from the device: {0}")]
    Readback(String),
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            error,
        }
    }
}
