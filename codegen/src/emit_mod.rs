//! Emits `messages/mod.rs`: module list, re-exports, `ApiKey`, `RequestBody`, `ResponseBody`
//! and the `for_each_message!` macro.

use std::fmt::Write as _;

use crate::emit_message::{api_name, HEADER};
use crate::model::{Kind, Message};

/// One API: its request and response.
struct Api<'a> {
    name: &'a str,
    key: i16,
    request: &'a Message,
}

fn apis(messages: &[Message]) -> Vec<Api<'_>> {
    let mut out: Vec<Api<'_>> = messages
        .iter()
        .filter(|m| m.kind == Kind::Request)
        .filter_map(|m| {
            m.api_key.map(|key| Api {
                name: api_name(m),
                key,
                request: m,
            })
        })
        .collect();
    out.sort_by_key(|a| a.key);
    out
}

fn api_key_enum(apis: &[Api<'_>]) -> String {
    let mut out = String::from(
        "/// The APIs this codec knows, by the key that starts every request.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[repr(i16)]\npub enum ApiKey {\n",
    );
    for a in apis {
        let _ = writeln!(
            out,
            "/// `{}` (key {}).\n{} = {},",
            a.name, a.key, a.name, a.key
        );
    }
    out.push_str("}\n\nimpl ApiKey {\n/// Every key, in ascending order.\npub const ALL: &'static [ApiKey] = &[\n");
    for a in apis {
        let _ = writeln!(out, "Self::{},", a.name);
    }
    out.push_str("];\n\n/// The API's name, like `Produce`.\npub fn name(self) -> &'static str {\nmatch self {\n");
    for a in apis {
        let _ = writeln!(out, "Self::{0} => {0:?},", a.name);
    }
    out.push_str("}\n}\n\n/// The request versions this codec reads and writes.\npub fn versions(self) -> VersionRange {\nmatch self {\n");
    for a in apis {
        let _ = writeln!(out, "Self::{} => {}::VERSIONS,", a.name, a.request.name);
    }
    out.push_str("}\n}\n\n/// The versions that use compact encodings and tagged fields.\npub fn flexible_versions(self) -> VersionRange {\nmatch self {\n");
    for a in apis {
        let _ = writeln!(
            out,
            "Self::{} => {}::FLEXIBLE_VERSIONS,",
            a.name, a.request.name
        );
    }
    out.push_str(
        "}\n}\n
/// The request header version that goes with request `version` of this API.
pub fn request_header_version(self, version: i16) -> i16 {
if self.flexible_versions().contains(version) { 2 } else { 1 }
}

/// The response header version that goes with `version` of this API.
///
/// `ApiVersions` responses always use header v0, so that a client that sent a version the
/// broker does not know can still read the error.
pub fn response_header_version(self, version: i16) -> i16 {
if self != Self::ApiVersions && self.flexible_versions().contains(version) { 1 } else { 0 }
}
}

impl TryFrom<i16> for ApiKey {
type Error = UnknownApiKey;

fn try_from(key: i16) -> Result<Self, Self::Error> {
match key {
",
    );
    for a in apis {
        let _ = writeln!(out, "{} => Ok(Self::{}),", a.key, a.name);
    }
    out.push_str(
        "other => Err(UnknownApiKey(other)),
}
}
}

impl From<ApiKey> for i16 {
fn from(key: ApiKey) -> i16 {
key as i16
}
}

",
    );
    out
}

fn body_enum(apis: &[Api<'_>], side: &str) -> String {
    let enum_name = format!("{side}Body");
    let mut out = format!(
        "/// A {} body of any API.\n#[derive(Debug, Clone, PartialEq)]\npub enum {enum_name} {{\n",
        side.to_lowercase()
    );
    for a in apis {
        let _ = writeln!(out, "/// A `{0}{side}`.\n{0}({0}{side}),", a.name);
    }
    let _ = writeln!(
        out,
        "}}\n\nimpl {enum_name} {{\n/// Decodes the body of API `key` in `version` from the front of `buf`.
pub fn decode(key: ApiKey, version: i16, buf: &mut Bytes) -> Result<Self, DecodeError> {{
Ok(match key {{"
    );
    for a in apis {
        let _ = writeln!(
            out,
            "ApiKey::{0} => Self::{0}({0}{side}::decode(buf, version)?),",
            a.name
        );
    }
    out.push_str("})\n}\n\n/// The API this body belongs to.\npub fn api_key(&self) -> ApiKey {\nmatch self {\n");
    for a in apis {
        let _ = writeln!(out, "Self::{0}(_) => ApiKey::{0},", a.name);
    }
    out.push_str("}\n}\n\n/// Writes the body in `version`.\npub fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {\nmatch self {\n");
    for a in apis {
        let _ = writeln!(out, "Self::{}(m) => m.encode(buf, version),", a.name);
    }
    out.push_str("}\n}\n\n/// The number of bytes [`Self::encode`] writes.\npub fn encoded_len(&self, version: i16) -> Result<usize, EncodeError> {\nmatch self {\n");
    for a in apis {
        let _ = writeln!(out, "Self::{}(m) => m.encoded_len(version),", a.name);
    }
    out.push_str("}\n}\n}\n\n");
    for a in apis {
        let _ = writeln!(
            out,
            "impl From<{0}{side}> for {enum_name} {{\nfn from(body: {0}{side}) -> Self {{\nSelf::{0}(body)\n}}\n}}\n",
            a.name
        );
    }
    out
}

/// The whole `mod.rs`, unformatted.
pub(crate) fn mod_file(messages: &[Message]) -> String {
    let mut sorted: Vec<&Message> = messages.iter().collect();
    sorted.sort_by(|a, b| a.module.cmp(&b.module));
    let apis = apis(messages);
    let mut out = String::from(HEADER);
    out.push_str(
        "
//! Kafka's request, response and header messages, generated from the JSON definitions.
//!
//! One module per message; each top-level type is re-exported here. Nested structs stay in
//! their module (`produce_request::TopicProduceData`). [`ApiKey`] is the one table of APIs
//! and versions; [`RequestBody`] and [`ResponseBody`] dispatch on it.

use bytes::{Bytes, BytesMut};

use crate::codec::{Decode, Encode, Message, UnknownApiKey, VersionRange};
use crate::error::{DecodeError, EncodeError};

",
    );
    for m in &sorted {
        let _ = writeln!(out, "pub mod {};", m.module);
    }
    out.push('\n');
    for m in &sorted {
        let _ = writeln!(out, "pub use {}::{};", m.module, m.name);
    }
    out.push('\n');
    out.push_str(&api_key_enum(&apis));
    out.push_str(&body_enum(&apis, "Request"));
    out.push_str(&body_enum(&apis, "Response"));
    out.push_str(
        "/// Calls `$callback!(Type, module)` once for every generated top-level message, so tests
/// and tools can cover all of them without a hand-kept list.
#[macro_export]
macro_rules! for_each_message {
($callback:ident) => {
",
    );
    for m in &sorted {
        let _ = writeln!(out, "$callback!({}, {});", m.name, m.module);
    }
    out.push_str("};\n}\n");
    out
}
