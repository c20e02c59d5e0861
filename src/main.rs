//! The `wangge` command: serve the API and web app, run migrations, import data, and
//! generate or load the demo district.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wangge::cache::Registry;
use wangge::config::Config;
use wangge::http::{app, AppState};
use wangge::import::DIR_LAYERS;
use wangge::store::audit::Actor;
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
    /// FeatureCollections), streets (GeoJSON LineStrings with `highway` and `name`: the
    /// walking network), osm (an OpenStreetMap .osm.pbf extract whose ways usable on foot
    /// become the walking network), people or staff (CSV; people may be gzipped), or party
    /// (party.json). See data/README.md for the properties each layer needs.
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
    /// Manage accounts: add, change a password, disable.
    User {
        #[command(subcommand)]
        command: UserCommand,
        /// PostgreSQL/PostGIS connection string.
        #[arg(long, env = "DATABASE_URL", global = true)]
        database_url: Option<String>,
    },
    /// The demo district: generate its files, or load them into an empty database.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account. The password comes from WANGGE_PASSWORD, or is generated and printed.
    Add {
        /// Login name (3-40 of a-z, 0-9, _ . -).
        username: String,
        /// admin, planner, grid_chief, patrol or viewer.
        #[arg(long)]
        role: String,
        /// Code of the account's region (a town, street office or zone).
        #[arg(long)]
        region: String,
        /// Limit the account to these communities (codes; repeat the flag).
        #[arg(long = "community")]
        communities: Vec<String>,
        /// Limit the account to these grids (codes; repeat the flag).
        #[arg(long = "grid")]
        grids: Vec<String>,
        /// Name shown in the app (defaults to the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// Staff code to link (grid chiefs and patrol staff).
        #[arg(long)]
        staff: Option<String>,
    },
    /// Set a new password (from WANGGE_PASSWORD, or generated and printed); signs the account out everywhere.
    Passwd {
        /// Login name.
        username: String,
    },
    /// Disable an account; it is signed out everywhere.
    Disable {
        /// Login name.
        username: String,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Generate the demo district as GeoJSON and CSV files (deterministic for a seed and scale).
    ///
    /// Scale 1 is the committed data/demo: 盘龙镇 with its six real residents' committees,
    /// about 3,000 buildings and 60,000 residents. Scale S makes S towns side by side
    /// (scale 100: about 6 million residents) for benchmarks.
    Generate {
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many towns.
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// Output folder.
        #[arg(long, default_value = "data/demo")]
        out: PathBuf,
        /// The statistical division codes (names and codes of the real town).
        #[arg(long, default_value = wangge::demo::DEFAULT_DIVISIONS_CSV)]
        divisions: PathBuf,
    },
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
        .import_file(
            layer,
            file,
            tolerance_m2,
            &Actor::system("wangge import"),
            &|done, total| {
                pb.set_length(total as u64);
                pb.set_position(done as u64);
            },
        )
        .await?;
    pb.finish_with_message(format!("{layer} ✓"));
    Ok(n)
}

async fn demo_load(dir: &Path, url: &str, force: bool) -> Result<(), String> {
    let store = Store::connect(url, 4).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let have = store.community_count().await.map_err(|e| e.to_string())?;
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
    demo_accounts(&store).await
}

