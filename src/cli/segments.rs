//! `textdesk segments`: JSON lines in, JSON lines out, one result per input line.

use std::io::{BufRead, Write};

use serde::Deserialize;

use crate::sms::segments;

#[derive(Deserialize)]
struct Input {
    text: String,
}

#[derive(serde::Serialize)]
struct Output<'a> {
    text: &'a str,
    encoding: &'static str,
    segments: u32,
    units: u32,
}

/// Reads `{"text": …}` lines from `input` and writes `{"text", "encoding", "segments",
/// "units"}` lines to `output`. Blank lines are skipped; a malformed line stops with an
/// error naming its line number.
pub fn run(input: impl BufRead, mut output: impl Write, smart: bool) -> anyhow::Result<()> {
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Input = serde_json::from_str(&line).map_err(|e| {
            anyhow::anyhow!(
                "stdin line {}: expected {{\"text\": \"…\"}}: {e}",
                index + 1
            )
        })?;
        let text = if smart {
            segments::smart_encode(&parsed.text).into_owned()
        } else {
            parsed.text
        };
        let count = segments::count(&text);
        let out = Output {
            text: &text,
            encoding: count.encoding.as_str(),
            segments: count.segments,
            units: count.units,
        };
        serde_json::to_writer(&mut output, &out)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(())
}
