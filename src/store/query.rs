//! The tag search language, parsed into an expression tree that is both compiled to an FTS5
//! `MATCH` string (to find candidates fast) and evaluated exactly against a photo's tags (to
//! confirm them, apply `conf>` filters and report which tags matched).
//!
//! Syntax: a word matches tag words case- and accent-insensitively: as a whole word (or its
//! singular, `dogs` → `dog`) when the library has tags with that word, else by prefix, so
//! `cat` finds cats but not catamarans while a half-typed `retr` already finds retrievers;
//! `tag:dog` / `tag:"sea anemone"` match exactly that whole tag (the tag browser's query), and
//! so does `person:Alice` (a named person is a tag of the photos showing them);
//! juxtaposition is AND; `OR` (or `|`) joins alternatives; `-word` or `NOT word` excludes; `"quoted phrases"`
//! match consecutive words exactly; parentheses group; `conf>0.8` / `conf>=0.8` keeps only tags
//! at that confidence. Examples: `dog`, `beach -people`, `"traffic light" OR car`,
//! `(cat OR dog) conf>0.7`.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The boolean expression; `None` matches every photo.
    pub expr: Option<Expr>,
    /// Minimum confidence a tag needs to count as matching.
    pub min_conf: Option<ConfFilter>,
}

/// A `conf>x` / `conf>=x` filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfFilter {
    pub value: f32,
    pub inclusive: bool,
}

impl ConfFilter {
    /// Whether a tag with confidence `c` passes.
    pub fn passes(&self, c: f32) -> bool {
        if self.inclusive {
            c >= self.value
        } else {
            c > self.value
        }
    }
}

/// A boolean expression over tag terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Term(Term),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// A leaf of the expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// Some word of the tag starts with this (folded) word.
    Prefix(String),
    /// Some word of the tag is this (folded) word.
    Word(String),
    /// The tag is exactly these (folded) words.
    Tag(Vec<String>),
    /// The tag contains these (folded) words consecutively.
    Phrase(Vec<String>),
}

/// How to find candidates in the FTS5 index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FtsPlan {
    /// No constraint: every photo.
    All,
    /// Photos whose document matches.
    Matching(String),
    /// Photos whose document does not match.
    NotMatching(String),
}

/// Lower-cases, strips accents and splits text into index words, the way the FTS5 tokenizer
/// (`unicode61 remove_diacritics 2`) does.
pub fn fold_words(text: &str) -> Vec<String> {
    let folded: String = text
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
        .collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Phrase(String),
    Or,
    And,
    Not,
    Minus,
    Open,
    Close,
}

fn tokenize(input: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    s.push(c);
                }
                if !closed {
                    return Err(Error::Query("unclosed quote".into()));
                }
                out.push(Token::Phrase(s));
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '|' => {
                chars.next();
                out.push(Token::Or);
            }
            '-' => {
                chars.next();
                out.push(Token::Minus);
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '"' | '(' | ')' | '|') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(match s.as_str() {
                    "OR" => Token::Or,
                    "AND" => Token::And,
                    "NOT" => Token::Not,
                    _ => Token::Word(s),
                });
            }
        }
    }
    Ok(out)
}

fn parse_conf(word: &str) -> Result<Option<ConfFilter>> {
    let lower = word.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("conf")
        .or_else(|| lower.strip_prefix("confidence"))
    else {
        return Ok(None);
    };
    let (inclusive, num) = if let Some(n) = rest.strip_prefix(">=") {
        (true, n)
    } else if let Some(n) = rest.strip_prefix('>') {
        (false, n)
    } else {
        return Ok(None);
    };
    let value: f32 = num
        .parse()
        .map_err(|_| Error::Query(format!("'{word}': expected a number like conf>0.8")))?;
    let value = if value > 1.0 { value / 100.0 } else { value };
    if !(0.0..=1.0).contains(&value) {
        return Err(Error::Query(format!("'{word}': confidence must be 0..1")));
    }
    Ok(Some(ConfFilter { value, inclusive }))
}

