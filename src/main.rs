//! The `wangge` command: serve the API and web app, run migrations, import data, and
//! generate or load the demo district.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use wangge::cache::Registry;
use wangge::config::Config;
use wangge::http::{app, AppState};
use wangge::store::import::DIR_LAYERS;
use wangge::store::Store;

/// wangge (网格): grid management for urban communities.
///
/// Keeps community and grid boundaries, buildings, service stations, residents and staff
/// in PostGIS, answers spatial questions from an in-process index, and serves a web map.
/// Start with `make run`, which prepares a database and runs `wangge serve`.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and web app (runs pending migrations first).
    Serve {
        #[command(flatten)]
        config: Config,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// PostgreSQL/PostGIS connection string.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// Import a file into one layer, all or nothing.
    ///
    /// LAYER is one of regions, communities, grids, compounds, buildings, stations (GeoJSON
    /// FeatureCollections), people or staff (CSV; people may be gzipped). See data/README.md
    /// for the properties each layer needs.
    Import {
        /// The layer to import into.
        layer: String,
        /// The file to read.
        file: PathBuf,
        /// PostgreSQL/PostGIS connection string.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Partition tolerance in m² for grids.
        #[arg(long, env = "WANGGE_TOLERANCE_M2", default_value_t = 1.0)]
        tolerance_m2: f64,
    },
    /// The demo district: generate its files, or load them into an empty database.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Load a generated demo (default data/demo) if the database has no communities yet.
    Load {
        /// Folder holding the demo files.
        #[arg(long, default_value = "data/demo")]
        dir: PathBuf,
        /// PostgreSQL/PostGIS connection string.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Load even if the database already has communities (fails on duplicates).
        #[arg(long)]
        force: bool,
    },
}

fn progress_bar(label: &str) -> ProgressBar {
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(label.to_string());
    pb
}

async fn import_file(
    store: &Store,
    layer: &str,
    file: &Path,
    tolerance_m2: f64,
) -> Result<usize, String> {
    let pb = progress_bar(layer);
    let n = store
        .import_file(layer, file, tolerance_m2, &|done, total| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        })
        .await?;
    pb.finish_with_message(format!("{layer} ✓"));
    Ok(n)
}

async fn demo_load(dir: &Path, url: &str, force: bool) -> Result<(), String> {
    let store = Store::connect(url, 4).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM communities")
        .fetch_one(&store.pool)
        .await
        .map_err(|e| e.to_string())?;
    if have > 0 && !force {
        eprintln!("the database already has {have} communities; not loading the demo");
        return Ok(());
    }
    for (layer, file) in DIR_LAYERS {
        let path = dir.join(file);
        if !path.exists() {
            return Err(format!(
                "{} is missing; run `wangge demo generate` first",
                path.display()
            ));
        }
        import_file(&store, layer, &path, 1.0).await?;
    }
    Ok(())
}

async fn serve(config: Config) -> Result<(), String> {
    let store = Store::connect(&config.database_url, config.pool_size)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let registry = Registry::load(store.clone())
        .await
        .map_err(|e| e.to_string())?;
    registry.spawn_listener();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = AppState {
        store,
        registry,
        config: Arc::new(config),
    };
    tracing::info!("wangge serving on http://{addr}");
    eprintln!("wangge serving on http://{addr}");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve { config } => serve(config).await,
        Command::Migrate { database_url } => {
            async {
                let store = Store::connect(&database_url, 2)
                    .await
                    .map_err(|e| e.to_string())?;
                store.migrate().await.map_err(|e| e.to_string())
            }
            .await
        }
        Command::Import {
            layer,
            file,
            database_url,
            tolerance_m2,
        } => {
            async {
                let store = Store::connect(&database_url, 4)
                    .await
                    .map_err(|e| e.to_string())?;
                store.migrate().await.map_err(|e| e.to_string())?;
                let n = import_file(&store, &layer, &file, tolerance_m2).await?;
                eprintln!("imported {n} {layer}");
                Ok(())
            }
            .await
        }
        Command::Demo { command } => match command {
            DemoCommand::Load {
                dir,
                database_url,
                force,
            } => demo_load(&dir, &database_url, force).await,
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
