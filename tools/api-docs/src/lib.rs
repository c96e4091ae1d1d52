//! The API reference (`docs/api.md`), rendered as Markdown from the encoded descriptor set
//! and the comments it keeps (protox includes source info), so the document says exactly
//! what reflection serves and what the proto files say, and a test can tell when it is stale.
//!
//! Output is deterministic: packages, files, services, RPCs, messages, enums and fields come
//! in the order they are declared; nothing depends on hash order or on the clock.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    path::{Path, PathBuf},
};

use prost::Message as _;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    FileDescriptorSet, ServiceDescriptorProto,
    field_descriptor_proto::{Label, Type},
    source_code_info::Location,
};

/// The command that regenerates `docs/api.md`; the header of the document and the staleness
/// test both name it.
pub const REGENERATE_COMMAND: &str = "cargo run -p acx-api-docs -- --write";

/// Where the generated reference lives in the repository.
pub fn default_output_path() -> PathBuf {
    // This crate is `tools/api-docs` in the repository.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .join("docs/api.md")
}

/// Decodes [`acx_proto::FILE_DESCRIPTOR_SET`] and renders the reference of the ACX contracts.
pub fn render_acx() -> Result<String, prost::DecodeError> {
    let set = FileDescriptorSet::decode(acx_proto::FILE_DESCRIPTOR_SET)?;
    Ok(render(&set))
}

/// Renders every file of `set` outside the `google.*` packages (those are imports: shown by
/// name, without a section of their own). Links to the proto files assume the document sits
/// in `docs/` beside `proto/`.
pub fn render(set: &FileDescriptorSet) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = Renderer::new(set).write(&mut out);
    out
}

/// Where the proto files are, relative to the document.
const PROTO_DIR: &str = "../proto";

// Field numbers of the descriptor messages, as used in `SourceCodeInfo` paths.
const FILE_PACKAGE: i32 = 2;
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
const FILE_SERVICE: i32 = 6;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
const MESSAGE_ONEOF: i32 = 8;
const ENUM_VALUE: i32 = 2;
const SERVICE_METHOD: i32 = 2;

/// A documented file with its comments by source path.
struct File<'a> {
    proto: &'a FileDescriptorProto,
    comments: HashMap<&'a [i32], &'a Location>,
}

impl<'a> File<'a> {
    fn new(proto: &'a FileDescriptorProto) -> Self {
        let comments = proto
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .map(|location| (location.path.as_slice(), location))
            .collect();
        Self { proto, comments }
    }

    /// The comment before the element at `path` (or after it, when there is none before),
    /// as paragraphs of joined lines.
    fn comment(&self, path: &[i32]) -> Comment {
        let Some(location) = self.comments.get(path) else {
            return Comment::default();
        };
        let text = match (&location.leading_comments, &location.trailing_comments) {
            (Some(leading), _) if !leading.trim().is_empty() => leading,
            (_, Some(trailing)) => trailing,
            _ => return Comment::default(),
        };
        Comment::parse(text)
    }

    /// First line of the element at `path`, to order messages and enums as declared.
    fn line(&self, path: &[i32]) -> i32 {
        self.comments
            .get(path)
            .and_then(|location| location.span.first().copied())
            .unwrap_or(i32::MAX)
    }
}

/// A proto comment, as paragraphs of lines (one leading space of each `//` line removed).
#[derive(Default)]
struct Comment {
    paragraphs: Vec<Vec<String>>,
}

impl Comment {
    fn parse(text: &str) -> Self {
        let mut paragraphs = vec![];
        let mut current: Vec<String> = vec![];
        for line in text.lines() {
            let line = line.strip_prefix(' ').unwrap_or(line).trim_end();
            if line.trim().is_empty() {
                if !current.is_empty() {
                    paragraphs.push(std::mem::take(&mut current));
                }
            } else {
                current.push(line.to_owned());
            }
        }
        if !current.is_empty() {
            paragraphs.push(current);
        }
        Self { paragraphs }
    }

