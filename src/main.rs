//! The `semground` command. All work happens in `cli`; this only maps errors to exit codes.

mod cli;

use std::process::ExitCode;

// Reuses large tensor buffers between steps instead of mapping fresh pages (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
