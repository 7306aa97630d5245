//! Emits one struct: its definition, `Default`, and the `Wire` read/write/size code.

use std::fmt::Write as _;

use crate::cond::Cond;
use crate::docs;
use crate::model::{DefaultValue, Field, Prim, Struct, Type};
use crate::schema::Versions;

/// Everything about the enclosing message an emitter needs.
pub(crate) struct Ctx<'a> {
    pub(crate) message: &'a str,
    pub(crate) flexible: Versions,
}

/// The Rust expression of a field's default.
pub(crate) fn default_expr(field: &Field) -> String {
    let base = |d: &DefaultValue| -> String {
        match (d, &field.ty) {
            (DefaultValue::Int(n), _) => n.to_string(),
            (DefaultValue::Float(f), _) => format!("{f:?}"),
            (DefaultValue::Bool(b), _) => b.to_string(),
            (DefaultValue::Str(s), _) => format!("String::from({s:?})"),
            (_, Type::Prim(Prim::String)) => "String::new()".to_owned(),
            (_, Type::Prim(Prim::Bytes | Prim::Records)) => "Bytes::new()".to_owned(),
            (_, Type::Prim(Prim::Uuid)) => "Uuid::nil()".to_owned(),
            (_, Type::Array(_)) => "Vec::new()".to_owned(),
            (_, Type::Struct(name)) => format!("{name}::default()"),
            (_, Type::Prim(p)) => match p {
                Prim::Float64 => "0.0".to_owned(),
                Prim::Bool => "false".to_owned(),
                _ => "0".to_owned(),
            },
        }
    };
    if field.optional() {
        match &field.default {
            DefaultValue::Null => "None".to_owned(),
            d => format!("Some({})", base(d)),
        }
    } else {
        base(&field.default)
    }
}

/// Whether the default is what `#[derive(Default)]` would give.
fn is_type_default(field: &Field) -> bool {
    if field.optional() {
        return field.default == DefaultValue::Null;
    }
    match &field.default {
        DefaultValue::Int(n) => *n == 0,
        DefaultValue::Float(f) => *f == 0.0,
        DefaultValue::Bool(b) => !*b,
        DefaultValue::Str(_) | DefaultValue::Null => false,
        DefaultValue::Empty => true,
    }
}

/// A boolean expression: does `self.<field>` hold its default?
pub(crate) fn is_default_expr(field: &Field) -> String {
    let access = format!("self.{}", field.ident);
    if field.optional() {
        return match &field.default {
            DefaultValue::Null => format!("{access}.is_none()"),
            _ => format!("{access} == {}", default_expr(field)),
        };
    }
    match (&field.default, &field.ty) {
        (DefaultValue::Bool(true), _) => access,
        (DefaultValue::Bool(false), _) => format!("!{access}"),
        (DefaultValue::Int(n), _) => format!("{access} == {n}"),
        (DefaultValue::Float(f), _) => format!("{access} == {f:?}"),
        (DefaultValue::Str(s), _) => format!("{access} == {s:?}"),
        (_, Type::Prim(Prim::Uuid)) => format!("{access}.is_nil()"),
        (_, Type::Struct(name)) => format!("{access} == {name}::default()"),
        (_, Type::Prim(Prim::Float64)) => format!("{access} == 0.0"),
        (_, Type::Prim(Prim::Bool)) => format!("!{access}"),
        (_, Type::Prim(Prim::String | Prim::Bytes | Prim::Records) | Type::Array(_)) => {
            format!("{access}.is_empty()")
        }
        (_, Type::Prim(_)) => format!("{access} == 0"),
    }
}

