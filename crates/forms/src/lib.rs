//! The forms engine: the fields a form asks for (kind, label, required, visible, options,
//! limits), the check of a form's definition, and the validation of submitted values,
//! which answers every bad field at once and hands back the values normalised.
//! Registration forms and work-order form templates both use it.

use baoxiu_core::{FieldError, text_enum};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Submitted or normalised values, by field key.
pub type Values = serde_json::Map<String, Value>;

text_enum! {
    /// What a field takes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum FieldKind {
        /// One line of text (trimmed).
        Text = "text",
        /// Several lines of text (trimmed).
        Textarea = "textarea",
        /// A number (a JSON number, or a text that reads as one).
        Number = "number",
        /// One of the options.
        Select = "select",
        /// Any of the options (a list; duplicates dropped).
        Multiselect = "multiselect",
        /// A calendar date, `YYYY-MM-DD`.
        Date = "date",
        /// A point in time, RFC 3339 (normalised to UTC).
        DateTime = "date_time",
        /// A telephone number: digits with spaces, dashes, brackets, a leading `+`.
        Phone = "phone",
        /// A mainland China mobile number (normalised to its 11 digits).
        Mobile = "mobile",
        /// Uploaded files: a list of at most 9 attachment ids (whose owner the caller
        /// checks).
        Attachments = "attachments",
        /// A text of at most 500 characters, a number or a yes/no: the extra fields of
        /// registration forms, which never said what they take.
        Free = "free",
    }
}

impl FieldKind {
    /// Whether the field chooses among options.
    pub fn has_options(self) -> bool {
        matches!(self, Self::Select | Self::Multiselect)
    }

    /// Whether the field is a text with a length limit.
    pub fn is_text(self) -> bool {
        matches!(self, Self::Text | Self::Textarea)
    }

    /// The longest text a field of this kind takes when its definition says nothing.
    pub fn default_max_length(self) -> usize {
        match self {
            Self::Textarea => 2000,
            _ => 200,
        }
    }
}

/// Limits beyond the kind; `None` leaves the kind's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Text and textarea: the most characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Number: the smallest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Number: the largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// One field of a form.
///
/// Serialised as forms store it (read leniently: fields added later default, unknown ones
/// are ignored); API bodies are their own types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The key the value is sent and stored under (a-z, 0-9, _).
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// A hidden field is not on the form: it is not asked, and a value for it is refused.
    #[serde(default = "shown")]
    pub visible: bool,
    /// Select and multiselect: the choices, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
}

fn shown() -> bool {
    true
}

impl Field {
    /// A visible field of this kind, without options or limits.
    pub fn new(key: &str, label: &str, kind: FieldKind, required: bool) -> Self {
        Self {
            key: key.to_owned(),
            label: label.to_owned(),
            kind,
            required,
            visible: true,
            options: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// The same field with these options.
    pub fn with_options(mut self, options: &[&str]) -> Self {
        self.options = options.iter().map(|o| (*o).to_owned()).collect();
        self
    }

    /// The same field, hidden.
    pub fn hidden(mut self) -> Self {
        self.visible = false;
        self
    }

    fn max_length(&self) -> usize {
        self.limits
            .max_length
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(self.kind.default_max_length())
    }
}

fn name(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Whether a value counts as given for a field of this kind: not null, not a blank text,
/// and for a multiselect not an empty list.
pub fn is_given(kind: FieldKind, value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(items))
            if matches!(kind, FieldKind::Multiselect | FieldKind::Attachments) =>
        {
            !items.is_empty()
        }
        Some(_) => true,
    }
}

/// Checks submitted `values` against the visible `fields` and answers the values
/// normalised (only the fields given, in their normal form), or every bad field at once:
/// a required field missing, a value of the wrong kind, out of its limits or not among the
/// options, and a value for a field that is not on the form. Errors name the field as
/// `{prefix}.{key}` (just `key` when `prefix` is empty).
pub fn validate(
    prefix: &str,
    fields: &[Field],
    values: &Values,
) -> Result<Values, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut normalised = Values::new();
    for field in fields.iter().filter(|f| f.visible) {
        let value = values.get(&field.key);
        if !is_given(field.kind, value) {
            if field.required {
                errors.push(FieldError::new(
                    name(prefix, &field.key),
                    "required",
                    format!("{} is required", field.label),
                ));
            }
            continue;
        }
        let Some(value) = value else { continue };
        match normalise(field, value) {
            Ok(value) => {
                normalised.insert(field.key.clone(), value);
            }
            Err((code, message)) => {
                errors.push(FieldError::new(name(prefix, &field.key), code, message));
            }
        }
    }
    for key in values.keys() {
        if !fields.iter().any(|f| f.visible && &f.key == key) {
            errors.push(FieldError::new(
                name(prefix, key),
                "unknown_field",
                "this field is not on the form",
            ));
        }
    }
    if errors.is_empty() {
        Ok(normalised)
    } else {
        Err(errors)
    }
}

