//! Creates the database a URL names (SQLite file or PostgreSQL) and runs the
//! product's migrations on it, as the server does at start-up.
//! `scripts/prepare-queries` builds the schemas the query checks
//! (`query-check/`) describe with it: `cargo run -p engine --example migrate -- URL`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: migrate DATABASE_URL")?;
    engine::Database::open(&url).await?;
    Ok(())
}
