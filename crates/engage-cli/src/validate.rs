//! `engage validate [FILE|-]`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use engage_model::Document;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The JSON document to check; `-` or nothing reads standard input.
    file: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let input = match args.file.as_deref() {
        None => read_stdin()?,
        Some(path) if path.as_os_str() == "-" => read_stdin()?,
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
    };
    match Document::parse(&input) {
        Ok(document) => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &document)?;
            writeln!(out)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(invalid) => {
            let mut err = std::io::stderr().lock();
            for problem in &invalid.errors {
                writeln!(err, "{problem}")?;
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("cannot read standard input")?;
    Ok(input)
}