/// The struct definition and its `Default`.
pub(crate) fn definition(s: &Struct, ctx: &Ctx<'_>, summary: &str) -> String {
    let mut out = docs::struct_doc(s, ctx.message, summary);
    let derive_default = s.fields.iter().all(is_type_default);
    if derive_default {
        out.push_str("#[derive(Debug, Clone, PartialEq, Default)]\n");
    } else {
        out.push_str("#[derive(Debug, Clone, PartialEq)]\n");
    }
    let _ = writeln!(out, "pub struct {} {{", s.name);
    for f in &s.fields {
        out.push_str(&docs::field_doc(f, s.context));
        let _ = writeln!(out, "pub {}: {},", f.ident, f.rust_type());
    }
    out.push_str("/// Tagged fields this codec does not know, kept for re-encoding.\n");
    out.push_str("pub unknown_tagged_fields: Vec<RawTaggedField>,\n}\n\n");
    if !derive_default {
        let _ = writeln!(
            out,
            "impl Default for {} {{\nfn default() -> Self {{\nSelf {{",
            s.name
        );
        for f in &s.fields {
            let _ = writeln!(out, "{}: {},", f.ident, default_expr(f));
        }
        out.push_str("unknown_tagged_fields: Vec::new(),\n}\n}\n}\n\n");
    }
    out
}

/// The `Cx` a field is encoded with (field-level flexible versions can turn compact off).
fn field_cx(field: &Field, s: &Struct, ctx: &Ctx<'_>) -> String {
    match field.flexible {
        None => "c".to_owned(),
        Some(own) => {
            let compact = Cond::new(ctx.flexible.intersect(own), s.context);
            format!("Cx {{ version, compact: {} }}", compact.expr())
        }
    }
}

fn nullable_expr(field: &Field, within: Versions) -> String {
    Cond::new(field.nullable, within).expr()
}

/// A parser call for the field's value, reading from `input`.
fn read_expr(field: &Field, within: Versions, cx: &str, input: &str) -> String {
    if field.optional() {
        format!(
            "wire::read_opt(src, {input}, {cx}, {})",
            nullable_expr(field, within)
        )
    } else {
        format!("Wire::read(src, {input}, {cx})")
    }
}

fn write_stmt(field: &Field, s: &Struct, within: Versions, cx: &str) -> String {
    if field.optional() {
        format!(
            "wire::write_opt(buf, self.{}.as_ref(), {cx}, {}, ({:?}, {:?}))?;\n",
            field.ident,
            nullable_expr(field, within),
            s.name,
            field.snake
        )
    } else {
        format!("self.{}.write(buf, {cx})?;\n", field.ident)
    }
}

fn size_expr(field: &Field, s: &Struct, within: Versions, cx: &str) -> String {
    if field.optional() {
        format!(
            "wire::size_opt(self.{}.as_ref(), {cx}, {}, ({:?}, {:?}))?",
            field.ident,
            nullable_expr(field, within),
            s.name,
            field.snake
        )
    } else {
        format!("self.{}.size({cx})?", field.ident)
    }
}

/// `if <absent> && <not default> { return Err(..) }` for non-ignorable fields.
fn absent_check(field: &Field, s: &Struct) -> String {
    let present = Cond::new(field.versions, s.context);
    if field.ignorable || present == Cond::Always {
        return String::new();
    }
    let absent = present.negated();
    let not_default = negate(&is_default_expr(field));
    let cond = if absent == "true" {
        not_default
    } else {
        format!("{absent} && {not_default}")
    };
    format!(
        "if {cond} {{\nreturn Err(wire::unsupported({:?}, {:?}, version));\n}}\n",
        s.name, field.snake
    )
}

fn negate(expr: &str) -> String {
    if let Some(inner) = expr.strip_prefix('!') {
        inner.to_owned()
    } else if let Some((lhs, rhs)) = expr.split_once(" == ") {
        format!("{lhs} != {rhs}")
    } else if let Some(access) = expr.strip_suffix(".is_none()") {
        format!("{access}.is_some()")
    } else if let Some(access) = expr.strip_suffix(".is_empty()") {
        format!("!{access}.is_empty()")
    } else if let Some(access) = expr.strip_suffix(".is_nil()") {
        format!("!{access}.is_nil()")
    } else {
        format!("!{expr}")
    }
}

