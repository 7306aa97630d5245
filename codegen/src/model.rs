//! The definitions resolved into what the emitters need: Rust types, defaults and version sets.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use crate::names::{field_ident, snake_case};
use crate::schema::{FieldSpec, MessageSpec, Versions};

/// A type that is not an array or a struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    Bool,
    Uuid,
    String,
    Bytes,
    Records,
}

impl Prim {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "int8" => Self::Int8,
            "int16" => Self::Int16,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "uint16" => Self::Uint16,
            "uint32" => Self::Uint32,
            "float64" => Self::Float64,
            "bool" => Self::Bool,
            "uuid" => Self::Uuid,
            "string" => Self::String,
            "bytes" => Self::Bytes,
            "records" => Self::Records,
            _ => return None,
        })
    }

    /// The Rust type.
    pub(crate) fn rust(self) -> &'static str {
        match self {
            Self::Int8 => "i8",
            Self::Int16 => "i16",
            Self::Int32 => "i32",
            Self::Int64 => "i64",
            Self::Uint16 => "u16",
            Self::Uint32 => "u32",
            Self::Float64 => "f64",
            Self::Bool => "bool",
            Self::Uuid => "Uuid",
            Self::String => "String",
            Self::Bytes | Self::Records => "Bytes",
        }
    }

    fn is_integer(self) -> bool {
        matches!(
            self,
            Self::Int8 | Self::Int16 | Self::Int32 | Self::Int64 | Self::Uint16 | Self::Uint32
        )
    }

    /// Whether the wire format has a null for this type.
    fn has_null(self) -> bool {
        matches!(self, Self::String | Self::Bytes | Self::Records)
    }
}

/// A field's type as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Type {
    Prim(Prim),
    Array(Box<Type>),
    Struct(String),
}

impl Type {
    /// Parses a declared type like `int32`, `[]string` or `[]TopicData`.
    pub(crate) fn parse(name: &str) -> Self {
        if let Some(inner) = name.strip_prefix("[]") {
            Self::Array(Box::new(Self::parse(inner)))
        } else if let Some(prim) = Prim::parse(name) {
            Self::Prim(prim)
        } else {
            Self::Struct(name.to_owned())
        }
    }

    /// The Rust type (without the `Option` of nullable fields).
    pub(crate) fn rust(&self) -> String {
        match self {
            Self::Prim(p) => p.rust().to_owned(),
            Self::Array(inner) => format!("Vec<{}>", inner.rust()),
            Self::Struct(name) => name.clone(),
        }
    }

    fn struct_name(&self) -> Option<&str> {
        match self {
            Self::Struct(name) => Some(name),
            Self::Array(inner) => inner.struct_name(),
            Self::Prim(_) => None,
        }
    }
}

/// A field's default, as Kafka's generated Java code has it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DefaultValue {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// Empty string/bytes/array, nil UUID, or the struct's own default.
    Empty,
}

/// A resolved field.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// JSON name, like `TopicData`.
    pub(crate) json_name: String,
    /// The `snake_case` name used in error paths and docs.
    pub(crate) snake: String,
    /// Rust identifier (raw for keywords).
    pub(crate) ident: String,
    pub(crate) ty: Type,
    /// Versions the field exists in (within the struct's context).
    pub(crate) versions: Versions,
    /// Versions in which it may be null.
    pub(crate) nullable: Versions,
    /// Tag and the versions where the field lives in the tagged section.
    pub(crate) tag: Option<(u32, Versions)>,
    /// Field-level override of the flexible versions (compact encoding).
    pub(crate) flexible: Option<Versions>,
    pub(crate) ignorable: bool,
    pub(crate) default: DefaultValue,
}

impl Field {
    /// Whether the Rust type is an `Option`.
    pub(crate) fn optional(&self) -> bool {
        !self.nullable.is_empty()
    }