type Refusal = (&'static str, String);

fn normalise(field: &Field, value: &Value) -> Result<Value, Refusal> {
    let text = || {
        value
            .as_str()
            .map(str::trim)
            .ok_or(("invalid", "must be a text".to_owned()))
    };
    match field.kind {
        FieldKind::Free => {
            let ok = value.as_str().is_some_and(|s| s.chars().count() <= 500)
                || value.is_number()
                || value.is_boolean();
            if ok {
                Ok(value.clone())
            } else {
                Err((
                    "invalid",
                    "a text of at most 500 characters, a number or a boolean".to_owned(),
                ))
            }
        }
        FieldKind::Text | FieldKind::Textarea => {
            let text = text()?;
            let max = field.max_length();
            if text.chars().count() > max {
                Err(("too_long", format!("must be at most {max} characters")))
            } else {
                Ok(Value::String(text.to_owned()))
            }
        }
        FieldKind::Number => {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
                _ => None,
            }
            .ok_or(("invalid", "must be a number".to_owned()))?;
            if field.limits.min.is_some_and(|min| number < min)
                || field.limits.max.is_some_and(|max| number > max)
            {
                return Err(("out_of_range", range_message(&field.limits)));
            }
            Ok(match value {
                Value::Number(n) => Value::Number(n.clone()),
                _ => number_value(number),
            })
        }
        FieldKind::Select => {
            let text = text()?;
            if field.options.iter().any(|o| o == text) {
                Ok(Value::String(text.to_owned()))
            } else {
                Err(("not_an_option", options_message(field)))
            }
        }
        FieldKind::Multiselect => {
            let items = value
                .as_array()
                .ok_or(("invalid", "must be a list of options".to_owned()))?;
            let mut chosen: Vec<Value> = Vec::new();
            for item in items {
                let choice = item
                    .as_str()
                    .map(str::trim)
                    .filter(|c| field.options.iter().any(|o| o == c))
                    .ok_or(("not_an_option", options_message(field)))?;
                if !chosen.iter().any(|c| c.as_str() == Some(choice)) {
                    chosen.push(Value::String(choice.to_owned()));
                }
            }
            Ok(Value::Array(chosen))
        }
        FieldKind::Date => {
            let text = text()?;
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .map_err(|_| ("invalid", "must be a date, YYYY-MM-DD".to_owned()))
        }
        FieldKind::DateTime => {
            let text = text()?;
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| {
                    Value::String(
                        t.with_timezone(&chrono::Utc)
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    )
                })
                .map_err(|_| {
                    (
                        "invalid",
                        "must be a time, RFC 3339 (2026-03-20T12:42:00+08:00)".to_owned(),
                    )
                })
        }
        FieldKind::Phone => {
            let text = text()?;
            normalise_phone(text).map(Value::String).ok_or((
                "invalid",
                "must be a telephone number: 5-20 digits, with spaces, dashes, brackets or a leading +"
                    .to_owned(),
            ))
        }
        FieldKind::Attachments => {
            let ids: Option<Vec<Value>> = value.as_array().and_then(|items| {
                items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::trim)
                            .filter(|id| (1..=64).contains(&id.len()))
                            .map(|id| Value::String(id.to_owned()))
                    })
                    .collect()
            });
            match ids {
                Some(ids) if ids.len() <= MAX_ATTACHMENTS => Ok(Value::Array(ids)),
                _ => Err((
                    "invalid",
                    format!("must be a list of at most {MAX_ATTACHMENTS} attachment ids"),
                )),
            }
        }
        FieldKind::Mobile => normalise_mobile(&field.key, text()?)
            .map(Value::String)
            .map_err(|e| ("invalid", e.message)),
    }
}

