//! The small JQL subset the sandbox understands: a tokenizer and a
//! recursive-descent parser into a [`Query`]. Which issues a query selects is
//! [`crate::jira::tracker::SiteTracker::search`]'s business.
//!
//! ```text
//! query   := [clause (AND clause)*] [ORDER BY (created | key | updated) [ASC | DESC]]
//! clause  := project (= value | in list)
//!          | status (= value | in list)
//!          | assignee (= currentUser() | is EMPTY | is null)
//!          | text ~ value
//! list    := ( value (, value)* )
//! value   := word | "quoted" | 'quoted'
//! ```
//!
//! Keywords, field names and functions ignore case, as in Jira. The empty
//! query selects every issue; the default order is `created DESC`, and a sort
//! field without `ASC`/`DESC` takes its own direction (key ascending, dates
//! newest first).

/// A JQL query the sandbox can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Every clause must hold (they are joined by `AND`).
    pub clauses: Vec<Clause>,
    pub sort_field: SortField,
    pub sort_order: SortOrder,
}

/// One condition on an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `project = KEY` or `project in (A, B)`: keys, ids or names as written.
    ProjectIn(Vec<String>),
    /// `status = Done` or `status in ("To Do", "In Progress")`.
    StatusIn(Vec<String>),
    /// `assignee = currentUser()`.
    AssigneeIsCurrentUser,
    /// `assignee is EMPTY` (or `is null`).
    AssigneeIsEmpty,
    /// `text ~ "word"`: the summary contains the word, ignoring case.
    TextContains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Created,
    Key,
    Updated,
}

impl SortField {
    /// The direction when `ORDER BY` names none: keys count up, dates show
    /// the newest first.
    pub fn default_order(self) -> SortOrder {
        match self {
            SortField::Key => SortOrder::Ascending,
            SortField::Created | SortField::Updated => SortOrder::Descending,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// Why a query cannot run: the whole sentence Jira's `errorMessages` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JqlError(pub String);

impl std::fmt::Display for JqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JqlError {}

/// A syntax error, worded as Jira words them.
fn syntax(sentence: String) -> JqlError {
    JqlError(format!("Error in the JQL Query: {sentence}"))
}

/// Parses `jql` (blank: every issue, newest first).
pub fn parse(jql: &str) -> Result<Query, JqlError> {
    let mut parser = Parser {
        lexemes: tokenize(jql)?,
        next: 0,
    };
    let clauses = parser.clauses()?;
    let (sort_field, sort_order) = if parser.eat_keyword("ORDER") {
        parser.expect_keyword("BY", "'BY' after 'ORDER'")?;
        parser.order_by()?
    } else {
        (SortField::Created, SortOrder::Descending)
    };
    parser.finish()?;
    Ok(Query {
        clauses,
        sort_field,
        sort_order,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A bare word: a keyword, a field, a function name or a value.
    Word(String),
    /// A value in double or single quotes, unescaped.
    Quoted(String),
    LeftParen,
    RightParen,
    Comma,
    /// A run of `=`, `!`, `<`, `>`, `~`: only `=` and `~` are supported.
    Operator(String),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) | Token::Operator(w) => f.write_str(w),
            Token::Quoted(q) => write!(f, "\"{q}\""),
            Token::LeftParen => f.write_str("("),
            Token::RightParen => f.write_str(")"),
            Token::Comma => f.write_str(","),
        }
    }
}

/// A token and the character (counted from 1) where it starts.
#[derive(Debug, Clone)]
struct Lexeme {
    token: Token,
    at: usize,
}

const OPERATOR_CHARS: &str = "=!<>~";

fn ends_word(c: char) -> bool {
    c.is_whitespace() || "(),\"'".contains(c) || OPERATOR_CHARS.contains(c)
}

fn tokenize(jql: &str) -> Result<Vec<Lexeme>, JqlError> {
    let chars: Vec<char> = jql.chars().collect();
    let mut lexemes = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let at = i + 1;
        let (token, next) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Token::LeftParen, i + 1),
            ')' => (Token::RightParen, i + 1),
            ',' => (Token::Comma, i + 1),
            '"' | '\'' => quoted(&chars, i, c)?,
            c if OPERATOR_CHARS.contains(c) => {
                let end = run_end(&chars, i, |c| OPERATOR_CHARS.contains(c));
                (Token::Operator(chars[i..end].iter().collect()), end)
            }
            _ => {
                let end = run_end(&chars, i, |c| !ends_word(c));
                (Token::Word(chars[i..end].iter().collect()), end)
            }
        };
        lexemes.push(Lexeme { token, at });
        i = next;
    }
    Ok(lexemes)
}