/// Longest query accepted, in bytes: far above anything typed, far below what could hurt.
pub const MAX_QUERY_BYTES: usize = 4096;
/// Deepest nesting of parentheses and NOTs accepted (parsing, compiling and evaluating recurse
/// that deep).
pub const MAX_QUERY_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    min_conf: Option<ConfFilter>,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn or_expr(&mut self) -> Result<Option<Expr>> {
        let mut parts = Vec::new();
        if let Some(e) = self.and_expr()? {
            parts.push(e);
        }
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            match self.and_expr()? {
                Some(e) if !parts.is_empty() => parts.push(e),
                _ => return Err(Error::Query("OR needs a term on both sides".into())),
            }
        }
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::Or(parts)),
        })
    }

    fn and_expr(&mut self) -> Result<Option<Expr>> {
        let mut parts = Vec::new();
        loop {
            match self.peek() {
                None | Some(Token::Or) | Some(Token::Close) => break,
                Some(Token::And) => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            if let Some(e) = self.unary()? {
                parts.push(e);
            }
        }
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::And(parts)),
        })
    }

    /// Enters one level of nesting, refusing queries nested deeper than [`MAX_QUERY_DEPTH`].
    fn deeper(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_QUERY_DEPTH {
            return Err(Error::Query(format!(
                "the query is nested too deep (more than {MAX_QUERY_DEPTH} levels of parentheses \
                 and NOTs)"
            )));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Option<Expr>> {
        match self.peek() {
            Some(Token::Not) | Some(Token::Minus) => {
                self.pos += 1;
                self.deeper()?;
                let inner = self.unary();
                self.depth -= 1;
                match inner? {
                    Some(e) => Ok(Some(Expr::Not(Box::new(e)))),
                    None => Err(Error::Query("NOT / - needs a term after it".into())),
                }
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Option<Expr>> {
        let Some(tok) = self.tokens.get(self.pos).cloned() else {
            return Ok(None);
        };
        self.pos += 1;
        match tok {
            Token::Open => {
                self.deeper()?;
                let e = self.or_expr();
                self.depth -= 1;
                let e = e?;
                if self.peek() != Some(&Token::Close) {
                    return Err(Error::Query("missing ')'".into()));
                }
                self.pos += 1;
                Ok(e)
            }
            Token::Close => Err(Error::Query("unexpected ')'".into())),
            Token::Word(w) if tag_prefix(&w).is_some() => {
                let rest = &w[tag_prefix(&w).unwrap_or(0)..];
                let words = if rest.is_empty() {
                    match self.tokens.get(self.pos).cloned() {
                        Some(Token::Phrase(p)) => {
                            self.pos += 1;
                            fold_words(&p)
                        }
                        _ => Vec::new(),
                    }
                } else {
                    fold_words(rest)
                };
                if words.is_empty() {
                    return Err(Error::Query(
                        "tag: (or person:) needs a tag after it, like tag:dog, \
                         tag:\"sea anemone\" or person:Alice"
                            .into(),
                    ));
                }
                Ok(Some(Expr::Term(Term::Tag(words))))
            }
            Token::Word(w) => {
                if let Some(f) = parse_conf(&w)? {
                    self.min_conf = Some(f);
                    return Ok(None);
                }
                let words = fold_words(&w);
                Ok(match words.len() {
                    0 => None,
                    1 => words
                        .into_iter()
                        .next()
                        .map(|w| Expr::Term(Term::Prefix(w))),
                    // "t-shirt" is the phrase "t shirt".
                    _ => Some(Expr::Term(Term::Phrase(words))),
                })
            }
            Token::Phrase(p) => {
                let words = fold_words(&p);
                Ok(if words.is_empty() {
                    None
                } else {
                    Some(Expr::Term(Term::Phrase(words)))
                })
            }
            Token::Or | Token::And | Token::Not | Token::Minus => {
                Err(Error::Query("operator without a term".into()))
            }
        }
    }
}

/// Length of the `tag:` or `person:` prefix of a word (any case), if it has one. A person's
/// name is a tag of the photos showing them ([`super::faces`]), so `person:Alice` is the whole
/// tag `Alice`.
fn tag_prefix(w: &str) -> Option<usize> {
    ["tag:", "person:"].iter().find_map(|p| {
        w.get(..p.len())
            .filter(|head| head.eq_ignore_ascii_case(p))
            .map(|_| p.len())
    })
}

impl Query {
    /// Parses the query language described in the module docs.
    pub fn parse(input: &str) -> Result<Query> {
        if input.len() > MAX_QUERY_BYTES {
            return Err(Error::Query(format!(
                "the query is too long ({} bytes; at most {MAX_QUERY_BYTES})",
                input.len()
            )));
        }
        let mut p = Parser {
            tokens: tokenize(input)?,
            pos: 0,
            min_conf: None,
            depth: 0,
        };
        let expr = p.or_expr()?;
        if p.pos < p.tokens.len() {
            return Err(Error::Query("unexpected ')'".into()));
        }
        Ok(Query {
            expr,
            min_conf: p.min_conf,
        })
    }

    /// The FTS5 candidate plan: a superset of the exact answer, never missing a photo that
    /// [`Query::matches`] would accept (before the confidence filter).
    pub fn fts_plan(&self) -> FtsPlan {
        self.fts_plan_with(&|_| None)
    }

    /// Like [`Query::fts_plan`], with prefix terms expanded by `expand` into the exact index
    /// words they stand for (`None`: keep FTS5's own prefix syntax). Exact terms let FTS5 walk
    /// doclists lazily newest-first instead of materialising a merged prefix doclist.
    pub fn fts_plan_with(&self, expand: &dyn Fn(&str) -> Option<Vec<String>>) -> FtsPlan {
        match &self.expr {
            None => FtsPlan::All,
            Some(e) => match fts(e, expand) {
                Fts::Pos(s) => FtsPlan::Matching(s),
                Fts::Comp(s) => FtsPlan::NotMatching(s),
            },
        }
    }

    /// Exact evaluation against a photo's tags. Each tag is (its words, confidence), where the
    /// tags include the ancestors of every label (an ancestor carries its child's confidence).
    pub fn matches(&self, tags: &[(Vec<String>, f32)]) -> bool {
        let Some(e) = &self.expr else {
            return true;
        };
        let kept: Vec<&(Vec<String>, f32)> = tags
            .iter()
            .filter(|(_, c)| self.min_conf.is_none_or(|f| f.passes(*c)))
            .collect();
        eval(e, &kept)
    }

    /// Resolves each prefix term against the library's words (`is_word`): a word the library
    /// has becomes a whole-word term, a plural whose singular it has becomes that singular
    /// (`dogs`, `beaches`, `puppies`), anything else stays a prefix (a word being typed).
    pub fn resolve_words(&mut self, is_word: &dyn Fn(&str) -> bool) {
        fn walk(e: &mut Expr, is_word: &dyn Fn(&str) -> bool) {
            match e {
                Expr::Term(t) => {
                    if let Term::Prefix(p) = t
                        && let Some(w) = whole_word(p, is_word)
                    {
                        *t = Term::Word(w);
                    }
                }
                Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|e| walk(e, is_word)),
                Expr::Not(e) => walk(e, is_word),
            }
        }
        if let Some(e) = &mut self.expr {
            walk(e, is_word);
        }
    }

    /// The positive terms (not under an odd number of NOTs), used to report matched tags.
    pub fn positive_terms(&self) -> Vec<&Term> {
        let mut out = Vec::new();
        if let Some(e) = &self.expr {
            collect_terms(e, false, &mut out);
        }
        out
    }
}

/// The whole word a typed word stands for: itself, or a singular form of it.
fn whole_word(p: &str, is_word: &dyn Fn(&str) -> bool) -> Option<String> {
    if is_word(p) {
        return Some(p.to_string());
    }
    let singulars = [
        p.strip_suffix("ies").map(|s| format!("{s}y")),
        p.strip_suffix("es").map(str::to_string),
        p.strip_suffix('s').map(str::to_string),
    ];
    singulars
        .into_iter()
        .flatten()
        .find(|s| s.len() >= 2 && is_word(s))
}

fn collect_terms<'a>(e: &'a Expr, negated: bool, out: &mut Vec<&'a Term>) {
    match e {
        Expr::Term(t) if !negated => out.push(t),
        Expr::Term(_) => {}
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| collect_terms(e, negated, out)),
        Expr::Not(e) => collect_terms(e, !negated, out),
    }
}

impl Term {
    /// Whether a tag (as folded words) satisfies this term.
    pub fn matches_words(&self, words: &[String]) -> bool {
        match self {
            Term::Prefix(p) => words.iter().any(|w| w.starts_with(p.as_str())),
            Term::Word(x) => words.iter().any(|w| w == x),
            Term::Tag(t) => words == t.as_slice(),
            Term::Phrase(ph) => words
                .windows(ph.len())
                .any(|win| win.iter().zip(ph).all(|(a, b)| a == b)),
        }
    }

    fn to_fts(&self, expand: &dyn Fn(&str) -> Option<Vec<String>>) -> String {
        // Folded words hold only alphanumerics, so quoting them is always safe.
        match self {
            Term::Prefix(p) => match expand(p) {
                // No such word: an exact term that matches nothing.
                Some(words) if words.is_empty() => format!("\"{p}\""),
                Some(words) => words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" OR "),
                None => format!("\"{p}\"*"),
            },
            Term::Word(w) => format!("\"{w}\""),
            Term::Phrase(ws) | Term::Tag(ws) => format!("\"{}\"", ws.join(" ")),
        }
    }
}

