//! One knowledge file: optional YAML front matter (`title`, `tags`, `url`, `sms`) between
//! `---` lines, then Markdown. Parsing never guesses: a broken front matter is a
//! [`FileError`] naming the file and the line, so the operator can fix it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The front matter keys an operator may set. Unknown keys are errors, so a typo
/// (`tittle:`) is reported instead of silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub title: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub url: Option<String>,
    /// The operator-approved short answer, sent as is when this document answers.
    pub sms: Option<String>,
}

/// A parsed knowledge file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Path relative to the knowledge directory, with `/` separators (`returns/policy.md`).
    pub file: String,
    pub meta: FrontMatter,
    /// The Markdown after the front matter.
    pub body: String,
    /// Lines of the file before `body` starts (the front matter, fences included).
    pub body_line_offset: usize,
}

/// A knowledge file that cannot be used, with where to look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// Path relative to the knowledge directory.
    pub file: String,
    /// 1-based line in the file, when the problem has one.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// Parses the text of `file` (relative path, used in errors and chunks).
pub fn parse(file: &str, text: &str) -> Result<Document, FileError> {
    let (meta, body, body_line_offset) = split_front_matter::<FrontMatter>(file, text)?;
    Ok(Document {
        file: file.to_string(),
        meta,
        body,
        body_line_offset,
    })
}

/// Splits a Markdown file with optional YAML front matter into the parsed front
/// matter (`M::default()` without one), the body, and the number of lines before the
/// body. Shared by every operator file written this way (knowledge, saved replies).
pub fn split_front_matter<M>(file: &str, text: &str) -> Result<(M, String, usize), FileError>
where
    M: serde::de::DeserializeOwned + Default,
{
    let error = |line: Option<usize>, message: String| FileError {
        file: file.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let mut lines = text.split_inclusive('\n');
    let opens_front_matter = lines.next().is_some_and(|first| first.trim_end() == "---");
    if !opens_front_matter {
        return Ok((M::default(), text.to_string(), 0));
    }

    // Find the closing fence; `yaml_end` is the byte offset where it starts.
    let mut offset = text.split_inclusive('\n').next().map_or(0, str::len);
    let mut closing = None;
    for (index, line) in lines.enumerate() {
        if matches!(line.trim_end(), "---" | "...") {
            closing = Some((offset, offset + line.len(), index + 2));
            break;
        }
        offset += line.len();
    }
    let Some((yaml_end, body_start, closing_line)) = closing else {
        return Err(error(
            Some(1),
            "front matter opened with `---` on line 1 is never closed; add a `---` line after it"
                .into(),
        ));
    };
    let yaml_start = text.split_inclusive('\n').next().map_or(0, str::len);
    let yaml = &text[yaml_start..yaml_end];

    let meta = if yaml.trim().is_empty() {
        M::default()
    } else {
        serde_yaml_ng::from_str::<M>(yaml).map_err(|e| {
            // The YAML starts on line 2 of the file.
            let line = e.location().map(|l| l.line() + 1);
            error(
                line.or(Some(1)),
                format!("front matter: {}", strip_location(&e.to_string())),
            )
        })?
    };
    Ok((meta, text[body_start..].to_string(), closing_line))
}

/// serde_yaml_ng appends "at line L column C" (relative to the YAML, not the file);
/// the file line is reported separately, so that suffix would only mislead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Reads and parses `root/file`. A file that is not UTF-8 is an error at the line of
/// the first bad byte.
pub fn read(root: &Path, file: &str) -> Result<Document, FileError> {
    parse(file, &read_text(root, file)?)
}

/// The text of `root/file`; a file that is not UTF-8 is an error at the line of the
/// first bad byte.
pub fn read_text(root: &Path, file: &str) -> Result<String, FileError> {
    let bytes = std::fs::read(root.join(file)).map_err(|e| FileError {
        file: file.to_string(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        FileError {
            file: file.to_string(),
            line: Some(valid.iter().filter(|b| **b == b'\n').count() + 1),
            message: "not valid UTF-8; save the file as UTF-8".into(),
        }
    })?;
    Ok(text)
}

/// The knowledge files under `root`, as sorted relative paths: every `*.md` at any
/// depth except `README.md` files, hidden entries and folders whose name starts with
/// `_` (drafts waiting for review, `_suggested/`, are never indexed). A missing `root`
/// holds no files.
pub fn discover(root: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    if !root.exists() {
        return Ok(files);
    }
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                if !name.starts_with('_') {
                    pending.push(path);
                }
            } else if is_knowledge_file(&path)
                && let Ok(relative) = path.strip_prefix(root)
            {
                files.push(relative_name(relative));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether `path` is a knowledge file by its name (`*.md`, not `README.md`).
pub fn is_knowledge_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".md") && !name.eq_ignore_ascii_case("README.md") && !name.starts_with('.')
}

fn relative_name(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_fields_and_body_offset() {
        let doc = parse(
            "returns.md",
            "---\ntitle: Returns\ntags: [returns, orders]\nurl: https://example.com/returns\nsms: Reply RETURN to start.\n---\n# Returns\nBody\n",
        )
        .unwrap();
        assert_eq!(doc.meta.title.as_deref(), Some("Returns"));
        assert_eq!(doc.meta.tags, vec!["returns", "orders"]);
        assert_eq!(doc.meta.sms.as_deref(), Some("Reply RETURN to start."));
        assert_eq!(doc.body, "# Returns\nBody\n");
        assert_eq!(doc.body_line_offset, 6);
    }

    #[test]
    fn a_file_without_front_matter_is_all_body() {
        let doc = parse("a.md", "# Hello\n").unwrap();
        assert_eq!(doc.meta, FrontMatter::default());
        assert_eq!(doc.body_line_offset, 0);
    }

    #[test]
    fn a_yaml_error_names_the_file_line() {
        // Line 1 `---`, line 2 title, line 3 the broken list.
        let err = parse(
            "shipping.md",
            "---\ntitle: Shipping\ntags: [a, b\nurl: x\n---\nbody\n",
        )
        .unwrap_err();
        assert_eq!(err.file, "shipping.md");
        assert!(matches!(err.line, Some(3..=4)), "{err}");
        assert!(err.to_string().starts_with("shipping.md:"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_reported_on_its_line() {
        let err = parse("a.md", "---\ntitle: A\ntittle: B\n---\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.message.contains("tittle"), "{err}");
    }

    #[test]
    fn an_unclosed_front_matter_is_an_error_on_line_one() {
        let err = parse("a.md", "---\ntitle: A\n# Body\n").unwrap_err();
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.md"), b"ok\nstill ok\n\xff\n").unwrap();
        let err = read(dir.path(), "bad.md").unwrap_err();
        assert_eq!(err.line, Some(3));
    }

    #[test]
    fn discovery_skips_readme_and_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("billing")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        for f in [
            "README.md",
            "a.md",
            "billing/b.md",
            "billing/notes.txt",
            ".git/x.md",
            ".hidden.md",
        ] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        assert_eq!(discover(dir.path()).unwrap(), vec!["a.md", "billing/b.md"]);
    }

    #[test]
    fn drafts_waiting_for_review_are_never_indexed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("_suggested")).unwrap();
        std::fs::create_dir_all(dir.path().join("learned")).unwrap();
        for f in ["_suggested/pets.md", "learned/pets.md"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        assert_eq!(discover(dir.path()).unwrap(), vec!["learned/pets.md"]);
    }
}
