//! Emits proptest strategies (feature `arbitrary`): random values valid in a given version.

use std::fmt::Write as _;

use crate::cond::Cond;
use crate::emit_struct::{default_expr, Ctx};
use crate::model::{Field, Prim, Struct, Type};

/// Proptest implements `Strategy` for tuples of up to 12; fields go in chunks below that.
const CHUNK: usize = 8;

fn strategy(ty: &Type) -> String {
    match ty {
        Type::Prim(p) => match p {
            Prim::Float64 => "arb::float()".to_owned(),
            Prim::Uuid => "arb::uuid()".to_owned(),
            Prim::String => "arb::string()".to_owned(),
            Prim::Bytes | Prim::Records => "arb::bytes()".to_owned(),
            other => format!("arb::any::<{}>()", other.rust()),
        },
        Type::Array(inner) => format!("arb::vec({})", strategy(inner)),
        Type::Struct(name) => format!("{name}::arbitrary(version)"),
    }
}

fn field_strategy(field: &Field, s: &Struct) -> String {
    let present = Cond::new(field.versions, s.context);
    let within = field.versions.intersect(s.context);
    let inner = strategy(&field.ty);
    let value = if field.optional() {
        match Cond::new(field.nullable, within) {
            Cond::Always => format!("arb::option({inner})"),
            Cond::Never => format!("arb::some({inner})"),
            c => format!(
                "if {} {{ arb::option({inner}) }} else {{ arb::some({inner}) }}",
                c.expr()
            ),
        }
    } else {
        inner
    };
    match present {
        Cond::Always => value,
        Cond::Never => format!("arb::just({})", default_expr(field)),
        c => format!(
            "if {} {{ {value} }} else {{ arb::just({}) }}",
            c.expr(),
            default_expr(field)
        ),
    }
}

/// The `impl Arbitrary` block, behind the `arbitrary` feature.
pub(crate) fn arbitrary_impl(s: &Struct, ctx: &Ctx<'_>) -> String {
    let flexible = Cond::new(ctx.flexible, s.context).expr();
    let mut values = String::new();
    let mut pattern = String::new();
    for chunk in s.fields.chunks(CHUNK) {
        values.push('(');
        pattern.push('(');
        for f in chunk {
            let _ = write!(values, "{},", field_strategy(f, s));
            let _ = write!(pattern, "{},", f.ident);
        }
        values.push_str("),");
        pattern.push_str("),");
    }
    let _ = write!(values, "arb::unknown_tagged({flexible}),");
    pattern.push_str("unknown_tagged_fields,");
    let fields: String = s.fields.iter().map(|f| format!("{},", f.ident)).collect();
    let uses_version = values.contains("version");
    let param = if uses_version { "version" } else { "_version" };
    format!(
        "#[cfg(feature = \"arbitrary\")]
impl Arbitrary for {name} {{
fn arbitrary({param}: i16) -> BoxedStrategy<Self> {{
({values})
.prop_map(|({pattern})| Self {{ {fields} unknown_tagged_fields }})
.boxed()
}}
}}
",
        name = s.name
    )
}
