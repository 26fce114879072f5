include!("../scan.rs");

fn main() {
    generate("sqlite");
}
