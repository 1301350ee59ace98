use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sportello::cli::run(sportello::cli::Cli::parse()).await
}