/// The index after the run of characters from `start` that satisfy `keep`.
fn run_end(chars: &[char], start: usize, keep: impl Fn(char) -> bool) -> usize {
    chars[start..]
        .iter()
        .position(|&c| !keep(c))
        .map_or(chars.len(), |n| start + n)
}

/// The string in `quote`s opening at `start` (a backslash escapes the next
/// character), and the index after its closing quote.
fn quoted(chars: &[char], start: usize, quote: char) -> Result<(Token, usize), JqlError> {
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(syntax(format!(
                    "The quoted string starting at character {} is not closed.",
                    start + 1
                )))
            }
            Some('\\') => {
                if let Some(&escaped) = chars.get(i + 1) {
                    value.push(escaped);
                }
                i += 2;
            }
            Some(&c) if c == quote => return Ok((Token::Quoted(value), i + 1)),
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}

struct Parser {
    lexemes: Vec<Lexeme>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Lexeme> {
        self.lexemes.get(self.next)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Lexeme { token: Token::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.next += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str, what: &str) -> Result<(), JqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), JqlError> {
        if self.peek().map(|l| &l.token) == Some(&token) {
            self.next += 1;
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// "Expecting {what} but got ..." about the next token.
    fn expected(&self, what: &str) -> JqlError {
        syntax(match self.peek() {
            Some(l) => format!(
                "Expecting {what} but got '{}' at character {}.",
                l.token, l.at
            ),
            None => format!("Expecting {what} but the query ends."),
        })
    }

    /// `clause (AND clause)*`, or nothing when the query is empty or starts
    /// with `ORDER BY`.
    fn clauses(&mut self) -> Result<Vec<Clause>, JqlError> {
        if self.peek().is_none() || self.at_keyword("ORDER") {
            return Ok(Vec::new());
        }
        let mut clauses = vec![self.clause()?];
        while self.eat_keyword("AND") {
            clauses.push(self.clause()?);
        }
        Ok(clauses)
    }

    fn clause(&mut self) -> Result<Clause, JqlError> {
        let Some(Lexeme {
            token: Token::Word(field),
            at,
        }) = self.peek().cloned()
        else {
            return Err(self.expected("a field name"));
        };
        self.next += 1;
        match field.to_ascii_lowercase().as_str() {
            "project" => Ok(Clause::ProjectIn(self.one_or_list("project")?)),
            "status" => Ok(Clause::StatusIn(self.one_or_list("status")?)),
            "assignee" => self.assignee(),
            "text" => {
                self.expect(Token::Operator("~".into()), "'~' after 'text'")?;
                Ok(Clause::TextContains(self.value()?))
            }
            _ => Err(unsupported_word(&field, at).unwrap_or_else(|| {
                syntax(format!(
                    "The field '{field}' at character {at} is not supported by the sandbox; \
                     use project, status, assignee or text."
                ))
            })),
        }
    }

    /// `= value` or `in (value, ...)`.
    fn one_or_list(&mut self, field: &str) -> Result<Vec<String>, JqlError> {
        match self.peek().cloned() {
            Some(Lexeme {
                token: Token::Operator(op),
                ..
            }) if op == "=" => {
                self.next += 1;
                Ok(vec![self.value()?])
            }
            Some(Lexeme {
                token: Token::Operator(op),
                at,
            }) => Err(syntax(format!(
                "The operator '{op}' at character {at} is not supported for '{field}'; use = or in."
            ))),
            _ if self.eat_keyword("IN") => self.list(),
            _ => Err(self.expected(&format!("'=' or 'in' after '{field}'"))),
        }
    }

    /// `( value (, value)* )`.
    fn list(&mut self) -> Result<Vec<String>, JqlError> {
        self.expect(Token::LeftParen, "'(' after 'in'")?;
        let mut values = vec![self.value()?];
        while self.peek().map(|l| &l.token) == Some(&Token::Comma) {
            self.next += 1;
            values.push(self.value()?);
        }
        self.expect(Token::RightParen, "',' or ')' in the list")?;
        Ok(values)
    }

    /// A bare word that is not a keyword, or a quoted string.
    fn value(&mut self) -> Result<String, JqlError> {
        match self.peek().cloned() {
            Some(Lexeme {
                token: Token::Quoted(value),
                ..
            }) => {
                self.next += 1;
                Ok(value)
            }
            Some(Lexeme {
                token: Token::Word(word),
                ..
            }) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&word)) => {
                self.next += 1;
                Ok(word)
            }
            _ => Err(self.expected("a value")),
        }
    }