    /// Takes out the paragraph starting with `Callers:` (the house style for who may call an
    /// RPC) and returns its text.
    fn take_callers(&mut self) -> Option<String> {
        let index = self.paragraphs.iter().position(|paragraph| {
            paragraph
                .first()
                .is_some_and(|line| line.starts_with("Callers:"))
        })?;
        let paragraph = self.paragraphs.remove(index).join(" ");
        Some(paragraph.trim_start_matches("Callers:").trim().to_owned())
    }

    /// The comment as Markdown block text: paragraphs separated by blank lines.
    fn block(&self) -> String {
        self.paragraphs
            .iter()
            .map(|paragraph| {
                paragraph
                    .iter()
                    .map(|line| block_line(line))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// The comment inside a table cell: one line, paragraphs separated by `<br><br>`.
    fn cell(&self) -> String {
        self.paragraphs
            .iter()
            .map(|paragraph| cell_text(&paragraph.join(" ")))
            .collect::<Vec<_>>()
            .join("<br><br>")
    }

    /// The first sentence of the comment, for the table of contents.
    fn summary(&self) -> String {
        let Some(first) = self.paragraphs.first() else {
            return String::new();
        };
        let text = first.join(" ");
        let end = text
            .match_indices(". ")
            .map(|(at, _)| at + 1)
            .next()
            .unwrap_or(text.len());
        inline(&text[..end])
    }

    fn is_empty(&self) -> bool {
        self.paragraphs.is_empty()
    }
}

/// Escapes what Markdown or HTML would swallow outside code spans (`<`, `>`, `*`); code spans
/// (between backticks) are left as written.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '*' if !in_code => out.push_str("\\*"),
            _ => out.push(c),
        }
    }
    out
}

/// One comment line in block text: also keeps a leading `#` or a line of `-`/`=` from
/// turning into a heading.
fn block_line(line: &str) -> String {
    let escaped = inline(line);
    let trimmed = escaped.trim_start();
    let heading_like = trimmed.starts_with('#')
        || (!trimmed.is_empty() && trimmed.chars().all(|c| c == '-' || c == '=' || c == ' '));
    if heading_like {
        let indent = escaped.len() - trimmed.len();
        format!("{}\\{}", &escaped[..indent], trimmed)
    } else {
        escaped
    }
}

/// Text for a table cell: `|` would end the cell, even inside a code span.
fn cell_text(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// A message or enum of a documented file, in declaration order.
enum Item<'a> {
    Message {
        /// Name inside the package, `Outer.Inner` for nested ones.
        name: String,
        proto: &'a DescriptorProto,
        path: Vec<i32>,
    },
    Enum {
        name: String,
        proto: &'a EnumDescriptorProto,
        path: Vec<i32>,
    },
}

struct Renderer<'a> {
    /// Documented files grouped by package, packages in order of first appearance.
    packages: Vec<(&'a str, Vec<File<'a>>)>,
    /// Every documented message and enum by full name (without the leading dot).
    types: HashSet<String>,
    /// Map entry messages by full name: (key field, value field).
    map_entries: HashMap<String, (&'a FieldDescriptorProto, &'a FieldDescriptorProto)>,
}

impl<'a> Renderer<'a> {
    fn new(set: &'a FileDescriptorSet) -> Self {
        let mut packages: Vec<(&str, Vec<File>)> = vec![];
        let mut types = HashSet::new();
        let mut map_entries = HashMap::new();
        for proto in &set.file {
            let package = proto.package();
            // Map entries are needed for imported types too, so collect before filtering.
            for message in &proto.message_type {
                collect_types(
                    package,
                    message,
                    &mut types,
                    &mut map_entries,
                    documented(package),
                );
            }
            if !documented(package) {
                continue;
            }
            for enumeration in &proto.enum_type {
                types.insert(join(package, enumeration.name()));
            }
            match packages.iter_mut().find(|(name, _)| *name == package) {
                Some((_, files)) => files.push(File::new(proto)),
                None => packages.push((package, vec![File::new(proto)])),
            }
        }
        Self {
            packages,
            types,
            map_entries,
        }
    }

