use anyhow::Result;
#[derive(clap::Subcommand)]
pub enum Which {
    Edge,
}
pub fn run(_w: Which) -> Result<()> {
    anyhow::bail!("todo")
}
