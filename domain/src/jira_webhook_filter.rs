//! What a Jira webhook's JQL filter may say (pure). A webhook an OAuth 2.0
//! (3LO) app registers (`POST /rest/api/3/webhook`) takes a `jqlFilter` in a
//! subset of JQL only: the fields `issueKey`, `project`, `issuetype`,
//! `status`, `assignee`, `reporter`, `issue.property[...]` and `cf[id]`,
//! with the operators `=`, `!=`, `IN` and `NOT IN` (Atlassian's "Webhooks"
//! page and the REST API's webhooks group; `shared/ATLASSIAN.md`). Clauses
//! join with `AND` and `OR`, and group in parentheses.
//!
//! [`check_filter`] answers a sentence naming what is not allowed, so a
//! filter is refused here, before anything is sent to Jira.

/// The longest filter accepted.
pub const MAX_FILTER_CHARS: usize = 2_000;
/// The deepest parentheses may nest.
pub const MAX_DEPTH: usize = 16;

/// The fields a webhook's filter may name (compared without case).
const FIELDS: [&str; 6] = [
    "issuekey",
    "project",
    "issuetype",
    "status",
    "assignee",
    "reporter",
];

const ALLOWED: &str =
    "issueKey, project, issuetype, status, assignee, reporter, issue.property[...] or cf[id]";

/// Checks `jql` against the subset Jira's webhooks take: `Err` is the
/// sentence to show.
pub fn check_filter(jql: &str) -> Result<(), String> {
    if jql.trim().is_empty() {
        return Err(
            "Write a JQL filter, for example project = ACME: Jira registers no webhook without one."
                .to_owned(),
        );
    }
    if jql.chars().count() > MAX_FILTER_CHARS {
        return Err(format!(
            "The JQL filter is over {MAX_FILTER_CHARS} characters: narrow it to projects or issue types."
        ));
    }
    let tokens = tokens(jql)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    parser.or()?;
    match parser.peek() {
        None => Ok(()),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("order") => Err(
            "ORDER BY has no place in a webhook's JQL filter: Jira sends each event as it happens."
                .to_owned(),
        ),
        Some(Token::Close) => {
            Err("The JQL filter closes a parenthesis it never opened.".to_owned())
        }
        Some(other) => Err(format!(
            "The JQL filter goes on after a complete clause at `{}`: join clauses with AND or OR.",
            other.text()
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    /// `=`, `!=`, `~`, `!~`, `<`, `<=`, `>`, `>=`.
    Symbol(String),
    Open,
    Close,
    Comma,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(w) | Token::Symbol(w) => w.clone(),
            Token::Quoted(q) => format!("\"{q}\""),
            Token::Open => "(".to_owned(),
            Token::Close => ")".to_owned(),
            Token::Comma => ",".to_owned(),
        }
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(word))
    }
}

fn tokens(jql: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '"' | '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(format!(
                                "The JQL filter opens a quote ({c}) it never closes."
                            ))
                        }
                        Some('\\') => {
                            if let Some(escaped) = chars.next() {
                                text.push(escaped);
                            }
                        }
                        Some(q) if q == c => break,
                        Some(other) => text.push(other),
                    }
                }
                out.push(Token::Quoted(text));
            }
            '=' | '!' | '~' | '<' | '>' => {
                chars.next();
                let mut symbol = c.to_string();
                if let Some(&next) = chars.peek() {
                    if matches!((c, next), ('!', '=') | ('!', '~') | ('<', '=') | ('>', '=')) {
                        symbol.push(next);
                        chars.next();
                    }
                }
                out.push(Token::Symbol(symbol));
            }
            _ => {
                let mut word = String::new();
                // A field such as `cf[10014]` or `issue.property[key].path`
                // is one word, its brackets included.
                let mut depth = 0usize;
                while let Some(&c) = chars.peek() {
                    let ends = depth == 0
                        && (c.is_whitespace()
                            || matches!(
                                c,
                                '(' | ')' | ',' | '=' | '!' | '~' | '<' | '>' | '"' | '\''
                            ));
                    if ends {
                        break;
                    }
                    match c {
                        '[' => depth += 1,
                        ']' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    word.push(c);
                    chars.next();
                }
                if word.is_empty() {
                    return Err(format!(
                        "The JQL filter has a character it cannot read: `{c}`."
                    ));
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Parentheses open now.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Result<(), String> {
        self.and()?;
        while self.peek().is_some_and(|t| t.is_word("or")) {
            self.next();
            self.and()?;
        }
        Ok(())
    }

    fn and(&mut self) -> Result<(), String> {
        self.primary()?;
        while self.peek().is_some_and(|t| t.is_word("and")) {
            self.next();
            self.primary()?;
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<(), String> {
        match self.next() {
            None => Err("The JQL filter ends where a clause should follow.".to_owned()),
            Some(Token::Open) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!(
                        "The JQL filter nests parentheses more than {MAX_DEPTH} deep."
                    ));
                }
                self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Token::Close) => Ok(()),
                    _ => Err("The JQL filter opens a parenthesis it never closes.".to_owned()),
                }
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => Err(
                "NOT before a clause is not allowed in a webhook's JQL filter: use != or NOT IN."
                    .to_owned(),
            ),
            Some(Token::Word(field)) => {
                check_field(&field)?;
                self.clause_rest(&field)
            }
            Some(other) => Err(format!(
                "The JQL filter has `{}` where a field should be: use {ALLOWED}.",
                other.text()
            )),
        }
    }

    /// The operator and value(s) after `field`.
    fn clause_rest(&mut self, field: &str) -> Result<(), String> {
        let list = match self.next() {
            Some(Token::Symbol(op)) if op == "=" || op == "!=" => false,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => true,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => match self.next() {
                Some(t) if t.is_word("in") => true,
                _ => return Err(not_an_operator(&format!("NOT after {field}"))),
            },
            Some(other) => return Err(not_an_operator(&other.text())),
            None => {
                return Err(format!(
                    "The JQL filter ends after `{field}`: give an operator and a value."
                ))
            }
        };
        if list {
            if self.next() != Some(Token::Open) {
                return Err(format!(
                    "IN and NOT IN take a list in parentheses, for example {field} IN (A, B)."
                ));
            }
            loop {
                self.value(field)?;
                match self.next() {
                    Some(Token::Comma) => continue,
                    Some(Token::Close) => return Ok(()),
                    _ => return Err("A list in the JQL filter is not closed with ).".to_owned()),
                }
            }
        }
        self.value(field)
    }

    fn value(&mut self, field: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Quoted(_)) => Ok(()),
            Some(Token::Word(w)) => {
                if self.peek() == Some(&Token::Open) {
                    return Err(format!(
                        "Functions such as {w}() are not allowed in a webhook's JQL filter: name the values."
                    ));
                }
                if ["and", "or", "in", "not", "order"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(format!(
                        "The JQL filter needs a value for {field} before `{w}` (quote it if it is one)."
                    ));
                }
                Ok(())
            }
            Some(other) => Err(format!(
                "The JQL filter has `{}` where a value for {field} should be.",
                other.text()
            )),
            None => Err(format!("The JQL filter ends before a value for {field}.")),
        }
    }
}