    fn write(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "# ACX API reference")?;
        writeln!(out)?;
        writeln!(
            out,
            "<!-- Generated from proto/ by acx-api-docs: do not edit. Regenerate with `{REGENERATE_COMMAND}`. -->"
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "Every service, RPC, message and enum of the ACX contracts under [`proto/`]({PROTO_DIR}), \
             with the comments of the proto files. Generated by `acx-api-docs` from the same \
             descriptor set the servers serve through reflection; `cargo test -p acx-api-docs` \
             fails when this file is out of date (regenerate it with `{REGENERATE_COMMAND}`)."
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "Each field is listed with its proto name and its JSON name (the \
             [proto3 JSON mapping](https://protobuf.dev/programming-guides/json/) that grpcurl \
             and `buf curl` use). A method's full name, as grpcurl takes it, is \
             `<package>.<Service>/<Method>`. Every call but health and reflection needs \
             `authorization: Bearer <token>`."
        )?;
        writeln!(out)?;
        self.write_contents(out)?;
        for (package, files) in &self.packages {
            self.write_package(out, package, files)?;
        }
        Ok(())
    }

    fn write_contents(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "## Contents")?;
        writeln!(out)?;
        for (package, files) in &self.packages {
            let summary = files
                .iter()
                .map(|file| file.comment(&[FILE_PACKAGE]))
                .find(|comment| !comment.is_empty())
                .map(|comment| format!(": {}", comment.summary()))
                .unwrap_or_default();
            writeln!(out, "- [`{package}`](#{package}){summary}")?;
            for file in files {
                for service in &file.proto.service {
                    let full_name = join(package, service.name());
                    let methods: Vec<String> = service
                        .method
                        .iter()
                        .map(|method| {
                            link(&format!("{full_name}.{}", method.name()), method.name())
                        })
                        .collect();
                    writeln!(
                        out,
                        "  - service {}: {}",
                        link(&full_name, service.name()),
                        methods.join(", ")
                    )?;
                }
            }
            let mut messages = vec![];
            let mut enums = vec![];
            for file in files {
                for item in items(file) {
                    match item {
                        Item::Message { name, .. } => {
                            messages.push(link(&join(package, &name), &name))
                        }
                        Item::Enum { name, .. } => enums.push(link(&join(package, &name), &name)),
                    }
                }
            }
            for (label, list) in [("messages", messages), ("enums", enums)] {
                if !list.is_empty() {
                    writeln!(out, "  - {label}: {}", list.join(", "))?;
                }
            }
        }
        writeln!(out)?;
        Ok(())
    }

    fn write_package(&self, out: &mut String, package: &str, files: &[File]) -> std::fmt::Result {
        writeln!(out, "---")?;
        writeln!(out)?;
        writeln!(out, "<a name=\"{package}\"></a>")?;
        writeln!(out)?;
        writeln!(out, "## `{package}`")?;
        writeln!(out)?;
        for file in files {
            let comment = file.comment(&[FILE_PACKAGE]);
            if !comment.is_empty() {
                writeln!(out, "{}", comment.block())?;
                writeln!(out)?;
            }
        }
        let sources: Vec<String> = files
            .iter()
            .map(|file| format!("[`{0}`]({PROTO_DIR}/{0})", file.proto.name()))
            .collect();
        writeln!(out, "Source: {}", sources.join(", "))?;
        writeln!(out)?;
        for file in files {
            for (index, service) in file.proto.service.iter().enumerate() {
                self.write_service(out, package, file, service, index)?;
            }
        }
        let items: Vec<(&File, Item)> = files
            .iter()
            .flat_map(|file| items(file).into_iter().map(move |item| (file, item)))
            .collect();
        if !items.is_empty() {
            writeln!(out, "### Messages and enums")?;
            writeln!(out)?;
        }
        for (file, item) in items {
            match item {
                Item::Message { name, proto, path } => {
                    self.write_message(out, package, file, &name, proto, &path)?
                }
                Item::Enum { name, proto, path } => {
                    write_enum(out, package, file, &name, proto, &path)?
                }
            }
        }
        Ok(())
    }

    fn write_service(
        &self,
        out: &mut String,
        package: &str,
        file: &File,
        service: &ServiceDescriptorProto,
        index: usize,
    ) -> std::fmt::Result {
        let full_name = join(package, service.name());
        let path = [FILE_SERVICE, index as i32];
        writeln!(out, "<a name=\"{full_name}\"></a>")?;
        writeln!(out)?;
        writeln!(out, "### service `{}`", service.name())?;
        writeln!(out)?;
        let comment = file.comment(&path);
        if !comment.is_empty() {
            writeln!(out, "{}", comment.block())?;
            writeln!(out)?;
        }
        let methods: Vec<(Comment, Option<String>)> = (0..service.method.len())
            .map(|method| {
                let mut comment =
                    file.comment(&[FILE_SERVICE, index as i32, SERVICE_METHOD, method as i32]);
                let callers = comment.take_callers();
                (comment, callers)
            })
            .collect();
        let any_callers = methods.iter().any(|(_, callers)| callers.is_some());
        if any_callers {
            writeln!(out, "| RPC | request | response | callers |")?;
            writeln!(out, "|---|---|---|---|")?;
        } else {
            writeln!(out, "| RPC | request | response |")?;
            writeln!(out, "|---|---|---|")?;
        }
        for (method, (_, callers)) in service.method.iter().zip(&methods) {
            let anchor = format!("{full_name}.{}", method.name());
            write!(
                out,
                "| [`{}`](#{anchor}) | {} | {} |",
                method.name(),
                self.stream(method.client_streaming(), method.input_type(), package),
                self.stream(method.server_streaming(), method.output_type(), package),
            )?;
            if any_callers {
                let callers = callers.as_deref().map(cell_text);
                write!(out, " {} |", callers.as_deref().unwrap_or("—"))?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
        if methods.iter().any(|(_, callers)| callers.is_none()) && any_callers {
            writeln!(out, "—: the RPC's comment names no callers.")?;
            writeln!(out)?;
        }
        for (method, (comment, callers)) in service.method.iter().zip(&methods) {
            writeln!(out, "<a name=\"{full_name}.{}\"></a>", method.name())?;
            writeln!(out)?;
            writeln!(out, "#### rpc `{}`", method.name())?;
            writeln!(out)?;
            writeln!(out, "- **Method:** `{full_name}/{}`", method.name())?;
            writeln!(
                out,
                "- **Request:** {}",
                self.stream_words(method.client_streaming(), method.input_type(), package)
            )?;
            writeln!(
                out,
                "- **Response:** {}",
                self.stream_words(method.server_streaming(), method.output_type(), package)
            )?;
            if let Some(callers) = callers {
                writeln!(out, "- **Callers:** {}", inline(callers))?;
            }
            writeln!(out)?;
            if !comment.is_empty() {
                writeln!(out, "{}", comment.block())?;
                writeln!(out)?;
            }
        }
        Ok(())
    }

    fn write_message(
        &self,
        out: &mut String,
        package: &str,
        file: &File,
        name: &str,
        message: &DescriptorProto,
        path: &[i32],
    ) -> std::fmt::Result {
        writeln!(out, "<a name=\"{}\"></a>", join(package, name))?;
        writeln!(out)?;
        writeln!(out, "#### message `{name}`")?;
        writeln!(out)?;
        let comment = file.comment(path);
        if !comment.is_empty() {
            writeln!(out, "{}", comment.block())?;
            writeln!(out)?;
        }
        if message.field.is_empty() {
            writeln!(out, "*No fields.*")?;
            writeln!(out)?;
            return Ok(());
        }
        writeln!(out, "| field | JSON | type | description |")?;
        writeln!(out, "|---|---|---|---|")?;
        for (index, field) in message.field.iter().enumerate() {
            let mut field_path = path.to_vec();
            field_path.extend([MESSAGE_FIELD, index as i32]);
            let mut description = file.comment(&field_path).cell();
            if field
                .options
                .as_ref()
                .is_some_and(|options| options.deprecated())
            {
                description = format!("**Deprecated.** {description}");
            }
            writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                field.name(),
                json_name(field),
                self.field_type(field, message, package),
                description,
            )?;
        }
        writeln!(out)?;
        // Real oneofs (not the synthetic ones behind proto3 `optional`), with their members.
        for (index, oneof) in message.oneof_decl.iter().enumerate() {
            let members: Vec<String> = message
                .field
                .iter()
                .filter(|field| field.oneof_index == Some(index as i32) && !field.proto3_optional())
                .map(|field| format!("`{}`", field.name()))
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut oneof_path = path.to_vec();
            oneof_path.extend([MESSAGE_ONEOF, index as i32]);
            let comment = file.comment(&oneof_path);
            write!(out, "**oneof `{}`** ({})", oneof.name(), members.join(", "))?;
            if !comment.is_empty() {
                write!(out, ": {}", comment.cell())?;
            }
            writeln!(out)?;
            writeln!(out)?;
        }
        Ok(())
    }

    /// A field's type: scalar name, or a link to a documented message or enum, with its label.
    fn field_type(
        &self,
        field: &FieldDescriptorProto,
        message: &DescriptorProto,
        package: &str,
    ) -> String {
        let repeated = field.label() == Label::Repeated;
        if repeated
            && field.r#type() == Type::Message
            && let Some((key, value)) = self.map_entries.get(trim_dot(field.type_name()))
        {
            return format!(
                "map&lt;{}, {}&gt;",
                self.plain_type(key, package),
                self.plain_type(value, package)
            );
        }
        let base = self.plain_type(field, package);
        let mut text = if repeated {
            format!("repeated {base}")
        } else if field.proto3_optional() {
            format!("optional {base}")
        } else {
            base
        };
        if let Some(index) = field.oneof_index.filter(|_| !field.proto3_optional())
            && let Some(oneof) = message.oneof_decl.get(index as usize)
        {
            text.push_str(&format!("<br>oneof `{}`", oneof.name()));
        }
        text
    }

    /// The type of a field without its label.
    fn plain_type(&self, field: &FieldDescriptorProto, package: &str) -> String {
        match field.r#type() {
            Type::Message | Type::Enum | Type::Group => self.type_link(field.type_name(), package),
            scalar => format!("`{}`", scalar_name(scalar)),
        }
    }

    /// A link to a documented type (short name inside its own package), or the full name of
    /// an imported one (`google.protobuf.Timestamp`).
    fn type_link(&self, type_name: &str, package: &str) -> String {
        let full_name = trim_dot(type_name);
        if self.types.contains(full_name) {
            let shown = full_name
                .strip_prefix(package)
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or(full_name);
            link(full_name, shown)
        } else {
            format!("`{full_name}`")
        }
    }

    fn stream(&self, streaming: bool, type_name: &str, package: &str) -> String {
        let link = self.type_link(type_name, package);
        if streaming {
            format!("stream {link}")
        } else {
            link
        }
    }

    fn stream_words(&self, streaming: bool, type_name: &str, package: &str) -> String {
        let link = self.type_link(type_name, package);
        if streaming {
            format!("a stream of {link}")
        } else {
            link
        }
    }
}

