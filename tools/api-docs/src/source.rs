//! What a descriptor set says of one file: its comments by source path, parsed into
//! paragraphs, and its messages and enums in the order they are declared.

use std::collections::HashMap;

use prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, source_code_info::Location,
};

// Field numbers of the descriptor messages, as used in `SourceCodeInfo` paths.
pub(crate) const FILE_PACKAGE: i32 = 2;
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
pub(crate) const FILE_SERVICE: i32 = 6;
pub(crate) const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
pub(crate) const MESSAGE_ONEOF: i32 = 8;
pub(crate) const ENUM_VALUE: i32 = 2;
pub(crate) const SERVICE_METHOD: i32 = 2;

/// A documented file with its comments by source path.
pub(crate) struct File<'a> {
    pub(crate) proto: &'a FileDescriptorProto,
    comments: HashMap<&'a [i32], &'a Location>,
}

impl<'a> File<'a> {
    pub(crate) fn new(proto: &'a FileDescriptorProto) -> Self {
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
    pub(crate) fn comment(&self, path: &[i32]) -> Comment {
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
    pub(crate) fn line(&self, path: &[i32]) -> i32 {
        self.comments
            .get(path)
            .and_then(|location| location.span.first().copied())
            .unwrap_or(i32::MAX)
    }
}

/// A proto comment, as paragraphs of lines (one leading space of each `//` line removed).
#[derive(Default)]
pub(crate) struct Comment {
    paragraphs: Vec<Vec<String>>,
}

impl Comment {
    pub(crate) fn parse(text: &str) -> Self {
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
    pub(crate) fn take_callers(&mut self) -> Option<String> {
        let index = self.paragraphs.iter().position(|paragraph| {
            paragraph
                .first()
                .is_some_and(|line| line.starts_with("Callers:"))
        })?;
        let paragraph = self.paragraphs.remove(index).join(" ");
        Some(paragraph.trim_start_matches("Callers:").trim().to_owned())
    }

    /// The comment as Markdown block text: paragraphs separated by blank lines.
    pub(crate) fn block(&self) -> String {
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
    pub(crate) fn cell(&self) -> String {
        self.paragraphs
            .iter()
            .map(|paragraph| cell_text(&paragraph.join(" ")))
            .collect::<Vec<_>>()
            .join("<br><br>")
    }

    /// The first sentence of the comment, for the table of contents.
    pub(crate) fn summary(&self) -> String {
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

    pub(crate) fn is_empty(&self) -> bool {
        self.paragraphs.is_empty()
    }
}

/// Escapes what Markdown or HTML would swallow outside code spans (`<`, `>`, `*`); code spans
/// (between backticks) are left as written.
pub(crate) fn inline(text: &str) -> String {
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
pub(crate) fn cell_text(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// A message or enum of a documented file, in declaration order.
pub(crate) enum Item<'a> {
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

/// Messages and enums of a file in declaration order (by source line), each nested type
/// right after its parent; map entries are left out (a field shows them as `map<K, V>`).
pub(crate) fn items<'a>(file: &File<'a>) -> Vec<Item<'a>> {
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
