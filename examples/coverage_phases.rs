//! Times the phases of one coverage question on a database (a developer's tool):
//! `cargo run --release --example coverage_phases -- postgres://.../wangge_s100`.
use std::time::Instant;
use wangge::cache::Registry;
use wangge::coverage::CoverageModel;
use wangge::spatial::walk::KindSelection;
use wangge::store::Store;

#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1).expect("a database URL");
    let store = Store::connect(&url, 4).await.expect("connect");
    let t = Instant::now();
    let reg = Registry::load(store).await.expect("load");
    println!("load index: {:?}", t.elapsed());
    let snap = reg.snapshot();
    let t = Instant::now();
    let m = CoverageModel::build(&snap, 300.0).expect("model");
    println!("model: {:?} ({} buildings)", t.elapsed(), m.buildings.len());
    for _ in 0..3 {
        let t = Instant::now();
        let eng = m.engine();
        println!("engine: {:?}", t.elapsed());
        drop(eng);
        let t = Instant::now();
        let sel = KindSelection::one("elderly_care");
        let r = m.coverage(&m.stations, &sel, 500.0);
        println!("coverage one kind: {:?}", t.elapsed());
        let t = Instant::now();
        let n = (0..m.buildings.len())
            .filter(|&b| r.is_covered(b, &sel))
            .count();
        println!("is_covered x{}: {:?} ({n})", m.buildings.len(), t.elapsed());
        let t = Instant::now();
        let mut k = 0;
        for b in &m.buildings {
            if let Some(bb) = snap.buildings.get(b.id) {
                if snap.place_of_building(bb).is_some() {
                    k += 1;
                }
            }
        }
        println!("place_of_building: {:?} ({k})", t.elapsed());
    }
}