    /// `= currentUser()` or `is EMPTY` (`is null`).
    fn assignee(&mut self) -> Result<Clause, JqlError> {
        if self.eat_keyword("IS") {
            if self.eat_keyword("EMPTY") || self.eat_keyword("NULL") {
                return Ok(Clause::AssigneeIsEmpty);
            }
            return Err(self.expected("EMPTY after 'assignee is'"));
        }
        self.expect(
            Token::Operator("=".into()),
            "'= currentUser()' or 'is EMPTY' after 'assignee'",
        )?;
        self.expect_keyword("currentUser", "currentUser() after 'assignee ='")?;
        self.expect(Token::LeftParen, "'(' after 'currentUser'")?;
        self.expect(Token::RightParen, "')' after 'currentUser('")?;
        Ok(Clause::AssigneeIsCurrentUser)
    }

    /// `(created | key | updated) [ASC | DESC]`, after `ORDER BY`.
    fn order_by(&mut self) -> Result<(SortField, SortOrder), JqlError> {
        let Some(Lexeme {
            token: Token::Word(word),
            at,
        }) = self.peek().cloned()
        else {
            return Err(self.expected("a field after 'ORDER BY'"));
        };
        let field = match word.to_ascii_lowercase().as_str() {
            "created" => SortField::Created,
            "key" => SortField::Key,
            "updated" => SortField::Updated,
            _ => {
                return Err(syntax(format!(
                    "Ordering by '{word}' at character {at} is not supported by the sandbox; \
                     use created, key or updated."
                )))
            }
        };
        self.next += 1;
        let order = if self.eat_keyword("ASC") {
            SortOrder::Ascending
        } else if self.eat_keyword("DESC") {
            SortOrder::Descending
        } else {
            field.default_order()
        };
        Ok((field, order))
    }

    /// Nothing may follow the query.
    fn finish(&self) -> Result<(), JqlError> {
        match self.peek() {
            None => Ok(()),
            Some(Lexeme {
                token: Token::Word(w),
                at,
            }) => {
                Err(unsupported_word(w, *at)
                    .unwrap_or_else(|| self.expected("'AND' or 'ORDER BY'")))
            }
            Some(_) => Err(self.expected("'AND' or 'ORDER BY'")),
        }
    }
}

/// Words that cannot be bare values.
const RESERVED: [&str; 8] = ["AND", "OR", "NOT", "ORDER", "BY", "IN", "IS", "EMPTY"];

