//! A small XML tree for XMP packets, read and written with `quick-xml`: just enough structure
//! to change a few properties of a sidecar written by another program and write everything
//! else back as it was (elements, attributes, text, comments, the `<?xpacket?>` wrappers).
//!
//! Names stay as written (`dc:subject`); [`Scope`] resolves prefixes to namespace URIs, so a
//! packet that binds Dublin Core to `ns1:` reads the same as one that uses `dc:`. Parsing is
//! strict: mismatched or unclosed tags, unknown entities or a second root element are errors,
//! and a file that fails to parse is never rewritten. Nesting deeper than [`MAX_DEPTH`] is an
//! error too: the tree is cloned, searched, written and dropped recursively, and a small
//! hostile sidecar nested a hundred thousand deep would overflow a scan thread's stack.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    /// Character data, unescaped.
    Text(String),
    /// A CDATA section's content.
    CData(String),
    /// A comment, as written.
    Comment(String),
    /// A processing instruction (`<?xpacket ...?>`) or the XML declaration, as written
    /// between `<?` and `?>`.
    Pi(String),
    /// A `<!DOCTYPE ...>` declaration, as written.
    DocType(String),
}

/// An element: its qualified name as written, its attributes (values unescaped) in order, and
/// its children.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

/// A parsed document: the top-level nodes, exactly one of them an element.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub nodes: Vec<Node>,
}

/// Why a packet could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl Element {
    /// An element with a name and no attributes or children.
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            ..Default::default()
        }
    }

    /// The value of an attribute by its name as written.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The text and CDATA directly inside, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) | Node::CData(t) = n {
                out.push_str(t);
            }
        }
        out
    }
}

/// Prefix → namespace URI bindings in force at an element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    bindings: HashMap<String, String>,
}

impl Scope {
    /// The bindings inside `e`: these plus the `xmlns` / `xmlns:p` attributes `e` declares. A
    /// declaration whose prefix is not a name (`xmlns:a:b`, `xmlns:`) binds nothing: taken as
    /// a prefix, we would write element names that read back differently.
    pub fn enter(&self, e: &Element) -> Scope {
        let mut next = self.clone();
        for (k, v) in &e.attrs {
            if k == "xmlns" {
                next.bindings.insert(String::new(), v.clone());
            } else if let Some(p) = k.strip_prefix("xmlns:").filter(|p| is_ncname(p)) {
                next.bindings.insert(p.to_string(), v.clone());
            }
        }
        next
    }

    /// The namespace URI and local part of an element name (`default` says whether an
    /// unprefixed name takes the default namespace, as element names do and attributes don't).
    pub fn resolve<'n>(&self, qname: &'n str, default: bool) -> (Option<&str>, &'n str) {
        match qname.split_once(':') {
            Some((p, local)) => (self.bindings.get(p).map(String::as_str), local),
            None if default => (self.bindings.get("").map(String::as_str), qname),
            None => (None, qname),
        }
    }

    /// Whether an element name is `{ns}local`.
    pub fn is(&self, qname: &str, ns: &str, local: &str) -> bool {
        self.resolve(qname, true) == (Some(ns), local)
    }

    /// Whether an attribute name is `{ns}local`.
    pub fn attr_is(&self, qname: &str, ns: &str, local: &str) -> bool {
        self.resolve(qname, false) == (Some(ns), local)
    }

    /// A prefix bound to `ns` here, if any (the lowest one, for stable output).
    pub fn prefix_of(&self, ns: &str) -> Option<&str> {
        self.bindings
            .iter()
            .filter(|(p, uri)| uri.as_str() == ns && !p.is_empty())
            .map(|(p, _)| p.as_str())
            .min()
    }

    /// Whether `prefix` is bound (to anything).
    pub fn is_bound(&self, prefix: &str) -> bool {
        self.bindings.contains_key(prefix)
    }
}

/// Whether `s` can be a namespace prefix (an XML name without a colon; non-ASCII letters
/// allowed).
pub fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn err(msg: impl std::fmt::Display) -> ParseError {
    ParseError(msg.to_string())
}

