//! Writes the demo district: `cargo run --example gen_demo -- [SEED] [SCALE] [OUT_DIR]`.
//!
//! Defaults: seed 1, scale 1, `data/demo`. The lead may replace this with `wangge demo generate`.

use std::path::PathBuf;
use std::time::Instant;

use wangge::demo::{generate, GenerateOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args
        .next()
        .map_or(1, |s| s.parse().expect("SEED is an integer"));
    let scale = args
        .next()
        .map_or(1, |s| s.parse().expect("SCALE is an integer"));
    let out = PathBuf::from(args.next().unwrap_or_else(|| "data/demo".to_string()));
    let start = Instant::now();
    match generate(&GenerateOptions::new(seed, scale), &out) {
        Ok(summary) => {
            let text = serde_json::to_string_pretty(&summary).expect("summary serialises");
            println!("{text}");
            eprintln!("generated {} in {:.2?}", out.display(), start.elapsed());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
