//! SQL over HTTP for declared endpoints: the statement is found where the endpoint's dialect
//! puts it, parsed with `sqlparser`, and summarised (statement kinds, tables, WHERE clauses).
//! SQL that does not parse is an action with operation `unparsed`, never a harmless read.

use std::ops::ControlFlow;

use aarmor_core::{Protocol, RiskSignal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlparser::ast::{visit_relations, Statement};
use sqlparser::dialect::{
    ClickHouseDialect, Dialect as ParserDialect, PostgreSqlDialect, SQLiteDialect, SnowflakeDialect,
};
use sqlparser::parser::Parser;

use crate::draft::ActionDraft;

/// Where a SQL-over-HTTP endpoint carries its statement, and which SQL it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlDialect {
    /// ClickHouse HTTP interface: `?query=`, or the POST body when there is no `query`
    /// parameter (with a `query` parameter, the body is data, e.g. for `INSERT ... FORMAT`).
    Clickhouse,
    /// Postgres over HTTP: a JSON body `{"query": "...", "params": [...]}`.
    PostgresHttp,
    /// Snowflake SQL API: `POST /api/v2/statements` with `{"statement": "..."}`.
    Snowflake,
    /// Datasette: `?sql=` (SQLite).
    Datasette,
}

impl SqlDialect {
    fn parser(self) -> Box<dyn ParserDialect> {
        match self {
            Self::Clickhouse => Box::new(ClickHouseDialect {}),
            Self::PostgresHttp => Box::new(PostgreSqlDialect {}),
            Self::Snowflake => Box::new(SnowflakeDialect),
            Self::Datasette => Box::new(SQLiteDialect {}),
        }
    }
}

/// The SQL of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlText {
    pub sql: String,
    /// Bound parameters, when the wire format has them.
    pub params: Option<Value>,
}