fn eval(e: &Expr, tags: &[&(Vec<String>, f32)]) -> bool {
    match e {
        Expr::Term(t) => tags.iter().any(|(w, _)| t.matches_words(w)),
        Expr::And(v) => v.iter().all(|e| eval(e, tags)),
        Expr::Or(v) => v.iter().any(|e| eval(e, tags)),
        Expr::Not(e) => !eval(e, tags),
    }
}

enum Fts {
    Pos(String),
    Comp(String),
}

/// Compiles an expression to FTS5 syntax. FTS5 cannot express a purely negative query, so
/// each sub-expression is either "documents matching m" or "documents not matching m", and the
/// boolean algebra below keeps it that way.
fn fts(e: &Expr, expand: &dyn Fn(&str) -> Option<Vec<String>>) -> Fts {
    let sub = |e: &Expr| fts(e, expand);
    match e {
        Expr::Term(t) => Fts::Pos(t.to_fts(expand)),
        Expr::Not(e) => match sub(e) {
            Fts::Pos(s) => Fts::Comp(s),
            Fts::Comp(s) => Fts::Pos(s),
        },
        Expr::And(v) => v
            .iter()
            .map(sub)
            .reduce(|a, b| match (a, b) {
                (Fts::Pos(a), Fts::Pos(b)) => Fts::Pos(format!("({a}) AND ({b})")),
                (Fts::Pos(a), Fts::Comp(b)) | (Fts::Comp(b), Fts::Pos(a)) => {
                    Fts::Pos(format!("({a}) NOT ({b})"))
                }
                (Fts::Comp(a), Fts::Comp(b)) => Fts::Comp(format!("({a}) OR ({b})")),
            })
            .unwrap_or_else(|| Fts::Pos(String::new())),
        Expr::Or(v) => v
            .iter()
            .map(sub)
            .reduce(|a, b| match (a, b) {
                (Fts::Pos(a), Fts::Pos(b)) => Fts::Pos(format!("({a}) OR ({b})")),
                (Fts::Pos(a), Fts::Comp(b)) | (Fts::Comp(b), Fts::Pos(a)) => {
                    Fts::Comp(format!("({b}) NOT ({a})"))
                }
                (Fts::Comp(a), Fts::Comp(b)) => Fts::Comp(format!("({a}) AND ({b})")),
            })
            .unwrap_or_else(|| Fts::Pos(String::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[(&str, f32)]) -> Vec<(Vec<String>, f32)> {
        list.iter().map(|(t, c)| (fold_words(t), *c)).collect()
    }

    #[test]
    fn words_fold_case_and_accents() {
        assert_eq!(fold_words("Café Crème"), vec!["cafe", "creme"]);
        assert_eq!(
            fold_words("traffic_light, T-Shirt"),
            vec!["traffic", "light", "t", "shirt"]
        );
    }

    #[test]
    fn implicit_and_with_prefix() {
        let q = Query::parse("do ca").unwrap();
        assert!(q.matches(&tags(&[("dog", 0.9), ("cat", 0.9)])));
        assert!(!q.matches(&tags(&[("dog", 0.9)])));
        assert_eq!(
            q.fts_plan(),
            FtsPlan::Matching("(\"do\"*) AND (\"ca\"*)".into())
        );
    }

    #[test]
    fn or_not_and_minus() {
        let q = Query::parse("cat OR dog -person").unwrap();
        assert!(q.matches(&tags(&[("cat", 0.9), ("person", 0.9)])));
        assert!(q.matches(&tags(&[("dog", 0.9)])));
        assert!(!q.matches(&tags(&[("dog", 0.9), ("person", 0.9)])));
        let q2 = Query::parse("cat OR dog NOT person").unwrap();
        assert_eq!(q, q2);
    }

    #[test]
    fn phrases_are_consecutive_words() {
        let q = Query::parse("\"traffic light\"").unwrap();
        assert!(q.matches(&tags(&[("traffic light", 0.9)])));
        assert!(!q.matches(&tags(&[("light", 0.9), ("traffic", 0.9)])));
        assert!(!q.matches(&tags(&[("light traffic", 0.9)])));
    }

    #[test]
    fn a_whole_word_the_library_has_is_not_a_prefix() {
        let library = ["cat", "catamaran", "cattle", "dog", "beach", "puppy", "bus"];
        let is_word = |w: &str| library.contains(&w);
        let mut q = Query::parse("cat").unwrap();
        q.resolve_words(&is_word);
        assert!(q.matches(&tags(&[("tiger cat", 0.9)])));
        assert!(!q.matches(&tags(&[("catamaran", 0.9)])));
        assert!(!q.matches(&tags(&[("cattle", 0.9)])));
        // Plurals find the singular the library has.
        for (typed, tag) in [("dogs", "dog"), ("beaches", "beach"), ("puppies", "puppy")] {
            let mut q = Query::parse(typed).unwrap();
            q.resolve_words(&is_word);
            assert_eq!(q.expr, Some(Expr::Term(Term::Word(tag.into()))), "{typed}");
            assert!(q.matches(&tags(&[(tag, 0.9)])), "{typed}");
        }
        let mut q = Query::parse("buses").unwrap();
        q.resolve_words(&is_word);
        assert!(q.matches(&tags(&[("bus", 0.9)])));
        // A half-typed word still finds by prefix, inside NOT and OR too.
        let mut q = Query::parse("catam OR -do").unwrap();
        q.resolve_words(&is_word);
        assert!(q.matches(&tags(&[("catamaran", 0.9)])));
        assert!(q.matches(&tags(&[("cattle", 0.9)])));
        assert!(!q.matches(&tags(&[("dog", 0.9)])));
        let mut q = Query::parse("cat").unwrap();
        q.resolve_words(&is_word);
        assert_eq!(q.fts_plan(), FtsPlan::Matching("\"cat\"".into()));
    }

    #[test]
    fn tag_terms_match_the_whole_tag_only() {
        let q = Query::parse("tag:car").unwrap();
        assert_eq!(q.expr, Some(Expr::Term(Term::Tag(vec!["car".into()]))));
        assert!(q.matches(&tags(&[("car", 0.9)])));
        assert!(!q.matches(&tags(&[("passenger car", 0.9)])));
        let q = Query::parse("tag:\"sea anemone\" -tag:fish").unwrap();
        assert!(q.matches(&tags(&[("sea anemone", 0.9)])));
        assert!(!q.matches(&tags(&[("sea anemone", 0.9), ("fish", 0.9)])));
        assert!(q.matches(&tags(&[("sea anemone", 0.9), ("fish tank", 0.9)])));
        assert_eq!(
            Query::parse("tag:sea").unwrap().fts_plan(),
            FtsPlan::Matching("\"sea\"".into())
        );
        assert!(Query::parse("tag:").is_err());
        assert_eq!(
            Query::parse("TAG:\"x y\"").unwrap().expr,
            Some(Expr::Term(Term::Tag(vec!["x".into(), "y".into()])))
        );
    }

    #[test]
    fn person_terms_are_whole_tags() {
        let q = Query::parse("person:Alice beach -Person:\"Bob Smith\"").unwrap();
        assert!(q.matches(&tags(&[("Alice", 1.0), ("beach", 0.8)])));
        assert!(!q.matches(&tags(&[("Alice", 1.0), ("beach", 0.8), ("Bob Smith", 1.0)])));
        assert!(!q.matches(&tags(&[("Alicea", 1.0), ("beach", 0.8)])));
        assert!(Query::parse("person:").is_err());
        // A multi-byte character where the prefix would end is a plain word, not a panic.
        assert!(Query::parse("perso\u{e9}n:x").is_ok());
    }

    #[test]
    fn hostile_queries_are_refused_cleanly() {
        // 10,000 levels deep would overflow the stack of a naive recursive parser.
        let deep = format!("{}dog{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = Query::parse(&deep).unwrap_err().to_string();
        assert!(
            err.contains("too long") || err.contains("too deep"),
            "{err}"
        );
        let nots = format!("{}dog", "NOT ".repeat(1_000));
        assert!(
            Query::parse(&nots)
                .unwrap_err()
                .to_string()
                .contains("too deep")
        );
        let parens = format!("{}dog{}", "(".repeat(1_000), ")".repeat(1_000));
        assert!(
            Query::parse(&parens)
                .unwrap_err()
                .to_string()
                .contains("too deep")
        );
        let long = "dog ".repeat(250_000);
        assert!(
            Query::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
        // At the limit it still works, and evaluates.
        let ok = format!(
            "{}dog{}",
            "(".repeat(MAX_QUERY_DEPTH),
            ")".repeat(MAX_QUERY_DEPTH)
        );
        assert!(Query::parse(&ok).unwrap().matches(&tags(&[("dog", 0.9)])));
        let mixed =
            format!("{}dog", "-(".repeat(MAX_QUERY_DEPTH / 2)) + &")".repeat(MAX_QUERY_DEPTH / 2);
        assert!(Query::parse(&mixed).is_ok());
    }

    #[test]
    fn conf_filter_applies_to_tags() {
        let q = Query::parse("dog conf>0.8").unwrap();
        assert!(q.matches(&tags(&[("dog", 0.85)])));
        assert!(!q.matches(&tags(&[("dog", 0.8)])));
        let q = Query::parse("dog conf>=0.8").unwrap();
        assert!(q.matches(&tags(&[("dog", 0.8)])));
        assert!(Query::parse("dog conf>x").is_err());
    }

    #[test]
    fn purely_negative_query_is_a_complement() {
        let q = Query::parse("-person").unwrap();
        assert_eq!(q.fts_plan(), FtsPlan::NotMatching("\"person\"*".into()));
        assert!(q.matches(&tags(&[("cat", 0.9)])));
        assert!(!q.matches(&tags(&[("person", 0.9)])));
        // cat OR -dog == NOT (dog NOT cat)
        let q = Query::parse("cat OR -dog").unwrap();
        assert_eq!(
            q.fts_plan(),
            FtsPlan::NotMatching("(\"dog\"*) NOT (\"cat\"*)".into())
        );
    }

    #[test]
    fn grouping_and_errors() {
        let q = Query::parse("(cat OR dog) grass").unwrap();
        assert!(q.matches(&tags(&[("dog", 0.9), ("grass", 0.6)])));
        assert!(!q.matches(&tags(&[("grass", 0.6)])));
        assert!(Query::parse("(cat").is_err());
        assert!(Query::parse("cat)").is_err());
        assert!(Query::parse("\"open").is_err());
        assert!(Query::parse("OR cat").is_err());
        assert!(Query::parse("cat -").is_err());
        assert_eq!(Query::parse("  ").unwrap().fts_plan(), FtsPlan::All);
    }

    #[test]
    fn prefixes_expand_to_exact_words() {
        let q = Query::parse("do -cat").unwrap();
        let expand = |p: &str| (p == "do").then(|| vec!["dog".to_string(), "dome".to_string()]);
        assert_eq!(
            q.fts_plan_with(&expand),
            FtsPlan::Matching("(\"dog\" OR \"dome\") NOT (\"cat\"*)".into())
        );
        let none = |_: &str| Some(vec![]);
        assert_eq!(
            Query::parse("zz").unwrap().fts_plan_with(&none),
            FtsPlan::Matching("\"zz\"".into())
        );
    }

    #[test]
    fn fts_injection_is_impossible() {
        // Quotes, stars and column filters in user input never reach FTS5 raw.
        let q = Query::parse("tags:x* NEAR(a b)").unwrap();
        let FtsPlan::Matching(m) = q.fts_plan() else {
            panic!("expected a positive plan");
        };
        assert!(!m.contains(':'), "{m}");
    }
}