/// Tagged fields of the struct, ascending by tag.
fn tagged_fields(s: &Struct) -> Vec<&Field> {
    let mut out: Vec<&Field> = s
        .fields
        .iter()
        .filter(|f| !f.tagged_versions().is_empty())
        .collect();
    out.sort_by_key(|f| f.tag.map(|(t, _)| t));
    out
}

fn tag_of(field: &Field) -> u32 {
    field.tag.map_or(0, |(t, _)| t)
}

/// The `impl Wire` block.
pub(crate) fn wire_impl(s: &Struct, ctx: &Ctx<'_>) -> String {
    let flexible = Cond::new(ctx.flexible, s.context);
    let flex_ctx = ctx.flexible.intersect(s.context);
    let tagged = tagged_fields(s);
    let has_fields = !s.fields.is_empty();
    let compact = flexible.expr();

    // read
    let need_version = has_fields || !matches!(flexible, Cond::Always | Cond::Never);
    let mut prelude = String::new();
    if need_version {
        prelude.push_str("let version = cx.version;\n");
    }
    if has_fields {
        let _ = writeln!(prelude, "let c = Cx {{ version, compact: {compact} }};");
    }
    let mut read = prelude.clone();
    let empty = !has_fields && flexible == Cond::Never;
    if !empty {
        read.push_str("let mut this = Self::default();\nlet mut input = input;\n");
    }
    for f in &s.fields {
        let regular = f.regular_versions();
        let within = regular.intersect(s.context);
        let cx = field_cx(f, s, ctx);
        let stmt = format!(
            "(input, this.{}) = wire::field({:?}, {})?;\n",
            f.ident,
            f.snake,
            read_expr(f, within, &cx, "input")
        );
        read.push_str(&Cond::new(regular, s.context).guard(&stmt));
    }
    let mut tag_section = String::new();
    if tagged.is_empty() {
        tag_section.push_str(
            "(input, this.unknown_tagged_fields) = wire::unknown_tagged_fields(src, input)?;\n",
        );
    } else {
        tag_section.push_str("let count;\n(input, count) = wire::tag_count(input)?;\n");
        tag_section.push_str("for _ in 0..count {\nlet (rest, (tag, size)) = wire::tag_header(input)?;\nmatch tag {\n");
        for f in &tagged {
            let within = f.tagged_versions().intersect(s.context);
            let guard = match Cond::new(f.tagged_versions(), flex_ctx) {
                Cond::Always => String::new(),
                c => format!(" if {}", c.expr()),
            };
            let _ = writeln!(
                tag_section,
                "{}{guard} => {{\n(input, this.{}) = wire::field({:?}, wire::tagged(rest, size, {}))?;\n}}",
                tag_of(f),
                f.ident,
                f.snake,
                read_expr(f, within, &field_cx(f, s, ctx), "rest")
            );
        }
        tag_section.push_str("_ => {\nlet raw;\n(input, raw) = wire::unknown_tagged(src, rest, tag, size)?;\nthis.unknown_tagged_fields.push(raw);\n}\n}\n}\n");
    }
    read.push_str(&flexible.guard(&tag_section));
    if empty {
        read.push_str("Ok((input, Self::default()))\n");
    } else {
        read.push_str("Ok((input, this))\n");
    }
    let src_name = if empty { "_src" } else { "src" };
    let cx_name = if need_version { "cx" } else { "_cx" };
    let buf_name = if empty { "_buf" } else { "buf" };

    // write and size
    let mut write = String::new();
    let mut size = String::new();
    write.push_str(&prelude);
    size.push_str(&prelude);
    size.push_str(if empty {
        "let n = 0;\n"
    } else {
        "let mut n = 0;\n"
    });
    for f in &s.fields {
        let check = absent_check(f, s);
        write.push_str(&check);
        size.push_str(&check);
        let regular = f.regular_versions();
        let within = regular.intersect(s.context);
        let cx = field_cx(f, s, ctx);
        let cond = Cond::new(regular, s.context);
        write.push_str(&cond.guard(&write_stmt(f, s, within, &cx)));
        size.push_str(&cond.guard(&format!("n += {};\n", size_expr(f, s, within, &cx))));
    }
    let mut wtag = String::new();
    let mut stag = String::new();
    if tagged.is_empty() {
        wtag.push_str("wire::put_tag_count(buf, self.unknown_tagged_fields.len())?;\nwire::write_unknown_rest(buf, &self.unknown_tagged_fields)?;\n");
        stag.push_str("n += wire::tag_count_size(self.unknown_tagged_fields.len()) + wire::unknown_size(&self.unknown_tagged_fields);\n");
    } else {
        let mut count = "self.unknown_tagged_fields.len()".to_owned();
        let mut flags = String::new();
        for f in &tagged {
            let present = Cond::new(f.tagged_versions(), flex_ctx);
            let not_default = negate(&is_default_expr(f));
            let expr = if present == Cond::Always {
                not_default
            } else {
                format!("{} && {not_default}", present.expr())
            };
            let _ = writeln!(flags, "let write_{} = {expr};", f.snake);
            let _ = write!(count, " + usize::from(write_{})", f.snake);
        }
        wtag.push_str(&flags);
        stag.push_str(&flags);
        let _ = writeln!(wtag, "wire::put_tag_count(buf, {count})?;");
        let _ = writeln!(
            stag,
            "n += wire::tag_count_size({count}) + wire::unknown_size(&self.unknown_tagged_fields);"
        );
        wtag.push_str("let unknown = self.unknown_tagged_fields.as_slice();\n");
        for f in &tagged {
            let within = f.tagged_versions().intersect(s.context);
            let cx = field_cx(f, s, ctx);
            let tag = tag_of(f);
            let _ = writeln!(
                wtag,
                "let unknown = wire::write_unknown_below(buf, unknown, {tag})?;\nif write_{} {{\nwire::put_tag_header(buf, {tag}, {})?;\n{}}}",
                f.snake,
                size_expr(f, s, within, &cx),
                write_stmt(f, s, within, &cx)
            );
            let _ = writeln!(
                stag,
                "if write_{} {{\nlet len = {};\nn += wire::tag_header_size({tag}, len) + len;\n}}",
                f.snake,
                size_expr(f, s, within, &cx)
            );
        }
        wtag.push_str("wire::write_unknown_rest(buf, unknown)?;\n");
    }
    write.push_str(&flexible.guard(&wtag));
    size.push_str(&flexible.guard(&stag));
    write.push_str("Ok(())\n");
    size.push_str("Ok(n)\n");

    let mut out = String::new();
    let _ = writeln!(out, "impl Wire for {} {{", s.name);
    let _ = writeln!(
        out,
        "fn read<'a>({src_name}: &Bytes, input: &'a [u8], {cx_name}: Cx) -> PResult<'a, Self> {{\n{read}}}\n"
    );
    let _ = writeln!(
        out,
        "fn write(&self, {buf_name}: &mut BytesMut, {cx_name}: Cx) -> Result<(), EncodeError> {{\n{write}}}\n"
    );
    let _ = writeln!(
        out,
        "fn size(&self, {cx_name}: Cx) -> Result<usize, EncodeError> {{\n{size}}}\n}}\n"
    );
    if s.used_nullable {
        let _ = writeln!(
            out,
            "impl Nullable for {name} {{
fn read_opt<'a>(src: &Bytes, input: &'a [u8], cx: Cx) -> PResult<'a, Option<Self>> {{
wire::read_opt_struct(src, input, cx)
}}
fn write_opt(value: Option<&Self>, buf: &mut BytesMut, cx: Cx) -> Result<(), EncodeError> {{
wire::write_opt_struct(value, buf, cx)
}}
fn size_opt(value: Option<&Self>, cx: Cx) -> Result<usize, EncodeError> {{
wire::size_opt_struct(value, cx)
}}
}}
",
            name = s.name
        );
    }
    out
}