/// Deepest element nesting accepted (a real XMP packet nests under ten levels).
pub const MAX_DEPTH: usize = 256;

/// Parses a packet (UTF-8 text; a byte-order mark and surrounding whitespace are allowed).
pub fn parse(text: &str) -> Result<Document, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    // Attribute values keep their whitespace; empty elements come as `Empty`.
    let mut stack: Vec<Element> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    let mut roots = 0usize;
    fn push(stack: &mut [Element], top: &mut Vec<Node>, node: Node) {
        match stack.last_mut() {
            Some(parent) => {
                // Adjacent text (split around entity references) becomes one node.
                if let (Node::Text(t), Some(Node::Text(prev))) = (&node, parent.children.last_mut())
                {
                    prev.push_str(t);
                    return;
                }
                parent.children.push(node)
            }
            None => top.push(node),
        }
    }
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| err(format_args!("{e} (at byte {at})")))?;
        match event {
            Event::Start(s) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format_args!(
                        "elements nested more than {MAX_DEPTH} deep at byte {at}"
                    )));
                }
                stack.push(start_element(&s)?)
            }
            Event::Empty(s) => {
                let e = start_element(&s)?;
                if stack.is_empty() {
                    roots += 1;
                }
                push(&mut stack, &mut top, Node::Element(e));
            }
            Event::End(_) => {
                // quick-xml checks that the end name matches the open element.
                let Some(done) = stack.pop() else {
                    return Err(err(format_args!("unexpected end tag at byte {at}")));
                };
                if stack.is_empty() {
                    roots += 1;
                }
                push(&mut stack, &mut top, Node::Element(done));
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(err)?.into_owned();
                if stack.is_empty() {
                    if !s.trim().is_empty() {
                        return Err(err(format_args!("text outside the root at byte {at}")));
                    }
                    top.push(Node::Text(s));
                } else {
                    push(&mut stack, &mut top, Node::Text(s));
                }
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(err)?
                } else {
                    match r.decode().map_err(err)?.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    }
                };
                let Some(c) = c else {
                    return Err(err(format_args!("unknown entity at byte {at}")));
                };
                if stack.is_empty() {
                    return Err(err(format_args!("text outside the root at byte {at}")));
                }
                push(&mut stack, &mut top, Node::Text(c.to_string()));
            }
            Event::CData(c) => {
                let s = String::from_utf8(c.into_inner().into_owned()).map_err(err)?;
                push(&mut stack, &mut top, Node::CData(s));
            }
            Event::Comment(c) => push(&mut stack, &mut top, Node::Comment(raw(&c)?)),
            Event::Decl(d) => push(&mut stack, &mut top, Node::Pi(raw(&d)?)),
            Event::PI(p) => push(&mut stack, &mut top, Node::Pi(raw(&p)?)),
            Event::DocType(d) => push(&mut stack, &mut top, Node::DocType(raw(&d)?)),
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(format_args!("unclosed element <{}>", open.name)));
    }
    match roots {
        1 => Ok(Document { nodes: top }),
        0 => Err(err("no root element")),
        n => Err(err(format_args!("{n} root elements"))),
    }
}

fn raw(bytes: &[u8]) -> Result<String, ParseError> {
    std::str::from_utf8(bytes).map(str::to_string).map_err(err)
}

fn start_element(s: &BytesStart<'_>) -> Result<Element, ParseError> {
    let mut e = Element::new(raw(s.name().as_ref())?);
    for a in s.attributes() {
        let a = a.map_err(err)?;
        let key = raw(a.key.as_ref())?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(err)?
            .into_owned();
        e.attrs.push((key, value));
    }
    Ok(e)
}

/// Writes a document back as UTF-8 text.
pub fn write(doc: &Document) -> String {
    let mut w = Writer::new(Vec::new());
    for n in &doc.nodes {
        write_node(&mut w, n);
    }
    // Everything written came from `String`s.
    String::from_utf8_lossy(&w.into_inner()).into_owned()
}