    /// The full Rust type of the struct field.
    pub(crate) fn rust_type(&self) -> String {
        if self.optional() {
            format!("Option<{}>", self.ty.rust())
        } else {
            self.ty.rust()
        }
    }

    /// Versions where the field is written in the regular (positional) part.
    pub(crate) fn regular_versions(&self) -> Versions {
        match self.tag {
            Some((_, tagged)) => self.versions.before(tagged),
            None => self.versions,
        }
    }

    /// Versions where the field is written in the tagged section.
    pub(crate) fn tagged_versions(&self) -> Versions {
        match self.tag {
            Some((_, tagged)) => self.versions.intersect(tagged),
            None => Versions::NONE,
        }
    }
}

/// A resolved struct: the message itself, a nested struct or a common struct.
#[derive(Debug, Clone)]
pub(crate) struct Struct {
    pub(crate) name: String,
    pub(crate) fields: Vec<Field>,
    /// The versions in which this struct can be read or written.
    pub(crate) context: Versions,
    /// Where it sits, for its doc comment.
    pub(crate) origin: Origin,
    /// Whether some field holds it as a nullable struct (needs the presence-byte impl).
    pub(crate) used_nullable: bool,
}

/// Where a struct is declared.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    TopLevel,
    Nested { parent: String, field: String },
    Common,
}

/// What a top-level definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Response,
    Header,
    Data,
}

/// A resolved definition file.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) name: String,
    /// Module name, like `produce_request`.
    pub(crate) module: String,
    pub(crate) kind: Kind,
    pub(crate) api_key: Option<i16>,
    pub(crate) valid: Versions,
    /// Flexible versions clamped to `valid`.
    pub(crate) flexible: Versions,
    /// The top-level struct first, then nested and common structs.
    pub(crate) structs: Vec<Struct>,
}

impl Message {
    /// Resolves a parsed definition.
    pub(crate) fn resolve(spec: &MessageSpec) -> Result<Self> {
        let valid = Versions::parse(&spec.valid_versions)?;
        let flexible = match &spec.flexible_versions {
            Some(text) => Versions::parse(text)?.intersect(valid),
            None => Versions::NONE,
        };
        let kind = match spec.kind.as_str() {
            "request" => Kind::Request,
            "response" => Kind::Response,
            "header" => Kind::Header,
            "data" => Kind::Data,
            other => bail!("{}: unknown message type {other:?}", spec.name),
        };
        let common: HashMap<&str, &[FieldSpec]> = spec
            .common_structs
            .iter()
            .map(|s| (s.name.as_str(), s.fields.as_slice()))
            .collect();
        let mut resolver = Resolver {
            common,
            out: Vec::new(),
        };
        resolver.define(&spec.name, &spec.fields, valid, Origin::TopLevel)?;
        for s in &spec.common_structs {
            resolver.define(&s.name, &s.fields, valid, Origin::Common)?;
        }
        let mut structs = resolver.out;
        mark_nullable_uses(&mut structs);
        Ok(Self {
            name: spec.name.clone(),
            module: snake_case(&spec.name),
            kind,
            api_key: spec.api_key,
            valid,
            flexible,
            structs,
        })
    }

    /// The top-level struct.
    pub(crate) fn root(&self) -> &Struct {
        &self.structs[0]
    }
}

struct Resolver<'a> {
    common: HashMap<&'a str, &'a [FieldSpec]>,
    out: Vec<Struct>,
}

