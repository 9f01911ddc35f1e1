pub async fn run(_args: LogsBenchArgs) -> anyhow::Result<()> { anyhow::bail!("not yet") }
#[derive(Debug, clap::Args)] pub struct LogsBenchArgs {}
