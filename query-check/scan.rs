// The generator both check crates' build scripts include: it finds every
// query text of the product's code and writes one `sqlx::query_unchecked!`
// per text for the backend (`sqlite` or `postgres`) into OUT_DIR/checks.rs.
//
// What counts as a query text: the argument of
// - `query(...)`: both backends;
// - `Query::dialect(sqlite, postgres)`: each its own;
// - `Query::postgres_only(...)`: PostgreSQL alone;
// - every `query(...)` of a file in SQLITE_ONLY: SQLite alone;
// when it is a string literal, a `&str` constant of the product, or a
// `format!("...")` whose only arguments are such constants inline (`{NAME}`).
// Not checked: texts assembled at run time (from a function's arguments, or
// a list of placeholders as long as a list), raw `sqlx::query*` calls
// (transaction control, pragmas, advisory locks), `#[cfg(test)]` code, and
// the benchmark's and test harness's own SQL (`bench/`, `testkit/`: outside ROOTS).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Product sources, relative to the workspace root.
const ROOTS: &[&str] = &["engine/src", "server/src"];
/// Files whose queries only SQLite runs.
const SQLITE_ONLY: &[&str] = &["engine/src/db/group_commit.rs"];

pub fn generate(backend: &str) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .parent()
        .and_then(Path::parent)
        .expect("query-check/<backend> sits two folders below the workspace")
        .to_path_buf();
    // The product's files (test modules come last in this code base's files).
    let mut sources = Vec::new();
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
            let source = std::fs::read_to_string(&file).expect("read a source file");
            let product = source.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
            sources.push((relative, product));
        }
    }
    let consts = constants(&sources);
    let mut texts = BTreeSet::new();
    for (relative, product) in &sources {
        let sqlite_only = SQLITE_ONLY.contains(&relative.as_str());
        for (kind, found) in find(product, &consts) {
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

/// The `&str` constants of the product (`const NAME: &str = "...";`), by
/// name; a name defined twice with different texts is left out.
fn constants(sources: &[(String, String)]) -> BTreeMap<String, String> {
    let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (_, source) in sources {
        let mut at = 0;
        while let Some(offset) = source[at..].find("const ") {
            at += offset + "const ".len();
            let rest = &source[at..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let after = rest[name.len()..].trim_start();
            let Some(value) = after
                .strip_prefix(": &str")
                .or_else(|| after.strip_prefix(": &'static str"))
                .and_then(|v| v.trim_start().strip_prefix('='))
            else {
                continue;
            };
            let from = source.len() - value.len();
            if name.is_empty() {
                continue;
            }
            if let Some((text, _)) = literal(source, from) {
                let entry = found.entry(name).or_insert_with(|| Some(text.clone()));
                if entry.as_deref() != Some(text.as_str()) {
                    *entry = None;
                }
            }
        }
    }
    found
        .into_iter()
        .filter_map(|(name, text)| Some((name, text?)))
        .collect()
}

/// A query call's argument as a text: a literal, a constant, or
/// `format!("...")` whose only arguments are inline constants (`{NAME}`);
/// `None` for anything else (a text assembled at run time).
fn argument(source: &str, from: usize, consts: &BTreeMap<String, String>) -> Option<(String, usize)> {
    let rest = &source[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    let rest = &source[start..];
    if rest.starts_with('"') {
        return literal(source, start);
    }
    if let Some(format) = rest.strip_prefix("format!(") {
        let open = source.len() - format.len();
        let (template, end) = literal(source, open)?;
        if !source[end..].trim_start().starts_with(')') {
            return None;
        }
        let close = end + source[end..].find(')')? + 1;
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    text.push_str(consts.get(&name)?);
                }
                c => text.push(c),
            }
        }
        return Some((text, close));
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    let after = rest[name.len()..].trim_start();
    if name.is_empty() || !(after.starts_with(',') || after.starts_with(')')) {
        return None;
    }
    Some((consts.get(&name)?.clone(), start + name.len()))
}

/// The query texts of `source`, each with what runs it.
fn find(source: &str, consts: &BTreeMap<String, String>) -> Vec<(Kind, String)> {
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
        let Some((text, after)) = argument(source, at, consts) else { continue };
        at = after;
        match kind {
            Kind::DialectSqlite => {
                found.push((Kind::DialectSqlite, text));
                let comma = source[at..].trim_start();
                if let Some(next) = comma.strip_prefix(',') {
                    let from = source.len() - next.len();
                    if let Some((postgres, after)) = argument(source, from, consts) {
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
