// The generator both check crates' build scripts include: it finds every
// query text of the product's code and writes one `sqlx::query_unchecked!`
// per text for the backend (`sqlite` or `postgres`) into OUT_DIR/checks.rs.
//
// What counts as a query text (a string literal, the way the code writes it):
// - `query("...")`: both backends;
// - `Query::dialect("sqlite text", "postgres text")`: each its own;
// - `Query::postgres_only("...")`: PostgreSQL alone;
// - every `query("...")` of a file in SQLITE_ONLY: SQLite alone.
// Not checked (they are no literal, or not the product's queries): texts
// assembled with `format!` or from constants, raw `sqlx::query*` calls
// (transaction control, pragmas, advisory locks), `#[cfg(test)]` code, and
// the benchmark's and test harness's own SQL.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Product sources, relative to the workspace root.
const ROOTS: &[&str] = &["engine/src", "server/src"];
/// Not the product's queries (seeding and benchmarking helpers).
const SKIPPED: &[&str] = &[
    "server/src/bin/bench.rs",
    "server/src/local_instance.rs",
    "server/src/local_cluster.rs",
];
/// Files whose queries only SQLite runs.
const SQLITE_ONLY: &[&str] = &["engine/src/db/group_commit.rs"];

pub fn generate(backend: &str) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .parent()
        .and_then(Path::parent)
        .expect("query-check/<backend> sits two folders below the workspace")
        .to_path_buf();
    let mut texts = BTreeSet::new();
    for root in ROOTS {
        let root = workspace.join(root);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        walk(&root, &mut files);
        files.sort();
        for file in files {
            let relative = file
                .strip_prefix(&workspace)
                .expect("under the workspace")
                .to_string_lossy()
                .replace('\\', "/");
            if SKIPPED.contains(&relative.as_str()) {
                continue;
            }
            let source = std::fs::read_to_string(&file).expect("read a source file");
            // Test modules come last in this code base's files.
            let product = source.split("#[cfg(test)]").next().unwrap_or_default();
            let sqlite_only = SQLITE_ONLY.contains(&relative.as_str());
            for (kind, found) in find(product) {
                let wanted = match (kind, backend) {
                    (Kind::Both, "sqlite") => true,
                    (Kind::Both, _) => !sqlite_only,
                    (Kind::DialectSqlite, b) => b == "sqlite",
                    (Kind::DialectPostgres | Kind::PostgresOnly, b) => b == "postgres",
                };
                if wanted {
                    texts.insert(found);
                }
            }
        }
    }
    println!("cargo:rerun-if-changed={}", manifest.join(".sqlx").display());
    let mut out = String::from(
        "/// Never called: compiling it is the check.\n#[allow(dead_code, unused_must_use)]\npub fn checks() {\n",
    );
    for text in &texts {
        let args = vec!["0_i64"; placeholders(text, backend)].join(", ");
        let comma = if args.is_empty() { "" } else { ", " };
        out.push_str(&format!("    let _ = sqlx::query_unchecked!({text:?}{comma}{args});\n"));
    }
    out.push_str("}\n");
    out.push_str(&format!("/// How many query texts this crate checks.\npub const CHECKED: usize = {};\n", texts.len()));
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("checks.rs");
    std::fs::write(target, out).expect("write checks.rs");
}

#[derive(Clone, Copy)]
enum Kind {
    Both,
    DialectSqlite,
    DialectPostgres,
    PostgresOnly,
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The query texts of `source`, each with what runs it.
fn find(source: &str) -> Vec<(Kind, String)> {
    let mut found = Vec::new();
    let bytes = source.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &source[at..];
        // Comments and other string literals are no query calls.
        if rest.starts_with("//") {
            at += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        if rest.starts_with("'\"'") {
            at += 3;
            continue;
        }
        if let Some(raw) = rest.strip_prefix("r#\"") {
            at += 3 + raw.find("\"#").map_or(raw.len(), |end| end + 2);
            continue;
        }
        if let Some(raw) = rest.strip_prefix("r\"") {
            at += 2 + raw.find('"').map_or(raw.len(), |end| end + 1);
            continue;
        }
        if rest.starts_with('"') {
            at = literal(source, at).map_or(source.len(), |(_, end)| end);
            continue;
        }
        let (kind, skip) = if rest.starts_with("Query::dialect(") {
            (Some(Kind::DialectSqlite), "Query::dialect(".len())
        } else if rest.starts_with("Query::postgres_only(") {
            (Some(Kind::PostgresOnly), "Query::postgres_only(".len())
        } else if rest.starts_with("query(")
            && !source[..at].ends_with("sqlx::")
            && !source[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
        {
            (Some(Kind::Both), "query(".len())
        } else {
            (None, rest.chars().next().map_or(1, char::len_utf8))
        };
        at += skip;
        let Some(kind) = kind else { continue };
        let Some((text, after)) = literal(source, at) else { continue };
        at = after;
        match kind {
            Kind::DialectSqlite => {
                found.push((Kind::DialectSqlite, text));
                let comma = source[at..].trim_start();
                if let Some(next) = comma.strip_prefix(',') {
                    let from = source.len() - next.len();
                    if let Some((postgres, after)) = literal(source, from) {
                        found.push((Kind::DialectPostgres, postgres));
                        at = after;
                    }
                }
            }
            other => found.push((other, text)),
        }
    }
    found
}

/// The string literal starting after optional whitespace at `from`, unescaped,
/// and where it ends; `None` when the argument is no plain literal.
fn literal(source: &str, from: usize) -> Option<(String, usize)> {
    let rest = &source[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    let mut chars = source[start..].char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut text = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((text, start + i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => text.push('\n'),
                't' => text.push('\t'),
                '\\' => text.push('\\'),
                '"' => text.push('"'),
                '\'' => text.push('\''),
                '\n' => {
                    // A line continuation: the next line's indentation goes.
                    let tail = &source[start + i + 2..];
                    let skipped = tail.len() - tail.trim_start().len();
                    for _ in 0..tail[..skipped].chars().count() {
                        chars.next();
                    }
                }
                // Not in query texts; kept as written.
                other => {
                    text.push('\\');
                    text.push(other);
                }
            },
            c => text.push(c),
        }
    }
    None
}

/// How many arguments the text takes: `$1` .. `$N`.
fn placeholders(text: &str, backend: &str) -> usize {
    let mut seen = BTreeSet::new();
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'$' {
            let digits: String = text[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<usize>() {
                seen.insert(n);
            }
        }
    }
    match backend {
        // SQLite counts distinct parameters; PostgreSQL the highest number.
        "sqlite" => seen.len(),
        _ => seen.last().copied().unwrap_or(0),
    }
}