/// The error for a JQL keyword the sandbox does not support, if `word` is one.
fn unsupported_word(word: &str, at: usize) -> Option<JqlError> {
    ["OR", "NOT"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
        .then(|| {
            syntax(format!(
                "'{word}' at character {at} is not supported by the sandbox; join clauses with AND."
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clauses(jql: &str) -> Vec<Clause> {
        parse(jql).expect("valid JQL").clauses
    }

    fn error(jql: &str) -> String {
        parse(jql).expect_err("invalid JQL").0
    }

    #[test]
    fn the_empty_query_selects_everything_newest_first() {
        for jql in ["", "   "] {
            assert_eq!(
                parse(jql),
                Ok(Query {
                    clauses: vec![],
                    sort_field: SortField::Created,
                    sort_order: SortOrder::Descending,
                })
            );
        }
    }

    #[test]
    fn each_clause_kind_parses() {
        assert_eq!(
            clauses("project = ACME"),
            [Clause::ProjectIn(vec!["ACME".into()])]
        );
        assert_eq!(
            clauses("project IN (ACME, \"OPS\",'x y')"),
            [Clause::ProjectIn(vec![
                "ACME".into(),
                "OPS".into(),
                "x y".into()
            ])]
        );
        assert_eq!(
            clauses("status = \"In Progress\""),
            [Clause::StatusIn(vec!["In Progress".into()])]
        );
        assert_eq!(
            clauses("status=Done"),
            [Clause::StatusIn(vec!["Done".into()])]
        );
        assert_eq!(
            clauses("assignee = currentUser()"),
            [Clause::AssigneeIsCurrentUser]
        );
        assert_eq!(clauses("Assignee is empty"), [Clause::AssigneeIsEmpty]);
        assert_eq!(clauses("assignee IS NULL"), [Clause::AssigneeIsEmpty]);
        assert_eq!(
            clauses(r#"text ~ "say \"hi\"""#),
            [Clause::TextContains("say \"hi\"".into())]
        );
    }

    #[test]
    fn clauses_join_with_and_and_order_by_follows() {
        let query = parse("project = ACME and status = Done AND text ~ login ORDER BY key ASC")
            .expect("valid JQL");
        assert_eq!(query.clauses.len(), 3);
        assert_eq!(query.sort_field, SortField::Key);
        assert_eq!(query.sort_order, SortOrder::Ascending);
        let query = parse("order by Updated").expect("valid JQL");
        assert!(query.clauses.is_empty());
        assert_eq!(
            (query.sort_field, query.sort_order),
            (SortField::Updated, SortOrder::Descending)
        );
        let query = parse("project = A ORDER BY created desc").expect("valid JQL");
        assert_eq!(query.sort_order, SortOrder::Descending);
        let query = parse("ORDER BY key").expect("valid JQL");
        assert_eq!(query.sort_order, SortOrder::Ascending);
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        assert_eq!(
            error("project = ACME OR project = OPS"),
            "Error in the JQL Query: 'OR' at character 16 is not supported by the sandbox; join clauses with AND."
        );
        assert_eq!(
            error("priority = High"),
            "Error in the JQL Query: The field 'priority' at character 1 is not supported by the sandbox; use project, status, assignee or text."
        );
        assert_eq!(
            error("project != ACME"),
            "Error in the JQL Query: The operator '!=' at character 9 is not supported for 'project'; use = or in."
        );
        assert_eq!(
            error("status = \"In Progress"),
            "Error in the JQL Query: The quoted string starting at character 10 is not closed."
        );
        assert_eq!(
            error("project = ACME AND"),
            "Error in the JQL Query: Expecting a field name but the query ends."
        );
        assert_eq!(
            error("project = ACME status = Done"),
            "Error in the JQL Query: Expecting 'AND' or 'ORDER BY' but got 'status' at character 16."
        );
        assert_eq!(
            error("ORDER BY priority"),
            "Error in the JQL Query: Ordering by 'priority' at character 10 is not supported by the sandbox; use created, key or updated."
        );
    }

    #[test]
    fn malformed_clauses_are_errors() {
        for jql in [
            "project",
            "project =",
            "project = AND",
            "project in ACME",
            "project in (ACME",
            "project in ()",
            "assignee = ada",
            "assignee = currentUser(",
            "assignee is not EMPTY",
            "text = word",
            "ORDER created",
            "ORDER BY",
            "ORDER BY key ASC extra",
            "(project = ACME)",
            "NOT project = ACME",
        ] {
            assert!(
                parse(jql).is_err_and(|e| e.0.starts_with("Error in the JQL Query: ")),
                "{jql}"
            );
        }
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        assert_eq!(
            error("text ~ \"café\" OR"),
            "Error in the JQL Query: 'OR' at character 15 is not supported by the sandbox; join clauses with AND."
        );
    }
}