fn not_an_operator(op: &str) -> String {
    format!("`{op}` is not allowed in a webhook's JQL filter: use =, !=, IN or NOT IN.")
}

/// Whether `field` may filter a webhook.
fn check_field(field: &str) -> Result<(), String> {
    let lower = field.to_ascii_lowercase();
    let allowed = FIELDS.contains(&lower.as_str())
        || is_custom_field(&lower)
        || (lower.starts_with("issue.property[") && lower.contains(']'));
    match allowed {
        true => Ok(()),
        false => Err(format!(
            "`{field}` cannot filter Jira's webhooks: use {ALLOWED}."
        )),
    }
}

/// `cf[10014]`: a custom field by its number.
fn is_custom_field(field: &str) -> bool {
    field
        .strip_prefix("cf[")
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_subset_passes() {
        for jql in [
            "project = ACME",
            "project = ACME AND issuetype = Bug",
            "project IN (ACME, GLOBEX) AND status NOT IN (Done, \"Won't do\")",
            "issueKey = ACME-1 OR (assignee != \"5b10a2844c20165700ede21g\" and reporter = abc)",
            "issue.property[support].level = high",
            "cf[10014] = ACME-5",
            "Project = 'ACME'",
        ] {
            assert_eq!(check_filter(jql), Ok(()), "{jql}");
        }
    }

    /// The sentence for `jql` mentions `part`.
    fn refused(jql: &str, part: &str) {
        let sentence = check_filter(jql).expect_err(jql);
        assert!(sentence.contains(part), "{jql}: {sentence}");
    }

    #[test]
    fn anything_else_is_refused_with_a_sentence_naming_it() {
        refused("", "Write a JQL filter");
        refused("   ", "Write a JQL filter");
        refused("priority = High", "`priority` cannot filter");
        refused("status ~ crash", "`~` is not allowed");
        refused("summary = crash", "`summary` cannot filter");
        refused("status > 1", "`>` is not allowed");
        refused("status WAS Done", "`WAS` is not allowed");
        refused("assignee IS EMPTY", "`IS` is not allowed");
        refused(
            "assignee = currentUser()",
            "Functions such as currentUser()",
        );
        refused("project = ACME ORDER BY created", "ORDER BY");
        refused("NOT project = ACME", "NOT before a clause");
        refused("project = ACME AND", "ends where a clause should follow");
        refused("(project = ACME", "never closes");
        refused("project = ACME)", "never opened");
        refused("project IN ACME", "take a list in parentheses");
        refused("project IN (ACME, GLOBEX", "not closed");
        refused("project = \"ACME", "never closes");
        refused(
            "project = ACME status = Done",
            "join clauses with AND or OR",
        );
        refused("project =", "ends before a value");
        refused("cf[abc] = 1", "`cf[abc]` cannot filter");
        refused(&"project = A OR ".repeat(200), "over 2000 characters");
        refused(
            &format!("{}project = A", "(".repeat(1_500)),
            "more than 16 deep",
        );
    }
}
