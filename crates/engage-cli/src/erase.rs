//! `engage erase`: an erasure request carried out without a server (docs/operations.md,
//! Erasure); prints what was removed as one JSON line.

use anyhow::Context;
use engage_store::ErasureTarget;

use crate::storage::StorageArgs;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("whom").required(true).args(["visitor", "customer"])))]
pub struct Args {
    /// The account whose data to erase.
    #[arg(long)]
    account: String,
    /// Erase this visitor id.
    #[arg(long)]
    visitor: Option<String>,
    /// Erase every visitor who reported this customerId in a ctmrinfo SDE.
    #[arg(long)]
    customer: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let target = match (args.visitor, args.customer) {
        (Some(v), None) => ErasureTarget::Visitor(v),
        (None, Some(c)) => ErasureTarget::Customer(c),
        // clap's group allows exactly one.
        _ => anyhow::bail!("give either --visitor or --customer"),
    };
    crate::runtime()?.block_on(async move {
        let store = args.storage.open().await?;
        let erased = store.erase(&args.account, target).await;
        store.close().await?;
        let removed = erased.with_context(|| format!("erasing in account `{}`", args.account))?;
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "removed": removed }))?
        );
        Ok(())
    })
}
