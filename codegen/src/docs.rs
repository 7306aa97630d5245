//! Doc comments for generated items, written from the field's name, type and versions.
//!
//! Kafka's `about` texts are not copied: a field's doc says what its name and type tell, plus
//! the facts a caller needs (versions, nullability, tag, default).

use crate::model::{DefaultValue, Field, Origin, Struct, Type};
use crate::names::words;
use crate::schema::Versions;

/// Short descriptions of names that recur across many messages.
fn known(name: &str) -> Option<&'static str> {
    Some(match name {
        "ErrorCode" => "Error code, 0 when there was no error",
        "ErrorMessage" => "Error detail for humans, if there is one",
        "ThrottleTimeMs" => "Milliseconds the response was delayed by a quota",
        "TopicId" => "Topic UUID",
        "PartitionIndex" => "Partition number",
        "GroupId" => "Group id",
        "MemberId" => "Member id assigned by the coordinator",
        "GroupInstanceId" => "Static membership id, if the member has one",
        "GenerationId" => "Group generation",
        "TransactionalId" => "Transactional id",
        "ProducerId" => "Producer id",
        "ProducerEpoch" => "Producer epoch",
        "LeaderEpoch" => "Leader epoch",
        "CurrentLeaderEpoch" => "Leader epoch the client believes is current",
        "TimeoutMs" => "Time limit in milliseconds",
        "Records" => "Record batches, as raw bytes",
        "NodeId" => "Broker id",
        "Host" => "Host name",
        "Port" => "Port number",
        "Rack" => "Rack, if configured",
        "ClientId" => "Client id",
        "CorrelationId" => "Correlation id echoed in the response",
        _ => return None,
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The doc comment of a field, as `///` lines.
pub(crate) fn field_doc(field: &Field, context: Versions) -> String {
    let mut text = match known(&field.json_name) {
        Some(t) => t.to_owned(),
        None => match &field.ty {
            Type::Array(inner) => match inner.as_ref() {
                Type::Struct(name) => format!(
                    "{}: [`{name}`] entries",
                    capitalised(&words(&field.json_name))
                ),
                other => format!(
                    "{}: list of `{}`",
                    capitalised(&words(&field.json_name)),
                    other.rust()
                ),
            },
            Type::Struct(name) => {
                format!("{} (a [`{name}`])", capitalised(&words(&field.json_name)))
            }
            Type::Prim(_) => capitalised(&words(&field.json_name)),
        },
    };
    text.push('.');
    if field.versions != context {
        text.push_str(&format!(" Versions {}.", field.versions.describe(context)));
    }
    if !field.nullable.is_empty() {
        if field.nullable == field.versions {
            text.push_str(" May be null.");
        } else {
            text.push_str(&format!(
                " May be null in versions {}.",
                field.nullable.describe(context)
            ));
        }
    }
    if let Some((tag, _)) = field.tag {
        text.push_str(&format!(
            " Tagged (tag {tag}) in versions {}.",
            field.tagged_versions().describe(context)
        ));
    }
    match &field.default {
        DefaultValue::Int(n) if *n != 0 => text.push_str(&format!(" Defaults to {n}.")),
        DefaultValue::Bool(true) => text.push_str(" Defaults to true."),
        DefaultValue::Str(s) => text.push_str(&format!(" Defaults to {s:?}.")),
        _ => {}
    }
    format!("/// {text}\n")
}

/// The doc comment of a struct.
pub(crate) fn struct_doc(s: &Struct, message: &str, summary: &str) -> String {
    match &s.origin {
        Origin::TopLevel => format!("/// {summary}\n"),
        Origin::Nested { parent, field } => {
            format!("/// Value type of [`{parent}::{field}`] in a `{message}`.\n")
        }
        Origin::Common => format!("/// A struct shared by several fields of a `{message}`.\n"),
    }
}