impl Resolver<'_> {
    fn define(
        &mut self,
        name: &str,
        specs: &[FieldSpec],
        context: Versions,
        origin: Origin,
    ) -> Result<()> {
        if self.out.iter().any(|s| s.name == name) {
            bail!("struct {name} is defined twice");
        }
        let index = self.out.len();
        self.out.push(Struct {
            name: name.to_owned(),
            fields: Vec::new(),
            context,
            origin,
            used_nullable: false,
        });
        let mut fields = Vec::new();
        for spec in specs {
            let field =
                resolve_field(spec, context).with_context(|| format!("{name}.{}", spec.name))?;
            if let (Some(inner), Some(nested)) = (field.ty.struct_name(), &spec.fields) {
                let inner_context = field.versions.intersect(context);
                self.define(
                    inner,
                    nested,
                    inner_context,
                    Origin::Nested {
                        parent: name.to_owned(),
                        field: field.snake.clone(),
                    },
                )?;
            } else if let Some(inner) = field.ty.struct_name() {
                if !self.common.contains_key(inner) {
                    bail!("{name}.{}: unknown struct type {inner}", spec.name);
                }
            }
            fields.push(field);
        }
        self.out[index].fields = fields;
        Ok(())
    }
}

fn resolve_field(spec: &FieldSpec, context: Versions) -> Result<Field> {
    let ty = Type::parse(&spec.ty);
    let versions =
        Versions::parse(spec.versions.as_deref().context("missing versions")?)?.intersect(context);
    let nullable = match &spec.nullable_versions {
        Some(text) => Versions::parse(text)?.intersect(versions),
        None => Versions::NONE,
    };
    if !nullable.is_empty() {
        let ok = match &ty {
            Type::Prim(p) => p.has_null(),
            Type::Array(_) | Type::Struct(_) => true,
        };
        if !ok {
            bail!("type {} cannot be nullable", spec.ty);
        }
    }
    let tag = match (&spec.tag, &spec.tagged_versions) {
        (Some(tag), Some(text)) => {
            let tag: u32 = match tag {
                serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            }
            .with_context(|| format!("bad tag {tag}"))?;
            let tagged = Versions::parse(text)?;
            if tagged.max != i16::MAX {
                bail!("tagged versions {text:?} are not open-ended");
            }
            Some((tag, tagged))
        }
        (None, None) => None,
        _ => bail!("tag and taggedVersions must come together"),
    };
    let flexible = spec
        .flexible_versions
        .as_deref()
        .map(Versions::parse)
        .transpose()?;
    let default = parse_default(&ty, spec.default.as_ref(), !nullable.is_empty())?;
    let snake = snake_case(&spec.name);
    Ok(Field {
        json_name: spec.name.clone(),
        ident: field_ident(&snake),
        snake,
        ty,
        versions,
        nullable,
        tag,
        flexible,
        ignorable: spec.ignorable,
        default,
    })
}