fn write_enum(
    out: &mut String,
    package: &str,
    file: &File,
    name: &str,
    enumeration: &EnumDescriptorProto,
    path: &[i32],
) -> std::fmt::Result {
    writeln!(out, "<a name=\"{}\"></a>", join(package, name))?;
    writeln!(out)?;
    writeln!(out, "#### enum `{name}`")?;
    writeln!(out)?;
    let comment = file.comment(path);
    if !comment.is_empty() {
        writeln!(out, "{}", comment.block())?;
        writeln!(out)?;
    }
    writeln!(out, "| value | number | description |")?;
    writeln!(out, "|---|---|---|")?;
    for (index, value) in enumeration.value.iter().enumerate() {
        let mut value_path = path.to_vec();
        value_path.extend([ENUM_VALUE, index as i32]);
        writeln!(
            out,
            "| `{}` | {} | {} |",
            value.name(),
            value.number(),
            file.comment(&value_path).cell()
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// Messages and enums of a file in declaration order (by source line), each nested type
/// right after its parent; map entries are left out (a field shows them as `map<K, V>`).
fn items<'a>(file: &File<'a>) -> Vec<Item<'a>> {
    let mut top: Vec<(i32, Item<'a>)> = vec![];
    for (index, message) in file.proto.message_type.iter().enumerate() {
        let path = vec![FILE_MESSAGE, index as i32];
        top.push((
            file.line(&path),
            Item::Message {
                name: message.name().to_owned(),
                proto: message,
                path,
            },
        ));
    }
    for (index, enumeration) in file.proto.enum_type.iter().enumerate() {
        let path = vec![FILE_ENUM, index as i32];
        top.push((
            file.line(&path),
            Item::Enum {
                name: enumeration.name().to_owned(),
                proto: enumeration,
                path,
            },
        ));
    }
    top.sort_by_key(|(line, _)| *line);
    let mut items = vec![];
    for (_, item) in top {
        push_with_nested(file, item, &mut items);
    }
    items
}

fn push_with_nested<'a>(file: &File<'a>, item: Item<'a>, items: &mut Vec<Item<'a>>) {
    let Item::Message { name, proto, path } = item else {
        items.push(item);
        return;
    };
    if proto
        .options
        .as_ref()
        .is_some_and(|options| options.map_entry())
    {
        return;
    }
    let mut nested: Vec<(i32, Item<'a>)> = vec![];
    for (index, message) in proto.nested_type.iter().enumerate() {
        let mut child = path.clone();
        child.extend([MESSAGE_NESTED, index as i32]);
        nested.push((
            file.line(&child),
            Item::Message {
                name: format!("{name}.{}", message.name()),
                proto: message,
                path: child,
            },
        ));
    }
    for (index, enumeration) in proto.enum_type.iter().enumerate() {
        let mut child = path.clone();
        child.extend([MESSAGE_ENUM, index as i32]);
        nested.push((
            file.line(&child),
            Item::Enum {
                name: format!("{name}.{}", enumeration.name()),
                proto: enumeration,
                path: child,
            },
        ));
    }
    nested.sort_by_key(|(line, _)| *line);
    items.push(Item::Message { name, proto, path });
    for (_, child) in nested {
        push_with_nested(file, child, items);
    }
}

/// Records a message, its nested messages and enums, and its map entries.
fn collect_types<'a>(
    scope: &str,
    message: &'a DescriptorProto,
    types: &mut HashSet<String>,
    map_entries: &mut HashMap<String, (&'a FieldDescriptorProto, &'a FieldDescriptorProto)>,
    documented: bool,
) {
    let full_name = join(scope, message.name());
    if message
        .options
        .as_ref()
        .is_some_and(|options| options.map_entry())
    {
        if let [key, value] = message.field.as_slice() {
            map_entries.insert(full_name, (key, value));
        }
        return;
    }
    for enumeration in &message.enum_type {
        if documented {
            types.insert(join(&full_name, enumeration.name()));
        }
    }
    for nested in &message.nested_type {
        collect_types(&full_name, nested, types, map_entries, documented);
    }
    if documented {
        types.insert(full_name);
    }
}

/// Whether a package gets its own section: everything but the `google.*` imports.
fn documented(package: &str) -> bool {
    !package.starts_with("google.")
}

fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

fn trim_dot(type_name: &str) -> &str {
    type_name.strip_prefix('.').unwrap_or(type_name)
}

fn link(anchor: &str, shown: &str) -> String {
    format!("[`{shown}`](#{anchor})")
}

/// The JSON name of a field: as the compiler recorded it, or derived by the proto3 rule
/// (underscores dropped, the letter after one upper-cased).
fn json_name(field: &FieldDescriptorProto) -> String {
    if let Some(name) = field.json_name.as_deref().filter(|name| !name.is_empty()) {
        return name.to_owned();
    }
    let mut out = String::new();
    let mut upper = false;
    for c in field.name().chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn scalar_name(scalar: Type) -> &'static str {
    match scalar {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        Type::Group => "group",
        Type::Message => "message",
        Type::Enum => "enum",
    }
}
