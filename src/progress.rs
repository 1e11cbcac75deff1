//! Progress reporting for long runs, kept apart from how it is shown (terminal bars in the
//! CLI, nothing in tests).

/// Receives progress of long-running stages and notes for the user.
pub trait Progress {
    /// Begins a stage of `total` steps.
    fn start(&mut self, label: &str, total: usize);
    /// Sets the number of steps done in the current stage.
    fn set(&mut self, done: usize);
    /// Ends the current stage.
    fn finish(&mut self);
    /// Shows a one-line note (a warning or a result).
    fn note(&mut self, message: &str);
}

/// Discards progress; notes go to standard error.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&mut self, _label: &str, _total: usize) {}
    fn set(&mut self, _done: usize) {}
    fn finish(&mut self) {}
    fn note(&mut self, message: &str) {
        eprintln!("{message}");
    }
}
