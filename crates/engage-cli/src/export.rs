//! `engage export`: NDJSON of an account's stored items, with progress on stderr.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use engage_store::ExportKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::storage::StorageArgs;

const PAGE: usize = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    Events,
    Sdes,
    Quarantine,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account to export.
    #[arg(long)]
    account: String,
    /// What to export.
    #[arg(long, value_enum, default_value = "events")]
    kind: Kind,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    storage: StorageArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let kind = match args.kind {
        Kind::Events => ExportKind::Events,
        Kind::Sdes => ExportKind::Sdes,
        Kind::Quarantine => ExportKind::Quarantine,
    };
    crate::runtime()?.block_on(async move {
        let store = args.storage.open().await?;
        if store.account(&args.account).await?.is_none() {
            anyhow::bail!(
                "unknown account `{}`: check the id printed by `engage account create`",
                args.account
            );
        }
        let total = store.count(&args.account, kind).await?;
        let progress = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        progress.set_style(
            ProgressStyle::with_template(
                "{spinner} exporting {msg} {pos}/{len} [{bar:30}] {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        progress.set_message(kind.as_str());
        let sink: Box<dyn Write> = match &args.output {
            Some(path) => Box::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = BufWriter::new(sink);
        let mut cursor = None;
        let mut written = 0u64;
        loop {
            let page = store.export_page(&args.account, kind, cursor, PAGE).await?;
            for item in &page.items {
                out.write_all(item.as_str().as_bytes())?;
                out.write_all(b"\n")?;
            }
            written += page.items.len() as u64;
            progress.set_position(written);
            match page.cursor {
                Some(next) if page.items.len() == PAGE => cursor = Some(next),
                _ => break,
            }
        }
        out.flush()?;
        progress.finish_and_clear();
        store.close().await?;
        eprintln!("exported {written} {}", kind.as_str());
        Ok(())
    })
}
