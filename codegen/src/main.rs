//! `fjord-codegen`: generates `protocol/src/messages/` from Kafka's JSON message definitions.
//!
//! ```text
//! cargo run -p fjord-codegen                 # write the generated files
//! cargo run -p fjord-codegen -- --check      # fail if the committed files are stale
//! cargo run -p fjord-codegen -- --schemas DIR --out DIR
//! ```
//!
//! The schema directory can also come from `FJORD_KAFKA_SCHEMAS`. Output is run through
//! `rustfmt`, so `--check` compares exactly what `cargo fmt` would leave.

mod cond;
mod docs;
mod emit_arbitrary;
mod emit_message;
mod emit_mod;
mod emit_struct;
mod model;
mod names;
mod schema;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use model::{Kind, Message};

/// The API keys we generate (request and response each). The one place this list lives.
const API_KEYS: &[i16] = &[
    0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
    32, 33, 36, 37, 42, 44, 47, 60, 61, 65, 66, 68, 69, 75, 76, 77, 78, 79,
];

/// Definitions without an API key that we generate too.
const EXTRA_MESSAGES: &[&str] = &[
    "RequestHeader",
    "ResponseHeader",
    "ConsumerProtocolSubscription",
    "ConsumerProtocolAssignment",
];

struct Args {
    check: bool,
    schemas: PathBuf,
    out: PathBuf,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn parse_args() -> Result<Args> {
    let root = workspace_root();
    let mut args = Args {
        check: false,
        schemas: std::env::var_os("FJORD_KAFKA_SCHEMAS").map_or_else(
            || root.join("../shared/reference/kafka-message-schemas"),
            PathBuf::from,
        ),
        out: root.join("protocol/src/messages"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--check" => args.check = true,
            "--schemas" => args.schemas = it.next().context("--schemas needs a directory")?.into(),
            "--out" => args.out = it.next().context("--out needs a directory")?.into(),
            other => {
                bail!("unknown argument {other:?} (expected --check, --schemas DIR, --out DIR)")
            }
        }
    }
    Ok(args)
}

fn wanted(spec: &schema::MessageSpec) -> bool {
    match spec.api_key {
        Some(key) if matches!(spec.kind.as_str(), "request" | "response") => {
            API_KEYS.contains(&key)
        }
        _ => EXTRA_MESSAGES.contains(&spec.name.as_str()),
    }
}

fn load_messages(dir: &Path) -> Result<Vec<Message>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading schema directory {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let spec = schema::load(&path)?;
        if wanted(&spec) {
            out.push(Message::resolve(&spec).with_context(|| format!("resolving {}", spec.name))?);
        }
    }
    let expected = API_KEYS.len() * 2 + EXTRA_MESSAGES.len();
    if out.len() != expected {
        bail!(
            "found {} of the {expected} wanted definitions in {}",
            out.len(),
            dir.display()
        );
    }
    for key in API_KEYS {
        let has = |kind| {
            out.iter()
                .any(|m| m.api_key == Some(*key) && m.kind == kind)
        };
        if !has(Kind::Request) || !has(Kind::Response) {
            bail!("API key {key} lacks a request or a response definition");
        }
    }
    Ok(out)
}

fn rustfmt(code: &str, root: &Path) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt")?;
    child
        .stdin
        .take()
        .context("rustfmt stdin")?
        .write_all(code.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn generate(messages: &[Message], root: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for m in messages {
        let code = emit_message::message_file(m);
        let formatted = rustfmt(&code, root).with_context(|| format!("formatting {}", m.module))?;
        files.insert(format!("{}.rs", m.module), formatted);
    }
    files.insert(
        "mod.rs".to_owned(),
        rustfmt(&emit_mod::mod_file(messages), root)?,
    );
    Ok(files)
}

fn existing(out: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    if !out.exists() {
        return Ok(files);
    }
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .context("odd file name")?
                .to_owned();
            files.insert(name, std::fs::read_to_string(&path)?);
        }
    }
    Ok(files)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let root = workspace_root();
    let messages = load_messages(&args.schemas)?;
    let generated = generate(&messages, &root)?;
    let current = existing(&args.out)?;
    let stale: Vec<&String> = generated
        .iter()
        .filter(|(name, code)| current.get(*name) != Some(code))
        .map(|(name, _)| name)
        .chain(current.keys().filter(|name| !generated.contains_key(*name)))
        .collect();
    if args.check {
        if stale.is_empty() {
            println!("{} generated files are up to date", generated.len());
            return Ok(());
        }
        for name in &stale {
            eprintln!("stale: {}", args.out.join(name).display());
        }
        bail!("generated code is out of date; run `cargo run -p fjord-codegen`");
    }
    std::fs::create_dir_all(&args.out)?;
    for name in current.keys().filter(|n| !generated.contains_key(*n)) {
        std::fs::remove_file(args.out.join(name))?;
    }
    for (name, code) in &generated {
        if current.get(name) != Some(code) {
            std::fs::write(args.out.join(name), code)?;
        }
    }
    println!(
        "wrote {} of {} files to {}",
        stale.len(),
        generated.len(),
        args.out.display()
    );
    Ok(())
}
