//! The config's key table, read from the `Raw*` types themselves: which sections, keys and
//! arrays of tables exist, and which keys take a string.
//!
//! Nothing here is a hand-kept list. A [`Probe`] is a serde `Deserializer` that answers a
//! type's `Deserialize` impl with no data, only questions: a derived struct names all its
//! fields when it asks for a struct (serde passes them to `deserialize_struct`), and the
//! probe then follows one field at a time to learn what lies below it. toml's `Spanned`
//! wrapper is seen through. A hand-written `Deserialize` that reads "anything"
//! (`deserialize_any`, e.g. `access`, a string or a table) is offered a map with one key
//! nobody knows: a visitor that rejects it with serde's `unknown_field` names the keys it
//! does know, so its table form is listed too ([`Node::Flexible`]); one that takes no map is
//! a plain value.
//!
//! The environment overlay uses the table to refuse what it cannot address (arrays of
//! tables) and to read string keys literally; the `gateway.example.toml` test compares the
//! table with the example, so a key added to the types and not to the example fails it.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, UsizeDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// What a key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// A table (a section, or a key whose value is a table), with its keys in type order.
    Table(Vec<(&'static str, Node)>),
    /// An array; of tables (`[[route]]`) when the element is a [`Node::Table`].
    Array(Box<Node>),
    /// A string (also what is parsed from one: durations, addresses, paths, URLs).
    Text,
    /// A boolean, a number, or any other value.
    Value,
    /// A custom value that is a string or an inline table with these keys (`access`).
    Flexible(&'static [&'static str]),
}

impl Node {
    /// The keys of `T`'s `Deserialize` impl.
    pub(super) fn of<T: for<'de> Deserialize<'de>>() -> Node {
        node::<T>(&mut Vec::new())
    }

    /// The node of `key` in this table (`None`: no such key, or this is no table).
    pub(super) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Table(fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, n)| n),
            _ => None,
        }
    }

    /// Whether this is an array of tables.
    pub(super) fn is_array_of_tables(&self) -> bool {
        matches!(self, Node::Array(element) if matches!(**element, Node::Table(_)))
    }

    /// Every key below this node as a dotted path (`server.listen`, `route.upstream`,
    /// `route.access.groups`); tables are named by their keys, arrays by their elements'.
    #[cfg(test)]
    pub(super) fn dotted_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        self.collect("", &mut keys);
        keys
    }

    #[cfg(test)]
    fn collect(&self, prefix: &str, keys: &mut Vec<String>) {
        let join = |key: &str| {
            if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}.{key}")
            }
        };
        match self {
            Node::Table(fields) => {
                for (key, node) in fields {
                    let path = join(key);
                    if !matches!(node, Node::Table(_)) && !node.is_array_of_tables() {
                        keys.push(path.clone());
                    }
                    node.collect(&path, keys);
                }
            }
            Node::Array(element) => element.collect(prefix, keys),
            Node::Flexible(table_keys) => keys.extend(table_keys.iter().map(|k| join(k))),
            Node::Text | Node::Value => {}
        }
    }
}

/// One step of the path the probe follows into a type.
#[derive(Debug, Clone, Copy)]
enum Step {
    Field(&'static str),
    Element,
}

/// What the probe saw at the end of its path.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Struct(&'static [&'static str]),
    Seq,
    Text,
    Any(&'static [&'static str]),
}

fn node<T: for<'de> Deserialize<'de>>(path: &mut Vec<Step>) -> Node {
    let seen = Cell::new(None);
    // The probe always ends in an error (it has no data); what it saw is in `seen`.
    let _ = T::deserialize(Probe { path, seen: &seen });
    match seen.get() {
        Some(Shape::Struct(fields)) => Node::Table(
            fields
                .iter()
                .map(|field| {
                    path.push(Step::Field(field));
                    let child = node::<T>(path);
                    path.pop();
                    (*field, child)
                })
                .collect(),
        ),
        Some(Shape::Seq) => {
            path.push(Step::Element);
            let element = node::<T>(path);
            path.pop();
            Node::Array(Box::new(element))
        }
        Some(Shape::Text) => Node::Text,
        Some(Shape::Any(keys)) if !keys.is_empty() => Node::Flexible(keys),
        Some(Shape::Any(_)) | None => Node::Value,
    }
}

/// Why the probe stopped: always, since it has no data to give.
#[derive(Debug)]
enum Halt {
    /// The path's end was reached and its shape recorded.
    Reached,
    /// A visitor refused a key and named the ones it knows.
    UnknownField(&'static [&'static str]),
    /// Any other refusal.
    Refused,
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("schema probe")
    }
}

