//! Validation of a new item: a JSON object in, a [`NewItem`] or every
//! field error out (all of them, not just the first, so a client can fix
//! its request in one round).
//!
//! Pure: no I/O, so the rules are unit-tested directly.

use serde::Serialize;
use serde_json::{Map, Value};

/// The longest name accepted, in characters.
pub(crate) const MAX_NAME: usize = 200;
/// The longest description accepted, in characters.
pub(crate) const MAX_DESCRIPTION: usize = 2000;
/// The highest price accepted, in cents.
pub(crate) const MAX_PRICE_CENTS: i64 = 100_000_000;
/// The most tags an item may have.
pub(crate) const MAX_TAGS: usize = 10;
/// The longest tag accepted, in characters.
pub(crate) const MAX_TAG: usize = 30;

/// The members a new item may have.
const FIELDS: [&str; 4] = ["name", "description", "price_cents", "tags"];

/// A valid new item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewItem {
    /// The name, trimmed.
    pub(crate) name: String,
    /// The description, trimmed (empty when absent).
    pub(crate) description: String,
    /// The price in cents.
    pub(crate) price_cents: i64,
    /// The tags, lowercased, without duplicates.
    pub(crate) tags: Vec<String>,
}

/// One invalid field, as listed in a 422 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FieldError {
    /// The member's name (empty for the body as a whole).
    pub(crate) field: String,
    /// What is wrong with it.
    pub(crate) message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Checks a parsed body against the rules for a new item.
pub(crate) fn new_item(body: &Value) -> Result<NewItem, Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new("", "the body must be a JSON object")]);
    };
    let mut errors: Vec<FieldError> = obj
        .keys()
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .map(|k| FieldError::new(k, "unknown field"))
        .collect();
    let name = string_field(obj, "name", true, MAX_NAME, &mut errors);
    let description = string_field(obj, "description", false, MAX_DESCRIPTION, &mut errors);
    let price_cents = price(obj.get("price_cents"), &mut errors);
    let tags = tags(obj.get("tags"), &mut errors);
    match (name, description, price_cents, tags) {
        (Some(name), Some(description), Some(price_cents), Some(tags)) if errors.is_empty() => {
            Ok(NewItem {
                name,
                description,
                price_cents,
                tags,
            })
        }
        _ => Err(errors),
    }
}

/// A string member: required or not, non-empty when present, at most
/// `max` characters. `Some("")` for an absent optional member.
fn string_field(
    obj: &Map<String, Value>,
    field: &str,
    required: bool,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let s = match obj.get(field) {
        None | Some(Value::Null) if !required => return Some(String::new()),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(field, "is required"));
            return None;
        }
        Some(Value::String(s)) => s.trim(),
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            return None;
        }
    };
    let chars = s.chars().count();
    if required && chars == 0 {
        errors.push(FieldError::new(field, "must not be empty"));
        None
    } else if chars > max {
        let msg = format!("must be at most {max} characters (got {chars})");
        errors.push(FieldError::new(field, msg));
        None
    } else {
        Some(s.to_owned())
    }
}

/// `price_cents`: a required integer in `0..=MAX_PRICE_CENTS`.
fn price(v: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let field = "price_cents";
    let Some(v) = v.filter(|v| !v.is_null()) else {
        errors.push(FieldError::new(field, "is required"));
        return None;
    };
    let Some(n) = v.as_i64() else {
        let msg = if v.is_number() {
            "must be a whole number of cents"
        } else {
            "must be an integer"
        };
        errors.push(FieldError::new(field, msg));
        return None;
    };
    if n < 0 {
        errors.push(FieldError::new(field, "must not be negative"));
        None
    } else if n > MAX_PRICE_CENTS {
        let msg = format!("must be at most {MAX_PRICE_CENTS}");
        errors.push(FieldError::new(field, msg));
        None
    } else {
        Some(n)
    }
}

/// `tags`: an optional array of short words (letters, digits, `-`).
fn tags(v: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let field = "tags";
    let list = match v {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.push(FieldError::new(field, "must be an array of strings"));
            return None;
        }
    };
    if list.len() > MAX_TAGS {
        errors.push(FieldError::new(field, format!("at most {MAX_TAGS} tags")));
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let before = errors.len();
    for (i, t) in list.iter().enumerate() {
        let at = format!("tags[{i}]");
        let Some(t) = t.as_str() else {
            errors.push(FieldError::new(&at, "must be a string"));
            continue;
        };
        let t = t.trim().to_lowercase();
        let ok_chars = t.chars().all(|c| c.is_alphanumeric() || c == '-');
        if t.is_empty() || t.chars().count() > MAX_TAG || !ok_chars {
            let msg = format!("must be 1 to {MAX_TAG} letters, digits or '-'");
            errors.push(FieldError::new(&at, msg));
        } else if !out.contains(&t) {
            out.push(t);
        }
    }
    (errors.len() == before).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<String> {
        new_item(&v)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn accepts_a_valid_item_and_normalizes_it() {
        let v = json!({"name": "  Teapot ", "price_cents": 1999, "tags": ["Kitchen", "kitchen", "gift"]});
        let item = new_item(&v).unwrap();
        assert_eq!(item.name, "Teapot");
        assert_eq!(item.description, "");
        assert_eq!(item.price_cents, 1999);
        assert_eq!(item.tags, ["kitchen", "gift"]);
    }

    #[test]
    fn lists_every_invalid_field() {
        let long = "x".repeat(MAX_NAME + 1);
        assert_eq!(
            fields(json!({"name": long, "price_cents": -1, "tags": "a", "colour": "red"})),
            ["colour", "name", "price_cents", "tags"]
        );
        assert_eq!(fields(json!({"name": " ", "price_cents": 1})), ["name"]);
        assert_eq!(fields(json!({})), ["name", "price_cents"]);
        assert_eq!(
            fields(json!({"name": "a", "price_cents": 1.5})),
            ["price_cents"]
        );
        assert_eq!(
            fields(json!({"name": 3, "price_cents": "3"})),
            ["name", "price_cents"]
        );
        assert_eq!(
            fields(json!({"name": "a", "price_cents": 1, "tags": ["ok", "no spaces", 4]})),
            ["tags[1]", "tags[2]"]
        );
        assert_eq!(fields(json!([1, 2])), [""]);
    }

    #[test]
    fn limits_are_inclusive() {
        let name = "é".repeat(MAX_NAME);
        let v = json!({"name": name, "price_cents": MAX_PRICE_CENTS, "description": null});
        assert!(new_item(&v).is_ok());
        let v = json!({"name": "a", "price_cents": MAX_PRICE_CENTS + 1});
        assert_eq!(fields(v), ["price_cents"]);
    }
}