fn query_param(path_and_query: &str, name: &str) -> Option<String> {
    let (_, query) = path_and_query.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Finds the SQL in a request; `None` when the request carries none (e.g. a status poll).
pub fn extract(
    dialect: SqlDialect,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Option<SqlText> {
    let json_field = |field: &str, params: &str| -> Option<SqlText> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let sql = v.get(field)?.as_str()?.to_string();
        Some(SqlText {
            sql,
            params: v.get(params).cloned(),
        })
    };
    match dialect {
        SqlDialect::Clickhouse => {
            if let Some(sql) = query_param(path_and_query, "query") {
                return Some(SqlText { sql, params: None });
            }
            let text = std::str::from_utf8(body).ok()?.trim();
            (method.eq_ignore_ascii_case("POST") && !text.is_empty()).then(|| SqlText {
                sql: text.to_string(),
                params: None,
            })
        }
        SqlDialect::PostgresHttp => json_field("query", "params"),
        SqlDialect::Snowflake => {
            let path = path_and_query.split('?').next().unwrap_or_default();
            if !method.eq_ignore_ascii_case("POST")
                || !path.trim_end_matches('/').ends_with("/api/v2/statements")
            {
                return None;
            }
            json_field("statement", "bindings")
        }
        SqlDialect::Datasette => {
            query_param(path_and_query, "sql").map(|sql| SqlText { sql, params: None })
        }
    }
}

/// How dangerous a statement kind is; the action's operation is the most dangerous kind present.
fn severity(kind: &str) -> u8 {
    match kind {
        "drop" => 9,
        "truncate" => 8,
        "alter" => 7,
        "grant" | "revoke" => 6,
        "delete" => 5,
        "update" | "merge" => 4,
        "insert" => 3,
        "create" => 2,
        "select" => 0,
        _ => 1,
    }
}

fn statement_kind(stmt: &Statement) -> String {
    match stmt {
        Statement::Query(_) => "select".into(),
        Statement::Insert(_) => "insert".into(),
        Statement::Update { .. } => "update".into(),
        Statement::Delete(_) => "delete".into(),
        other => other
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or("unknown")
            .to_ascii_lowercase(),
    }
}

/// `Some(has_where)` for statements that may or may not be bounded by a WHERE clause.
fn where_clause(stmt: &Statement) -> Option<bool> {
    match stmt {
        Statement::Update { selection, .. } => Some(selection.is_some()),
        Statement::Delete(d) => Some(d.selection.is_some()),
        _ => None,
    }
}

/// The action of one SQL request to the endpoint named `tool`.
pub fn draft(dialect: SqlDialect, tool: &str, text: &SqlText) -> ActionDraft {
    let mut parameters = Map::new();
    parameters.insert("sql".into(), Value::String(text.sql.clone()));
    if let Some(p) = &text.params {
        parameters.insert("params".into(), p.clone());
    }
    let parsed = Parser::parse_sql(&*dialect.parser(), &text.sql);
    let (operation, risk_signals) = match parsed {
        Ok(statements) if !statements.is_empty() => {
            let kinds: Vec<String> = statements.iter().map(statement_kind).collect();
            let mut tables: Vec<String> = Vec::new();
            let _ = visit_relations(&statements, |name| {
                let n = name.to_string();
                if !tables.contains(&n) {
                    tables.push(n);
                }
                ControlFlow::<()>::Continue(())
            });
            let wheres: Vec<bool> = statements.iter().filter_map(where_clause).collect();
            let operation = kinds
                .iter()
                .max_by_key(|k| severity(k))
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            let mut unique_kinds = kinds.clone();
            unique_kinds.dedup();
            parameters.insert("statement_count".into(), json!(statements.len()));
            parameters.insert("statement_kinds".into(), json!(unique_kinds));
            parameters.insert("tables".into(), json!(tables));
            // True only when every UPDATE/DELETE is bounded; absent when there is none.
            if !wheres.is_empty() {
                parameters.insert("has_where".into(), json!(wheres.iter().all(|w| *w)));
            }
            (operation, Vec::new())
        }
        Ok(_) => (
            "unparsed".to_string(),
            vec![RiskSignal::SqlUnparsed {
                error: "no statement".into(),
            }],
        ),
        Err(e) => (
            "unparsed".to_string(),
            vec![RiskSignal::SqlUnparsed {
                error: e.to_string(),
            }],
        ),
    };
    ActionDraft {
        envelope: Default::default(),
        protocol: Protocol::Sql,
        tool: tool.to_string(),
        operation,
        parameters,
        risk_signals,
    }
}

/// Puts `new_sql` where the dialect carries the statement. Returns the new path-and-query and
/// body, or `None` when this request cannot be rewritten.
pub fn rewrite(
    dialect: SqlDialect,
    path_and_query: &str,
    body: &[u8],
    new_sql: &str,
) -> Option<(String, Vec<u8>)> {
    let set_param = |name: &str| -> String {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if k == name {
                ser.append_pair(&k, new_sql);
            } else {
                ser.append_pair(&k, &v);
            }
        }
        format!("{path}?{}", ser.finish())
    };
    let set_field = |field: &str| -> Option<Vec<u8>> {
        let mut v: Value = serde_json::from_slice(body).ok()?;
        v.as_object_mut()?
            .insert(field.into(), Value::String(new_sql.into()));
        serde_json::to_vec(&v).ok()
    };
    match dialect {
        SqlDialect::Clickhouse if query_param(path_and_query, "query").is_some() => {
            Some((set_param("query"), body.to_vec()))
        }
        SqlDialect::Clickhouse => Some((path_and_query.to_string(), new_sql.as_bytes().to_vec())),
        SqlDialect::Datasette => Some((set_param("sql"), body.to_vec())),
        SqlDialect::PostgresHttp => Some((path_and_query.to_string(), set_field("query")?)),
        SqlDialect::Snowflake => Some((path_and_query.to_string(), set_field("statement")?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(d: SqlDialect, s: &str) -> ActionDraft {
        draft(
            d,
            "sql:db",
            &SqlText {
                sql: s.into(),
                params: None,
            },
        )
    }

    #[test]
    fn statement_kinds_tables_and_where() {
        let a = sql(
            SqlDialect::Clickhouse,
            "SELECT count() FROM events WHERE x = 1",
        );
        assert_eq!(a.operation, "select");
        assert_eq!(a.parameters["tables"], json!(["events"]));
        let a = sql(SqlDialect::PostgresHttp, "DELETE FROM users");
        assert_eq!(a.operation, "delete");
        assert_eq!(a.parameters["has_where"], json!(false));
        let a = sql(
            SqlDialect::PostgresHttp,
            "UPDATE users SET a = 1 WHERE id = 2",
        );
        assert_eq!(a.parameters["has_where"], json!(true));
        let a = sql(SqlDialect::Datasette, "select 1; drop table users");
        assert_eq!(
            a.operation, "drop",
            "the most dangerous statement names the operation"
        );
        assert_eq!(a.parameters["statement_count"], json!(2));
        let a = sql(SqlDialect::Snowflake, "TRUNCATE TABLE t");
        assert_eq!(a.operation, "truncate");
        let a = sql(SqlDialect::PostgresHttp, "GRANT ALL ON t TO bob");
        assert_eq!(a.operation, "grant");
    }

    #[test]
    fn unparsable_sql_is_never_a_read() {
        let a = sql(SqlDialect::Clickhouse, "SELEC * FROMM t; DROP");
        assert_eq!(a.operation, "unparsed");
        assert_eq!(a.parameters["sql"], "SELEC * FROMM t; DROP");
        assert!(matches!(a.risk_signals[0], RiskSignal::SqlUnparsed { .. }));
    }

    #[test]
    fn extraction_per_dialect() {
        let t = extract(
            SqlDialect::Clickhouse,
            "GET",
            "/?query=SELECT%201&user=x",
            b"",
        )
        .unwrap();
        assert_eq!(t.sql, "SELECT 1");
        let t = extract(SqlDialect::Clickhouse, "POST", "/", b"SELECT 2").unwrap();
        assert_eq!(t.sql, "SELECT 2");
        let t = extract(
            SqlDialect::Clickhouse,
            "POST",
            "/?query=INSERT%20INTO%20t%20FORMAT%20TSV",
            b"1\t2\n",
        )
        .unwrap();
        assert_eq!(t.sql, "INSERT INTO t FORMAT TSV");
        let t = extract(
            SqlDialect::PostgresHttp,
            "POST",
            "/sql",
            br#"{"query":"select $1","params":[1]}"#,
        )
        .unwrap();
        assert_eq!(t.params, Some(json!([1])));
        assert!(extract(SqlDialect::Snowflake, "GET", "/api/v2/statements/abc", b"").is_none());
        let t = extract(
            SqlDialect::Snowflake,
            "POST",
            "/api/v2/statements?async=true",
            br#"{"statement":"select 1"}"#,
        )
        .unwrap();
        assert_eq!(t.sql, "select 1");
        let t = extract(
            SqlDialect::Datasette,
            "GET",
            "/db.json?sql=select+*+from+t",
            b"",
        )
        .unwrap();
        assert_eq!(t.sql, "select * from t");
    }

    #[test]
    fn rewrite_puts_sql_back_where_it_was() {
        let (pq, _) = rewrite(
            SqlDialect::Datasette,
            "/db.json?sql=select+1&_shape=array",
            b"",
            "select 2",
        )
        .unwrap();
        assert_eq!(
            extract(SqlDialect::Datasette, "GET", &pq, b"").unwrap().sql,
            "select 2"
        );
        assert!(pq.contains("_shape=array"));
        let (_, body) = rewrite(
            SqlDialect::PostgresHttp,
            "/",
            br#"{"query":"a","params":[]}"#,
            "b",
        )
        .unwrap();
        assert_eq!(
            extract(SqlDialect::PostgresHttp, "POST", "/", &body)
                .unwrap()
                .sql,
            "b"
        );
    }
}

#[cfg(test)]
mod clickhouse_tests {
    use super::*;

    #[test]
    fn common_clickhouse_statements_parse() {
        for s in [
            "CREATE TABLE t (x UInt8) ENGINE = Memory",
            "INSERT INTO t VALUES (1), (2)",
            "INSERT INTO t FORMAT TabSeparated",
            "SELECT count() FROM t FORMAT JSON",
            "SELECT * FROM system.tables WHERE database = 'default' LIMIT 5",
            "DROP TABLE t",
        ] {
            let d = draft(
                SqlDialect::Clickhouse,
                "ch",
                &SqlText {
                    sql: s.into(),
                    params: None,
                },
            );
            assert_ne!(d.operation, "unparsed", "{s}: {:?}", d.risk_signals);
        }
    }
}
