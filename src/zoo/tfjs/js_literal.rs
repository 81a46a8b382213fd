//! nsfwjs ships its tfjs models as browserify bundles instead of `model.json` + `.bin`: the
//! model is a JavaScript object literal (`exports={format:"graph-model",…}`, unquoted keys,
//! `.5`, `!0`) and each weight shard is a base64 string (`exports="…"`). This module reads
//! both without running any JavaScript: [`object_after`] parses the literal into a
//! [`serde_json::Value`], [`string_after`] finds the string; [`base64_decode`] decodes it.
//! The parser is strict (anything else is an error, never a guess), iterative where nesting
//! could be hostile (depth-limited), and bounded by its input.

use serde_json::{Map, Number, Value};

type R<T> = std::result::Result<T, String>;

/// Nesting deeper than this is refused (a real model nests about 8 levels).
const MAX_DEPTH: usize = 64;

/// The object literal right after the first `marker` (e.g. `exports=`) that is followed by
/// one (a bundle also says `module.exports=t()` before the literal).
pub fn object_after(src: &str, marker: &str) -> R<Value> {
    let mut p = after(src, marker, b'{')
        .ok_or_else(|| format!("no {marker:?} followed by an object literal in the file"))?;
    p.value(0)
}

/// The string literal right after the first `marker` (e.g. `exports=`) that is followed by
/// one.
pub fn string_after(src: &str, marker: &str) -> R<String> {
    let mut p = after(src, marker, b'"')
        .ok_or_else(|| format!("no {marker:?} followed by a string literal in the file"))?;
    p.string()
}

/// A parser at the first place where `marker` is followed (after blanks) by `open`.
fn after<'a>(src: &'a str, marker: &str, open: u8) -> Option<Parser<'a>> {
    src.match_indices(marker).find_map(|(at, _)| {
        let mut p = Parser {
            s: src.as_bytes(),
            i: at + marker.len(),
        };
        p.skip_ws();
        (p.peek() == Some(open)).then_some(p)
    })
}

/// Standard base64 (RFC 4648 alphabet, `=` padding optional; whitespace refused).
pub fn base64_decode(text: &str) -> R<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 {
        return Err("too much base64 padding".to_owned());
    }
    let bytes = body.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err("truncated base64".to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            let v = sextet(c).ok_or_else(|| format!("byte {c:#04x} is not base64"))?;
            acc |= v << (18 - 6 * k);
        }
        let n = chunk.len() - 1;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> R<()> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self, depth: usize) -> R<Value> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"' | b'\'') => self.string().map(Value::String),
            Some(b'!') => {
                // Minifiers write true as `!0` and false as `!1`.
                self.i += 1;
                match self.peek() {
                    Some(b'0') => {
                        self.i += 1;
                        Ok(Value::Bool(true))
                    }
                    Some(b'1') => {
                        self.i += 1;
                        Ok(Value::Bool(false))
                    }
                    _ => Err(format!("unexpected '!' expression at byte {}", self.i)),
                }
            }
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let word = self.ident();
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "null" => Ok(Value::Null),
                    other => Err(format!("unexpected identifier {other:?}")),
                }
            }
            Some(c) => Err(format!(
                "unexpected {:?} at byte {} (only literals are read)",
                c as char, self.i
            )),
            None => Err("unexpected end of file".to_owned()),
        }
    }

    fn object(&mut self, depth: usize) -> R<Value> {
        self.expect(b'{')?;
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.peek() {
                Some(b'"' | b'\'') => self.string()?,
                Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' => self.ident(),
                _ => return Err(format!("expected a key at byte {}", self.i)),
            };
            self.expect(b':')?;
            let v = self.value(depth + 1)?;
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> R<Value> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {}
                _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn number(&mut self) -> R<Value> {
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        let f: f64 = text
            .parse()
            .map_err(|_| format!("bad number {text:?} at byte {start}"))?;
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("number {text:?} is not finite"))
    }

    fn string(&mut self) -> R<String> {
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(format!("expected a string at byte {}", self.i)),
        };
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = self.peek().ok_or("unterminated string")?;
            self.i += 1;
            match c {
                c if c == quote => break,
                b'\\' => {
                    let e = self.peek().ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.i..self.i + 4)
                                .ok_or("truncated \\u escape")?;
                            let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                            let code = u32::from_str_radix(hex, 16)
                                .map_err(|_| format!("bad \\u escape {hex:?}"))?;
                            let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            self.i += 4;
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8".to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn minified_literal_with_bare_keys_short_numbers_and_bang_booleans() {
        let src = r#"module.exports=t();e.exports={format:"graph-model",n:[.5,-.25,1e-3,2,"a\"b"],k:{b:!1},t:!0,'q':null}},{}]"#;
        let v = object_after(src, "exports=").unwrap();
        assert_eq!(v["format"], "graph-model");
        assert_eq!(v["n"][0].as_f64(), Some(0.5));
        assert_eq!(v["n"][1].as_f64(), Some(-0.25));
        assert_eq!(v["n"][2].as_f64(), Some(0.001));
        assert_eq!(v["n"][3].as_i64(), Some(2));
        assert_eq!(v["n"][4], "a\"b");
        assert_eq!(v["k"]["b"], false);
        assert_eq!(v["t"], true);
        assert!(v["q"].is_null());
    }

    #[test]
    fn code_where_a_literal_belongs_is_refused() {
        for bad in [
            "exports={a:f()}",
            "exports={a:1",
            "exports={a:[1,2}",
            "exports={a:!2}",
            "exports=[1]",
            "exports={a:\"x}",
            "nothing here",
        ] {
            assert!(object_after(bad, "exports=").is_err(), "{bad}");
        }
        let deep = format!("exports={}{}", "{a:".repeat(100), "}".repeat(100));
        assert!(
            object_after(&deep, "exports=")
                .unwrap_err()
                .contains("deeper")
        );
    }

    #[test]
    fn base64_round_trips_and_refuses_junk() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("AAEC/w==").unwrap(), vec![0, 1, 2, 255]);
        assert!(base64_decode("a b=").is_err());
        assert!(base64_decode("abcde").is_err());
        let s = string_after("m.exports=\"AAEC\";", "exports=").unwrap();
        assert_eq!(base64_decode(&s).unwrap(), vec![0, 1, 2]);
    }
}