impl std::error::Error for Halt {}

impl de::Error for Halt {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Halt::Refused
    }

    fn unknown_field(_: &str, expected: &'static [&'static str]) -> Self {
        Halt::UnknownField(expected)
    }
}

/// A key no config type knows, offered to visitors that read anything.
const PROBE_KEY: &str = "\u{0}probe";

/// toml's `Spanned<T>` asks for a struct by this name (start, end, value).
fn is_spanned(name: &str) -> bool {
    name.starts_with("$__serde_spanned_private_")
}

struct Probe<'p> {
    path: &'p [Step],
    seen: &'p Cell<Option<Shape>>,
}

impl<'p> Probe<'p> {
    fn reached(&self, shape: Shape) -> Halt {
        self.seen.set(Some(shape));
        Halt::Reached
    }

    fn next(&self) -> Probe<'p> {
        Probe {
            path: &self.path[1..],
            seen: self.seen,
        }
    }
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = Halt;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Halt> {
        if !self.path.is_empty() {
            return Err(Halt::Refused);
        }
        let keys = match visitor.visit_map(UnknownKey { offered: false }) {
            Err(Halt::UnknownField(keys)) => keys,
            _ => &[],
        };
        Err(self.reached(Shape::Any(keys)))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Halt> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Halt> {
        if is_spanned(name) {
            return visitor.visit_map(SpannedFields {
                fields,
                probe: Some(self),
            });
        }
        match self.path.first() {
            None => Err(self.reached(Shape::Struct(fields))),
            Some(Step::Field(field)) => visitor.visit_map(OneField {
                field: Some(field),
                value: self.next(),
            }),
            Some(Step::Element) => Err(Halt::Refused),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Halt> {
        match self.path.first() {
            None => Err(self.reached(Shape::Seq)),
            Some(Step::Element) => visitor.visit_seq(OneElement {
                element: Some(self.next()),
            }),
            Some(Step::Field(_)) => Err(Halt::Refused),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Halt> {
        Err(self.reached(Shape::Text))
    }

    fn deserialize_string<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Halt> {
        Err(self.reached(Shape::Text))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Halt> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Halt> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct tuple tuple_struct enum identifier ignored_any
    }
}

/// A map of one key, [`PROBE_KEY`], whose value is never read.
struct UnknownKey {
    offered: bool,
}

impl<'de> MapAccess<'de> for UnknownKey {
    type Error = Halt;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Halt> {
        if std::mem::replace(&mut self.offered, true) {
            return Ok(None);
        }
        seed.deserialize(BorrowedStrDeserializer::new(PROBE_KEY))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, _: V) -> Result<V::Value, Halt> {
        Err(Halt::Refused)
    }
}

/// A struct's one field on the path, whose value is the rest of the path.
struct OneField<'p> {
    field: Option<&'static str>,
    value: Probe<'p>,
}

impl<'de> MapAccess<'de> for OneField<'_> {
    type Error = Halt;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Halt> {
        match self.field.take() {
            Some(field) => seed
                .deserialize(BorrowedStrDeserializer::new(field))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Halt> {
        seed.deserialize(Probe {
            path: self.value.path,
            seen: self.value.seen,
        })
    }
}

/// An array's one element, the rest of the path.
struct OneElement<'p> {
    element: Option<Probe<'p>>,
}

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = Halt;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Halt> {
        self.element.take().map(|p| seed.deserialize(p)).transpose()
    }
}

/// `Spanned`'s fields: a zero start and end, then the wrapped value, probed on.
struct SpannedFields<'p> {
    fields: &'static [&'static str],
    probe: Option<Probe<'p>>,
}

impl<'de> MapAccess<'de> for SpannedFields<'_> {
    type Error = Halt;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Halt> {
        match self.fields.split_first() {
            Some((field, _)) => seed
                .deserialize(BorrowedStrDeserializer::new(field))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Halt> {
        let Some((_, rest)) = self.fields.split_first() else {
            return Err(Halt::Refused);
        };
        self.fields = rest;
        if rest.is_empty() {
            // The last field is the value.
            let probe = self.probe.take().ok_or(Halt::Refused)?;
            seed.deserialize(probe)
        } else {
            seed.deserialize(UsizeDeserializer::new(0))
        }
    }
}

#[cfg(test)]
mod tests;
