//! The real server binary's resident memory, idle, empty and at 100,000
//! integrations (the whole run only).

use crate::common::*;

pub(crate) async fn bench_memory(b: &Bench) {
    println!("\n## 5. Server resident memory");
    let empty = b.scratch.path().join("empty.db");
    let idle = server_rss_mb(&format!("sqlite://{}", empty.display())).await;
    println!(
        "idle, empty database: {idle:.1} MB (budget <= 40): {}",
        verdict(idle <= 40.0)
    );
    let full = server_rss_mb(&format!("sqlite://{}", b.instance.database_file.display())).await;
    println!(
        "idle, 100,000 integrations: {full:.1} MB (budget <= 80): {}",
        verdict(full <= 80.0)
    );
}
