//! Control characters are refused at the boundary, once for every route: in JSON bodies
//! (`crate::json`), query strings (`crate::query`), paths (the middleware here) and CSV
//! uploads (`crate::upload`). PostgreSQL cannot store U+0000 in text at all (a 500 before
//! this), and no field of ours means a control character.
//!
//! The rule: U+0000–U+001F, U+007F and U+0080–U+009F are refused everywhere, with three
//! exceptions: tab, line feed and carriage return are allowed in the string values of
//! free-text fields that may span lines (`MULTI_LINE_FIELDS`) and in CSV files (whose rows
//! end in them). A bad body or query field answers 422 naming it; a bad path answers 404
//! (no object has such an id).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use baoxiu_core::{DomainError, FieldError};
use serde_json::Value;

use crate::problem::ApiError;

/// Body fields whose text may span lines: tab, line feed and carriage return are allowed
/// there (by the last segment of the field's path). Names, codes, ids, mobiles, passwords,
/// hosts and the like are single-line.
pub const MULTI_LINE_FIELDS: &[&str] = &[
    "about",
    "address",
    "description",
    "install_address",
    "introduction",
    "note",
    "notes",
    "reason",
    "remark",
];

/// Whether `c` is a control character; `multi_line` allows tab, line feed and carriage
/// return.
pub fn is_refused(c: char, multi_line: bool) -> bool {
    if multi_line && matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    c.is_control()
}

/// The first refused character of `text`, for the message.
fn first_refused(text: &str, multi_line: bool) -> Option<char> {
    text.chars().find(|c| is_refused(*c, multi_line))
}

fn words(c: char, multi_line: bool) -> String {
    if multi_line {
        format!(
            "must not contain control characters (found U+{:04X}; only tab and line breaks are allowed here)",
            u32::from(c)
        )
    } else {
        format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(c)
        )
    }
}

/// Every string of a JSON body (and every key) that holds a refused character, by path.
pub fn json_control_errors(value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(value, &mut Vec::new(), &mut errors);
    errors
}

fn walk(value: &Value, path: &mut Vec<String>, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) => {
            let multi_line = path
                .last()
                .is_some_and(|name| MULTI_LINE_FIELDS.contains(&name.as_str()));
            if let Some(c) = first_refused(text, multi_line) {
                errors.push(FieldError::new(
                    joined(path),
                    "control_character",
                    words(c, multi_line),
                ));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                walk(item, path, errors);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(key.clone());
                if let Some(c) = first_refused(key, false) {
                    errors.push(FieldError::new(
                        joined(path),
                        "control_character",
                        format!("the field's name {}", words(c, false)),
                    ));
                } else {
                    walk(item, path, errors);
                }
                path.pop();
            }
        }
        _ => {}
    }
}

fn joined(path: &[String]) -> String {
    if path.is_empty() {
        "body".to_owned()
    } else {
        path.join(".")
    }
}

/// The query parameters that hold a refused character (no query value is multi-line).
pub fn query_control_errors(query: &str) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let refused = first_refused(&key, false).or_else(|| first_refused(&value, false));
        if let Some(c) = refused {
            let field = key.chars().filter(|c| !c.is_control()).collect::<String>();
            if !errors.iter().any(|e| e.field == field) {
                errors.push(FieldError::new(field, "control_character", words(c, false)));
            }
        }
    }
    errors
}

/// A CSV file's first refused character (tab and line breaks are part of CSV), by line.
pub fn csv_control_error(file: &[u8]) -> Option<FieldError> {
    let text = String::from_utf8_lossy(file);
    text.lines().enumerate().find_map(|(index, line)| {
        first_refused(line, true).map(|c| {
            FieldError::new(
                "file",
                "control_character",
                format!("line {}: {}", index + 1, words(c, true)),
            )
        })
    })
}

/// Whether the path, percent-decoded, holds a control character (`/q/DM%00`).
pub fn path_has_control(path: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    decoded.chars().any(|c| is_refused(c, false))
}

/// Answers 404 for a path with a control character, before routing: no route or object
/// has one, and the database must never see it.
pub async fn refuse_control_characters_in_paths(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if path_has_control(req.path()) {
        let error: ApiError =
            DomainError::NotFound("object (the path holds a control character)").into();
        return Ok(req.error_response(error));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_everywhere_and_line_breaks_only_in_free_text() {
        let body = serde_json::json!({
            "name": "a\tb",
            "description": "line one\nline two\ttabbed",
            "about": "nul\u{0}",
            "list": [{ "role": "x\u{1b}" }],
        });
        let fields: Vec<_> = json_control_errors(&body)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["about", "list.0.role", "name"]);
        assert!(path_has_control("/q/DM%00"));
        assert!(path_has_control("/q/DM%c2%85"));
        assert!(!path_has_control("/q/DM%20x"));
        let query: Vec<_> = query_control_errors("q=a%00&limit=5&t=%0A")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(query, ["q", "t"]);
    }
}
