include!("../scan.rs");

fn main() {
    generate("postgres");
}