fn number_value(number: f64) -> Value {
    serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
}

fn range_message(limits: &Limits) -> String {
    match (limits.min, limits.max) {
        (Some(min), Some(max)) => format!("must be from {min} to {max}"),
        (Some(min), None) => format!("must be at least {min}"),
        (None, Some(max)) => format!("must be at most {max}"),
        (None, None) => "out of range".to_owned(),
    }
}

fn options_message(field: &Field) -> String {
    format!("must be one of: {}", field.options.join(", "))
}

/// A telephone number with its separators dropped (a leading `+` kept), or `None`.
pub fn normalise_phone(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", trimmed),
    };
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => return None,
        }
    }
    (5..=20)
        .contains(&digits.len())
        .then(|| format!("{plus}{digits}"))
}

/// A mainland China mobile number: 11 digits starting 1[3-9]. Spaces, dashes and a
/// leading +86 are accepted and dropped; the normalised number is returned.
pub fn normalise_mobile(field: &str, input: &str) -> Result<String, FieldError> {
    if input.chars().count() > MAX_MOBILE_CHARS {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("at most {MAX_MOBILE_CHARS} characters"),
        ));
    }
    let digits: String = input
        .trim()
        .trim_start_matches("+86")
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let valid = digits.len() == 11
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.starts_with('1')
        && matches!(digits.as_bytes()[1], b'3'..=b'9');
    if valid {
        Ok(digits)
    } else {
        Err(FieldError::new(
            field,
            "invalid",
            "must be a mainland China mobile number (11 digits starting with 13-19)",
        ))
    }
}

/// How a form's definition is checked.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Keys a field may not take (the fixed fields of the form).
    pub reserved: &'a [&'a str],
    /// The most fields a form may have.
    pub max_fields: usize,
    /// The longest label.
    pub max_label: usize,
}

impl Default for Rules<'_> {
    fn default() -> Self {
        Self {
            reserved: &[],
            max_fields: 50,
            max_label: 32,
        }
    }
}

/// The most characters a mobile may be typed in (`+86 138-0013-8000` is 17).
pub const MAX_MOBILE_CHARS: usize = 20;

/// The most options a select may offer, and the longest option.
pub const MAX_OPTIONS: usize = 50;
pub const MAX_OPTION_CHARS: usize = 64;
/// The most attachments one field takes.
pub const MAX_ATTACHMENTS: usize = 9;
/// The longest text a field's definition may allow.
pub const MAX_TEXT_LIMIT: u32 = 10_000;

/// Checks a form's definition: every bad part of every field at once, named
/// `{prefix}.{index}.{part}` (`fields.2.options`). An empty answer means it is good.
pub fn check_definition(prefix: &str, fields: &[Field], rules: &Rules<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if fields.len() > rules.max_fields {
        errors.push(FieldError::new(
            prefix,
            "too_many",
            format!("at most {} fields", rules.max_fields),
        ));
    }
    let mut keys = std::collections::HashSet::new();
    for (i, field) in fields.iter().enumerate() {
        let part = |part: &str| name(prefix, &format!("{i}.{part}"));
        let key_ok = (1..=32).contains(&field.key.len())
            && field
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !rules.reserved.contains(&field.key.as_str())
            && keys.insert(field.key.clone());
        if !key_ok {
            let message = if rules.reserved.is_empty() {
                "a unique key of a-z, 0-9 and _".to_owned()
            } else {
                format!(
                    "a unique key of a-z, 0-9 and _ (not {})",
                    rules.reserved.join(", ")
                )
            };
            errors.push(FieldError::new(part("key"), "invalid", message));
        }
        let label = field.label.trim();
        if label.is_empty() || label.chars().count() > rules.max_label {
            errors.push(FieldError::new(
                part("label"),
                "invalid",
                format!("1-{} characters", rules.max_label),
            ));
        }
        if field.required && !field.visible {
            errors.push(FieldError::new(
                part("required"),
                "invalid",
                "a hidden field cannot be required",
            ));
        }
        errors.extend(check_options(field, &part("options")));
        errors.extend(check_limits(field, &part("limits")));
    }
    errors
}

