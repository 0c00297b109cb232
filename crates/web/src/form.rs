//! Query strings and urlencoded form bodies into serde types.
//!
//! The pairs are grouped by key, in the order each key first appears. A
//! field that deserializes as a sequence (`Vec<T>`, tuples) takes every
//! value of its key, so `?tag=a&tag=b` fills `tags: Vec<String>` as
//! Express's `qs` does; any other field takes its key's single value,
//! parsed from text (`u32`, `bool`, unit enum variants by name), and a key
//! given more than once for such a field is an error, never a silent pick
//! of one value. A present key is `Some` for an `Option` field. Unknown
//! keys are ignored unless the type denies them.

use std::collections::HashMap;
use std::fmt;

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

/// Why pairs did not fit the type.
#[derive(Debug)]
pub(crate) struct FormError(String);

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormError {}

impl de::Error for FormError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FormError(msg.to_string())
    }
}

/// Deserializes decoded `(key, value)` pairs into `T`.
pub(crate) fn from_pairs<T: DeserializeOwned>(
    pairs: Vec<(String, String)>,
) -> Result<T, FormError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in pairs {
        match index.get(&k) {
            Some(&i) => grouped[i].1.push(v),
            None => {
                index.insert(k.clone(), grouped.len());
                grouped.push((k, vec![v]));
            }
        }
    }
    T::deserialize(Pairs(grouped))
}

/// All the pairs: a map from key to its values.
struct Pairs(Vec<(String, Vec<String>)>);

impl<'de> Deserializer<'de> for Pairs {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let entries = self.0.into_iter().map(|(k, values)| {
            let key = Some(k.clone());
            (k, Values { key, values })
        });
        let mut map = de::value::MapDeserializer::new(entries);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The values of one key.
struct Values {
    /// The key, for error messages.
    key: Option<String>,
    values: Vec<String>,
}

impl<'de> IntoDeserializer<'de, FormError> for Values {
    type Deserializer = Values;
    fn into_deserializer(self) -> Values {
        self
    }
}

impl Values {
    /// The one value a field that is not a sequence takes.
    fn one(mut self) -> Result<Part, FormError> {
        let key = self.key.take().unwrap_or_default();
        if self.values.len() > 1 {
            return Err(FormError(format!("`{key}` is given more than once")));
        }
        Ok(Part {
            key,
            value: self.values.pop().unwrap_or_default(),
        })
    }

    fn parts(self) -> impl Iterator<Item = Part> {
        let key = self.key.unwrap_or_default();
        self.values.into_iter().map(move |value| Part {
            key: key.clone(),
            value,
        })
    }
}

macro_rules! one_value {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
                self.one()?.$method(visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Values {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        if self.values.len() == 1 {
            self.one()?.deserialize_any(visitor)
        } else {
            self.deserialize_seq(visitor)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let mut seq = de::value::SeqDeserializer::new(self.parts());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.one()?.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.one()?.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.one()?.deserialize_struct(name, fields, visitor)
    }

    one_value! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_map deserialize_identifier
    }
}

/// One value, parsed from its text as the field needs.
struct Part {
    key: String,
    value: String,
}

impl<'de> IntoDeserializer<'de, FormError> for Part {
    type Deserializer = Part;
    fn into_deserializer(self) -> Part {
        self
    }
}

macro_rules! parsed {
    ($($method:ident => $visit:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
                match self.value.parse() {
                    Ok(v) => visitor.$visit(v),
                    Err(e) => Err(FormError(format!("`{}`: {:?}: {e}", self.key, self.value))),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Part {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_string(self.value)
    }

    parsed! {
        deserialize_bool => visit_bool,
        deserialize_i8 => visit_i8,
        deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128,
        deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64,
        deserialize_u128 => visit_u128,
        deserialize_f32 => visit_f32,
        deserialize_f64 => visit_f64,
        deserialize_char => visit_char,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        let s: StringDeserializer<FormError> = self.value.into_deserializer();
        visitor.visit_enum(s)
    }

    serde::forward_to_deserialize_any! {
        str string bytes byte_buf unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::from_pairs;
    use crate::codec::parse_pairs;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Sort {
        Name,
        Price,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Q {
        q: String,
        #[serde(default)]
        tag: Vec<String>,
        limit: Option<u32>,
        sort: Option<Sort>,
        #[serde(default)]
        exact: bool,
    }

    fn q(s: &str) -> Result<Q, String> {
        from_pairs(parse_pairs(s)).map_err(|e| e.to_string())
    }

    #[test]
    fn repeated_keys_fill_sequences() {
        assert_eq!(
            q("q=lamp+oak&tag=a&limit=5&tag=b%20c&sort=price&exact=true&other=x"),
            Ok(Q {
                q: "lamp oak".into(),
                tag: vec!["a".into(), "b c".into()],
                limit: Some(5),
                sort: Some(Sort::Price),
                exact: true,
            })
        );
        assert_eq!(
            q("q=x"),
            Ok(Q {
                q: "x".into(),
                tag: vec![],
                limit: None,
                sort: None,
                exact: false,
            })
        );
        assert_eq!(q("q=x&tag=one").unwrap().tag, ["one"]);
        assert_eq!(q("q=x&sort=name").unwrap().sort, Some(Sort::Name));
    }

    #[test]
    fn misfits_are_errors_that_name_the_key() {
        let e = q("q=a&q=b").unwrap_err();
        assert!(e.contains("`q` is given more than once"), "{e}");
        let e = q("q=a&limit=many").unwrap_err();
        assert!(e.contains("limit"), "{e}");
        assert!(q("limit=1").unwrap_err().contains("missing field `q`"));
        assert!(q("q=a&sort=size").is_err());
        assert!(q("q=a&exact=yes").is_err());
    }

    #[test]
    fn maps_and_tuples() {
        let m: std::collections::BTreeMap<String, String> =
            from_pairs(parse_pairs("b=2&a=1")).unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        let t: (u8, u8) = {
            #[derive(Deserialize)]
            struct P {
                p: (u8, u8),
            }
            from_pairs::<P>(parse_pairs("p=1&p=2")).unwrap().p
        };
        assert_eq!(t, (1, 2));
    }
}