/// One account per role for the demo, with generated passwords printed once.
async fn demo_accounts(store: &Store) -> Result<(), String> {
    use wangge::domain::access::{Role, ScopeKind};
    use wangge::store::accounts::NewAccount;
    // The chief and patrol accounts take the staff of the first community's first grids.
    let seats = store.demo_seats().await.map_err(|e| e.to_string())?;
    let (town, zone) = (seats.town, seats.zone);
    let (first, second) = (seats.chief, seats.member);
    let mut specs = vec![
        (
            "admin",
            "管理员",
            Role::Admin,
            zone.clone(),
            ScopeKind::Region,
            vec![],
            None,
        ),
        (
            "planner",
            "规划员",
            Role::Planner,
            town.clone(),
            ScopeKind::Region,
            vec![],
            None,
        ),
        (
            "viewer",
            "查看者",
            Role::Viewer,
            town.clone(),
            ScopeKind::Region,
            vec![],
            None,
        ),
    ];
    if let Some((grid, staff)) = first {
        specs.push((
            "chief",
            "网格长",
            Role::GridChief,
            town.clone(),
            ScopeKind::Grids,
            vec![grid],
            Some(staff),
        ));
    }
    if let Some((grid, staff)) = second {
        specs.push((
            "patrol",
            "网格员",
            Role::Patrol,
            town.clone(),
            ScopeKind::Grids,
            vec![grid],
            Some(staff),
        ));
    }
    println!(
        "demo accounts (passwords are shown only now; `wangge user passwd NAME` sets a new one):"
    );
    for (username, display, role, region, kind, grids, staff) in specs {
        let password = wangge::auth::new_password();
        let hash = wangge::auth::hash_password(&password)?;
        let new = NewAccount {
            username: username.to_string(),
            display_name: display.to_string(),
            role,
            scope_kind: kind,
            region_code: region,
            communities: vec![],
            grids,
            staff_code: staff,
        };
        store
            .create_account(&new, &hash, &Actor::system("wangge demo load"))
            .await
            .map_err(|e| wangge::store::import::describe(&e))?;
        println!("  {username:<8} {password}  ({})", role.as_str());
    }
    Ok(())
}

fn password_from_env() -> (String, bool) {
    match std::env::var("WANGGE_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (wangge::auth::new_password(), true),
    }
}

async fn user(cmd: UserCommand, url: &str) -> Result<(), String> {
    use wangge::domain::access::{Role, ScopeKind};
    use wangge::store::accounts::{AccountChange, NewAccount};
    let store = Store::connect(url, 2).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let actor = Actor::system("wangge user");
    let update = async |username: &str, ch: &AccountChange| {
        let res = store.update_account(username, ch, &actor).await;
        res.map_err(|e| e.to_string())
    };
    match cmd {
        UserCommand::Add {
            username,
            role,
            region,
            communities,
            grids,
            display_name,
            staff,
        } => {
            let role = Role::parse(&role)
                .ok_or("role must be admin, planner, grid_chief, patrol or viewer")?;
            let scope_kind = if !grids.is_empty() {
                ScopeKind::Grids
            } else if !communities.is_empty() {
                ScopeKind::Communities
            } else {
                ScopeKind::Region
            };
            let (password, generated) = password_from_env();
            wangge::auth::check_new_password(&password)?;
            let hash = wangge::auth::hash_password(&password)?;
            let new = NewAccount {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role,
                scope_kind,
                region_code: region,
                communities,
                grids,
                staff_code: staff,
            };
            let a = store
                .create_account(&new, &hash, &actor)
                .await
                .map_err(|e| wangge::store::import::describe(&e))?;
            println!("created {} ({})", a.username, a.role.as_str());
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd { username } => {
            let (password, generated) = password_from_env();
            wangge::auth::check_new_password(&password)?;
            let hash = wangge::auth::hash_password(&password)?;
            update(&username, &AccountChange::password(hash)).await?;
            println!("password of {username} changed; its sessions are revoked");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Disable { username } => {
            update(&username, &AccountChange::disable()).await?;
            println!("{username} is disabled and signed out everywhere");
        }
    }
    Ok(())
}

async fn serve(config: Config) -> Result<(), String> {
    let store = Store::connect_with(
        &config.database_url,
        config.pool_size,
        std::time::Duration::from_secs(config.pool_acquire_timeout_s.max(1)),
    )
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
    let state = AppState::new(store, registry, config);
    wangge::http::party::spawn_findings_keeper(state.clone(), std::time::Duration::from_secs(2));
    wangge::http::patrols::spawn_streets_keeper(state.clone(), std::time::Duration::from_secs(2));
    tracing::info!("wangge serving on http://{addr}");
    eprintln!("wangge serving on http://{addr}");
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
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
        Command::User {
            command,
            database_url,
        } => match database_url {
            Some(url) => user(command, &url).await,
            None => Err("set DATABASE_URL or pass --database-url".to_string()),
        },
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
            DemoCommand::Generate {
                seed,
                scale,
                out,
                divisions,
            } => {
                let mut opts = wangge::demo::GenerateOptions::new(seed, scale);
                opts.divisions_csv = divisions;
                match wangge::demo::generate(&opts, &out) {
                    Ok(summary) => {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&summary).unwrap_or_default()
                        );
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
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