/// Interprets a JSON `default` the way Kafka's generator does.
pub(crate) fn parse_default(
    ty: &Type,
    value: Option<&serde_json::Value>,
    nullable: bool,
) -> Result<DefaultValue> {
    let text = match value {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    if text.as_deref() == Some("null") {
        if !nullable {
            bail!("null default on a non-nullable field");
        }
        return Ok(DefaultValue::Null);
    }
    Ok(match ty {
        Type::Prim(p) if p.is_integer() => match text {
            None => DefaultValue::Int(0),
            Some(t) => DefaultValue::Int(parse_int(&t, *p)?),
        },
        Type::Prim(Prim::Float64) => match text {
            None => DefaultValue::Float(0.0),
            Some(t) => DefaultValue::Float(t.parse().with_context(|| format!("bad float {t:?}"))?),
        },
        Type::Prim(Prim::Bool) => match text.as_deref() {
            None | Some("false") => DefaultValue::Bool(false),
            Some("true") => DefaultValue::Bool(true),
            Some(other) => bail!("bad bool default {other:?}"),
        },
        Type::Prim(Prim::String) => match text {
            None => DefaultValue::Empty,
            Some(t) if t.is_empty() => DefaultValue::Empty,
            Some(t) => DefaultValue::Str(t),
        },
        // Kafka's records fields start out null.
        Type::Prim(Prim::Records) if nullable => DefaultValue::Null,
        _ => match text.as_deref() {
            None | Some("") => DefaultValue::Empty,
            Some(other) => bail!("unsupported default {other:?} for {ty:?}"),
        },
    })
}

fn parse_int(text: &str, prim: Prim) -> Result<i64> {
    let t = text.trim();
    let value = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16)
    } else {
        t.parse::<i64>()
    }
    .with_context(|| format!("bad integer default {text:?}"))?;
    let (lo, hi) = match prim {
        Prim::Int8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
        Prim::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        Prim::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        Prim::Uint16 => (0, i64::from(u16::MAX)),
        Prim::Uint32 => (0, i64::from(u32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    if value < lo || value > hi {
        bail!("default {text:?} out of range for {prim:?}");
    }
    Ok(value)
}

fn mark_nullable_uses(structs: &mut [Struct]) {
    let names: Vec<String> = structs
        .iter()
        .flat_map(|s| s.fields.iter())
        .filter(|f| f.optional())
        .filter_map(|f| match &f.ty {
            Type::Struct(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    for s in structs {
        if names.contains(&s.name) {
            s.used_nullable = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_declared_types_to_rust() {
        assert_eq!(Type::parse("int32").rust(), "i32");
        assert_eq!(Type::parse("uint16").rust(), "u16");
        assert_eq!(Type::parse("float64").rust(), "f64");
        assert_eq!(Type::parse("uuid").rust(), "Uuid");
        assert_eq!(Type::parse("records").rust(), "Bytes");
        assert_eq!(Type::parse("[]int32").rust(), "Vec<i32>");
        assert_eq!(Type::parse("[]string").rust(), "Vec<String>");
        assert_eq!(Type::parse("[]TopicData").rust(), "Vec<TopicData>");
        assert_eq!(Type::parse("LeaderIdAndEpoch").rust(), "LeaderIdAndEpoch");
    }

    #[test]
    fn nullable_fields_become_options() {
        let spec: FieldSpec = serde_json::from_value(json!({
            "name": "TransactionalId", "type": "string", "versions": "3+",
            "nullableVersions": "3+", "default": "null"
        }))
        .unwrap();
        let field = resolve_field(&spec, Versions { min: 0, max: 11 }).unwrap();
        assert_eq!(field.rust_type(), "Option<String>");
        assert_eq!(field.ident, "transactional_id");
        assert_eq!(field.default, DefaultValue::Null);
        assert_eq!(field.versions, Versions { min: 3, max: 11 });
    }

    #[test]
    fn defaults_follow_kafka() {
        let int32 = Type::parse("int32");
        assert_eq!(
            parse_default(&int32, Some(&json!("0x7fffffff")), false).unwrap(),
            DefaultValue::Int(0x7fff_ffff)
        );
        assert_eq!(
            parse_default(&int32, Some(&json!("-2147483648")), false).unwrap(),
            DefaultValue::Int(-2_147_483_648)
        );
        assert_eq!(
            parse_default(&int32, None, false).unwrap(),
            DefaultValue::Int(0)
        );
        assert!(parse_default(&Type::parse("int8"), Some(&json!("300")), false).is_err());
        assert_eq!(
            parse_default(&Type::parse("bool"), Some(&json!("true")), false).unwrap(),
            DefaultValue::Bool(true)
        );
        // A nullable string without a default starts out empty, not null.
        assert_eq!(
            parse_default(&Type::parse("string"), None, true).unwrap(),
            DefaultValue::Empty
        );
        assert!(parse_default(&Type::parse("string"), Some(&json!("null")), false).is_err());
    }

    #[test]
    fn tagged_fields_split_their_versions() {
        let spec: FieldSpec = serde_json::from_value(json!({
            "name": "CurrentLeader", "type": "int32", "versions": "0+",
            "taggedVersions": "12+", "tag": 0
        }))
        .unwrap();
        let field = resolve_field(&spec, Versions { min: 0, max: 17 }).unwrap();
        assert_eq!(field.regular_versions(), Versions { min: 0, max: 11 });
        assert_eq!(field.tagged_versions(), Versions { min: 12, max: 17 });
    }
}