fn check_options(field: &Field, at: &str) -> Option<FieldError> {
    if !field.kind.has_options() {
        return (!field.options.is_empty()).then(|| {
            FieldError::new(
                at,
                "invalid",
                "only select and multiselect fields have options",
            )
        });
    }
    let mut seen = std::collections::HashSet::new();
    let ok = (1..=MAX_OPTIONS).contains(&field.options.len())
        && field.options.iter().all(|o| {
            !o.trim().is_empty()
                && o.trim() == o
                && o.chars().count() <= MAX_OPTION_CHARS
                && seen.insert(o.as_str())
        });
    (!ok).then(|| {
        FieldError::new(
            at,
            "invalid",
            format!(
                "1-{MAX_OPTIONS} distinct options of 1-{MAX_OPTION_CHARS} characters, without surrounding spaces"
            ),
        )
    })
}

fn check_limits(field: &Field, at: &str) -> Vec<FieldError> {
    let limits = &field.limits;
    let mut errors = Vec::new();
    if let Some(max_length) = limits.max_length
        && (!field.kind.is_text() || !(1..=MAX_TEXT_LIMIT).contains(&max_length))
    {
        errors.push(FieldError::new(
            format!("{at}.max_length"),
            "invalid",
            format!("only text and textarea fields have one, of 1-{MAX_TEXT_LIMIT}"),
        ));
    }
    let bounds = [("min", limits.min), ("max", limits.max)];
    for (part, bound) in bounds {
        if let Some(bound) = bound
            && (field.kind != FieldKind::Number || !bound.is_finite())
        {
            errors.push(FieldError::new(
                format!("{at}.{part}"),
                "invalid",
                "only number fields have one, a finite number",
            ));
        }
    }
    if let (Some(min), Some(max)) = (limits.min, limits.max)
        && min > max
    {
        errors.push(FieldError::new(
            format!("{at}.max"),
            "out_of_range",
            "must not be below min",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn values(v: Value) -> Values {
        v.as_object().cloned().unwrap()
    }

    fn fields_of(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    fn form() -> Vec<Field> {
        let mut count = Field::new("count", "Count", FieldKind::Number, false);
        count.limits.min = Some(1.0);
        count.limits.max = Some(9.0);
        vec![
            Field::new("title", "Title", FieldKind::Text, true),
            Field::new("kind", "Kind", FieldKind::Select, true).with_options(&["a", "b"]),
            Field::new("tags", "Tags", FieldKind::Multiselect, false).with_options(&["x", "y"]),
            count,
            Field::new("day", "Day", FieldKind::Date, false),
            Field::new("at", "At", FieldKind::DateTime, false),
            Field::new("phone", "Phone", FieldKind::Phone, false),
            Field::new("mobile", "Mobile", FieldKind::Mobile, false),
            Field::new("secret", "Secret", FieldKind::Text, false).hidden(),
        ]
    }

    #[test]
    fn good_values_come_back_normalised() {
        let out = validate(
            "custom",
            &form(),
            &values(json!({
                "title": "  Printer  ", "kind": "b", "tags": ["y", "x", "y"], "count": "3",
                "day": "2026-03-20", "at": "2026-03-20T12:42:00+08:00",
                "phone": "4008-571-1 23", "mobile": "+86 138-0013-8000"
            })),
        )
        .unwrap();
        assert_eq!(
            Value::Object(out),
            json!({
                "title": "Printer", "kind": "b", "tags": ["y", "x"], "count": 3.0,
                "day": "2026-03-20", "at": "2026-03-20T04:42:00Z",
                "phone": "4008571123", "mobile": "13800138000"
            })
        );
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errors = validate(
            "custom",
            &form(),
            &values(json!({
                "title": "   ", "kind": "c", "tags": ["x", "z"], "count": 10, "day": "20.3.2026",
                "at": "yesterday", "phone": "call me", "mobile": "12345", "secret": "s", "extra": 1
            })),
        )
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            vec![
                ("custom.title", "required"),
                ("custom.kind", "not_an_option"),
                ("custom.tags", "not_an_option"),
                ("custom.count", "out_of_range"),
                ("custom.day", "invalid"),
                ("custom.at", "invalid"),
                ("custom.phone", "invalid"),
                ("custom.mobile", "invalid"),
                ("custom.extra", "unknown_field"),
                ("custom.secret", "unknown_field"),
            ]
        );
    }

    #[test]
    fn text_limits_and_wrong_json_types() {
        let mut short = Field::new("note", "Note", FieldKind::Textarea, false);
        short.limits.max_length = Some(3);
        let errors = validate(
            "",
            &[short, Field::new("n", "N", FieldKind::Number, false)],
            &values(json!({ "note": "four", "n": true })),
        )
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            vec![("note", "too_long"), ("n", "invalid")]
        );
    }

    #[test]
    fn free_fields_take_what_registration_took() {
        let fields = [
            Field::new("a", "A", FieldKind::Free, true),
            Field::new("b", "B", FieldKind::Free, false),
        ];
        let out = validate("x", &fields, &values(json!({ "a": 5, "b": true }))).unwrap();
        assert_eq!(Value::Object(out), json!({ "a": 5, "b": true }));
        let errors = validate("x", &fields, &values(json!({ "b": [1] }))).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            vec![("x.a", "required"), ("x.b", "invalid")]
        );
    }

    #[test]
    fn definitions_name_every_bad_part() {
        let mut bad_limits = Field::new("size", "Size", FieldKind::Text, false);
        bad_limits.limits.min = Some(1.0);
        let mut bad_range = Field::new("n", "N", FieldKind::Number, false);
        bad_range.limits.min = Some(5.0);
        bad_range.limits.max = Some(1.0);
        let mut hidden_required = Field::new("h", "H", FieldKind::Text, true);
        hidden_required.visible = false;
        let fields = vec![
            Field::new("Bad Key", "", FieldKind::Text, false),
            Field::new("pick", "Pick", FieldKind::Select, false),
            Field::new("pick", "Again", FieldKind::Text, false).with_options(&["a"]),
            Field::new("name", "Name", FieldKind::Text, false),
            bad_limits,
            bad_range,
            hidden_required,
        ];
        let rules = Rules {
            reserved: &["name"],
            ..Rules::default()
        };
        let errors = check_definition("fields", &fields, &rules);
        assert_eq!(
            fields_of(&errors),
            vec![
                ("fields.0.key", "invalid"),
                ("fields.0.label", "invalid"),
                ("fields.1.options", "invalid"),
                ("fields.2.key", "invalid"),
                ("fields.2.options", "invalid"),
                ("fields.3.key", "invalid"),
                ("fields.4.limits.min", "invalid"),
                ("fields.5.limits.max", "out_of_range"),
                ("fields.6.required", "invalid"),
            ]
        );
        assert!(check_definition("fields", &form(), &Rules::default()).is_empty());
    }

    #[test]
    fn stored_fields_read_leniently() {
        let field: Field = serde_json::from_value(
            json!({ "key": "a", "label": "A", "kind": "text", "added_later": 1 }),
        )
        .unwrap();
        assert!(field.visible && !field.required && field.options.is_empty());
    }
}
