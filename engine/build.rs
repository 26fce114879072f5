// `sqlx::migrate!` embeds ../migrations and ../migrations-postgres at compile
// time: rebuild when either changes.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../migrations-postgres");
}