fn write_node(w: &mut Writer<Vec<u8>>, n: &Node) {
    // Writing into a Vec cannot fail; the results are ignored on purpose.
    match n {
        Node::Element(e) => {
            let mut start = BytesStart::new(e.name.as_str());
            for (k, v) in &e.attrs {
                start.push_attribute((k.as_str(), v.as_str()));
            }
            if e.children.is_empty() {
                let _ = w.write_event(Event::Empty(start));
            } else {
                let _ = w.write_event(Event::Start(start));
                for c in &e.children {
                    write_node(w, c);
                }
                let _ = w.write_event(Event::End(BytesEnd::new(e.name.as_str())));
            }
        }
        Node::Text(t) => {
            let _ = w.write_event(Event::Text(BytesText::new(t)));
        }
        Node::CData(t) => {
            let out = w.get_mut();
            // A CDATA section cannot contain "]]>": split it across two sections.
            out.extend_from_slice(b"<![CDATA[");
            out.extend_from_slice(t.replace("]]>", "]]]]><![CDATA[>").as_bytes());
            out.extend_from_slice(b"]]>");
        }
        Node::Comment(c) => raw_out(w, "<!--", c, "-->"),
        Node::Pi(p) => raw_out(w, "<?", p, "?>"),
        Node::DocType(d) => raw_out(w, "<!DOCTYPE ", d, ">"),
    }
}

fn raw_out(w: &mut Writer<Vec<u8>>, open: &str, body: &str, close: &str) {
    let out = w.get_mut();
    out.extend_from_slice(open.as_bytes());
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(close.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_round_trips_with_its_wrappers_comments_and_entities() {
        let text = "<?xpacket begin='\u{feff}' id='W5M0MpCehiHzreSzNTczkc9d'?>\n\
            <x:xmpmeta xmlns:x='adobe:ns:meta/'><!-- kept -->\
            <rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>\
            <rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/' \
            dc:format='image/jpeg'><dc:title>Fish &amp; chips &#x263A;</dc:title>\
            </rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end='w'?>";
        let doc = parse(text).unwrap();
        let again = parse(&write(&doc)).unwrap();
        assert_eq!(doc, again);
        let out = write(&doc);
        assert!(
            out.starts_with("<?xpacket begin=\"\u{feff}\"") || out.starts_with("<?xpacket begin='")
        );
        assert!(out.contains("<!-- kept -->"), "{out}");
        assert!(out.contains("Fish &amp; chips \u{263A}"), "{out}");
        assert!(out.ends_with("<?xpacket end='w'?>"), "{out}");
    }

    /// Found while writing the `xmp` fuzz target (`fuzz/regressions/xmp/`): 100,000 nested
    /// elements (700 KB) parsed fine and then overflowed the stack when the tree was cloned,
    /// searched or dropped recursively (a stack overflow aborts the whole process, here with
    /// the limit removed: "thread has overflowed its stack"). Now refused while parsing.
    #[test]
    fn an_xmp_packet_nested_100k_deep_is_refused_not_a_stack_overflow() {
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        let e = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || parse(&deep).unwrap_err())
            .unwrap()
            .join()
            .unwrap();
        assert!(e.0.contains("nested more than 256 deep"), "{e}");
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn broken_xml_is_an_error() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "<a/><b/>",
            "not xml at all",
            "<a>&nbsp;</a>",
            "",
            "<a x='1' x='2'/>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn prefixes_resolve_through_the_scope() {
        let doc = parse("<r xmlns:p='urn:a' xmlns='urn:d'><p:x xmlns:p='urn:b' p:y='1'/><z/></r>")
            .unwrap();
        let Node::Element(root) = &doc.nodes[0] else {
            panic!()
        };
        let scope = Scope::default().enter(root);
        assert!(scope.is("p:x", "urn:a", "x"));
        assert!(scope.is("z", "urn:d", "z"));
        assert!(!scope.attr_is("z", "urn:d", "z"));
        let x = root.elements().next().unwrap();
        let inner = scope.enter(x);
        assert!(inner.is(&x.name, "urn:b", "x"));
        assert!(inner.attr_is("p:y", "urn:b", "y"));
        assert_eq!(inner.prefix_of("urn:b"), Some("p"));
        assert_eq!(inner.prefix_of("urn:a"), None);
    }
}
