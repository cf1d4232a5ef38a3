//! Statements whose shape depends on the request: only the conditions a filter sets, and `IN`
//! lists of any length. sqlx's `Any` driver binds no arrays, so each value of a list is a
//! parameter of its own.

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

/// One bound value.
#[derive(Debug, Clone)]
pub(super) enum Param {
    Text(String),
    Int(i64),
}

/// The parameters of a statement being written, numbered `$1`, `$2`, ... in order.
#[derive(Debug, Default)]
pub(super) struct Params {
    values: Vec<Param>,
}

impl Params {
    /// Adds `value` and returns its placeholder.
    pub fn push(&mut self, value: Param) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    /// Adds every value and returns their placeholders, comma-separated, for `IN (...)`.
    pub fn list(&mut self, values: impl IntoIterator<Item = Param>) -> String {
        values
            .into_iter()
            .map(|v| self.push(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Binds the values, in the order of their placeholders, to `query`.
    pub fn bind<'q>(
        self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        self.values
            .into_iter()
            .fold(query, |query, value| match value {
                Param::Text(text) => query.bind(text),
                Param::Int(n) => query.bind(n),
            })
    }
}

/// ` WHERE a AND b ...`, or nothing when there are no conditions.
pub(super) fn where_all(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut params = Params::default();
        assert_eq!(params.push(Param::Int(1)), "$1");
        let list = params.list(["a", "b"].map(|s| Param::Text(s.into())));
        assert_eq!(list, "$2, $3");
        assert_eq!(params.list([]), "");
        assert_eq!(where_all(&[]), "");
        assert_eq!(
            where_all(&["brand = $1".into(), "status = $2".into()]),
            " WHERE brand = $1 AND status = $2"
        );
    }
}
