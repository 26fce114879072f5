//! [`Sql`]: a query text assembled at run time (a filter adds conditions
//! and values), with a SQLite and a PostgreSQL side. Such texts are not
//! compiled by `query-check/`; their tests run them on both databases.

use super::{query, Query, Value};

/// A query built piece by piece: its SQLite and PostgreSQL texts side by
/// side and the values bound, placeholders numbered `$1`, `$2`, ... in the
/// order they are pushed.
#[derive(Debug, Default)]
pub(super) struct Sql {
    sqlite: String,
    postgres: String,
    values: Vec<Value>,
}

impl Sql {
    /// Starts with `text`, the same on both backends.
    pub(super) fn new(text: &str) -> Self {
        Sql {
            sqlite: text.to_owned(),
            postgres: text.to_owned(),
            values: Vec::new(),
        }
    }

    /// Appends `text` to both texts.
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.sqlite.push_str(text);
        self.postgres.push_str(text);
        self
    }

    /// Appends one text to each backend's.
    pub(super) fn push_dialect(&mut self, sqlite: &str, postgres: &str) -> &mut Self {
        self.sqlite.push_str(sqlite);
        self.postgres.push_str(postgres);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn push_bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        let placeholder = format!("${}", self.values.len());
        self.push(&placeholder)
    }

    /// Appends a placeholder bound to a different value on each backend:
    /// both values are bound, each text names its own (neither backend
    /// minds a bound value its text does not use: SQLite binds by the
    /// number in the name, PostgreSQL is told every parameter's type).
    pub(super) fn push_bind_dialect(
        &mut self,
        sqlite: impl Into<Value>,
        postgres: impl Into<Value>,
    ) -> &mut Self {
        self.values.push(sqlite.into());
        let sqlite = format!("${}", self.values.len());
        self.values.push(postgres.into());
        let postgres = format!("${}", self.values.len());
        self.push_dialect(&sqlite, &postgres)
    }

    /// Appends `values` as placeholders separated by commas.
    pub(super) fn push_list<V: Into<Value>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        for (n, value) in values.into_iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self
    }

    /// The query, with its values bound.
    pub(super) fn build(self) -> Query {
        let q = if self.sqlite == self.postgres {
            query(self.sqlite)
        } else {
            Query::dialect(self.sqlite, self.postgres)
        };
        self.values.into_iter().fold(q, Query::bind)
    }
}
