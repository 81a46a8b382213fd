//! Merging our tags into an XMP packet without clobbering what other programs wrote: every
//! other property, and the foreign entries of the keyword properties we write, stay as they
//! were; only our own entries are replaced.
//!
//! Our entries are recognised as: keyword paths under our root (`photolabel/…` in
//! `digiKam:TagsList`, `photolabel|…` in `lr:hierarchicalSubject`), and flat `dc:subject`
//! words listed in our own property `photolabel:subjects` (the words we added, so that a word
//! someone else also wrote is never taken away). [`Fields`] reads the keyword properties from
//! any `rdf:Description` in either form (attribute or `rdf:Bag`/`rdf:Seq` element), whatever
//! prefix the packet binds the namespaces to; [`merge`] rewrites them; [`foreign_keywords`] is
//! what the scanner imports from a sidecar.

use super::dom::{Document, Element, Node, Scope};
use super::{DC_NS, DIGIKAM_NS, LR_NS, OUR_NS, RDF_NS, ROOT_TAG};

/// Our tags for one photo: flat words, and category paths from the top down (without our
/// root), e.g. `["animal", "pet", "dog"]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OurTags {
    pub flat: Vec<String>,
    pub paths: Vec<Vec<String>>,
}

/// One keyword property we read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prop {
    Subject,
    TagsList,
    Hierarchical,
    /// Our record of the `dc:subject` words we added.
    Ours,
}

impl Prop {
    const ALL: [Prop; 4] = [
        Prop::Subject,
        Prop::TagsList,
        Prop::Hierarchical,
        Prop::Ours,
    ];

    fn ns(self) -> &'static str {
        match self {
            Prop::Subject => DC_NS,
            Prop::TagsList => DIGIKAM_NS,
            Prop::Hierarchical => LR_NS,
            Prop::Ours => OUR_NS,
        }
    }

    fn local(self) -> &'static str {
        match self {
            Prop::Subject => "subject",
            Prop::TagsList => "TagsList",
            Prop::Hierarchical => "hierarchicalSubject",
            Prop::Ours => "subjects",
        }
    }

    /// The prefix we declare when the packet has none for the namespace.
    fn prefix(self) -> &'static str {
        match self {
            Prop::Subject => "dc",
            Prop::TagsList => "digiKam",
            Prop::Hierarchical => "lr",
            Prop::Ours => "photolabel",
        }
    }

    /// The RDF container the property holds (as digiKam, Lightroom and ExifTool write them).
    fn container(self) -> &'static str {
        match self {
            Prop::TagsList => "Seq",
            _ => "Bag",
        }
    }

    /// Separator of a hierarchical path.
    fn separator(self) -> Option<char> {
        match self {
            Prop::TagsList => Some('/'),
            Prop::Hierarchical => Some('|'),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The keyword properties of a packet, merged over all its `rdf:Description`s, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    values: [Vec<String>; 4],
}

impl Fields {
    fn get(&self, p: Prop) -> &[String] {
        &self.values[p.index()]
    }

    fn add(&mut self, p: Prop, v: String) {
        let list = &mut self.values[p.index()];
        if !v.is_empty() && !list.contains(&v) {
            list.push(v);
        }
    }

    /// Whether a path entry is one of ours.
    fn is_ours_path(p: Prop, entry: &str) -> bool {
        let Some(sep) = p.separator() else {
            return false;
        };
        entry == ROOT_TAG
            || entry
                .strip_prefix(ROOT_TAG)
                .is_some_and(|rest| rest.starts_with(sep))
    }

    /// The `dc:subject` words and paths other programs wrote (ours left out).
    fn foreign(&self, p: Prop) -> Vec<String> {
        let ours = self.get(Prop::Ours);
        self.get(p)
            .iter()
            .filter(|v| match p {
                Prop::Subject => !ours.contains(v),
                Prop::Ours => false,
                _ => !Self::is_ours_path(p, v),
            })
            .cloned()
            .collect()
    }
}

/// Why a packet cannot take our tags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no rdf:RDF element: not an XMP packet")]
    NoRdf,
}

/// Path (child indices) of the first `rdf:RDF` element, and the scope inside it.
fn find_rdf(nodes: &[Node], scope: &Scope) -> Option<(Vec<usize>, Scope)> {
    for (i, n) in nodes.iter().enumerate() {
        let Node::Element(e) = n else { continue };
        let inner = scope.enter(e);
        if inner.is(&e.name, RDF_NS, "RDF") {
            return Some((vec![i], inner));
        }
        if let Some((mut path, s)) = find_rdf(&e.children, &inner) {
            path.insert(0, i);
            return Some((path, s));
        }
    }
    None
}

fn element_at<'d>(nodes: &'d mut [Node], path: &[usize]) -> Option<&'d mut Element> {
    let (first, rest) = path.split_first()?;
    let Some(Node::Element(e)) = nodes.get_mut(*first) else {
        return None;
    };
    if rest.is_empty() {
        Some(e)
    } else {
        element_at(&mut e.children, rest)
    }
}

/// The entries of a property element: the `rdf:li` of its container, or its text.
fn entries(prop: &Element, scope: &Scope) -> Vec<String> {
    let scope = scope.enter(prop);
    let mut out = Vec::new();
    let mut containers = 0;
    for c in prop.elements() {
        let cs = scope.enter(c);
        if ["Bag", "Seq", "Alt"]
            .iter()
            .any(|k| cs.is(&c.name, RDF_NS, k))
        {
            containers += 1;
            for li in c.elements() {
                if cs.enter(li).is(&li.name, RDF_NS, "li") {
                    out.push(li.text().trim().to_string());
                }
            }
        }
    }
    if containers == 0 {
        let t = prop.text();
        if !t.trim().is_empty() {
            out.push(t.trim().to_string());
        }
    }
    out
}

/// Reads (and with `take`, removes) the keyword properties of one `rdf:Description`.
fn collect(desc: &mut Element, scope: &Scope, fields: &mut Fields, take: bool) {
    let scope = scope.enter(desc);
    let mut keep_attrs = Vec::with_capacity(desc.attrs.len());
    for (k, v) in std::mem::take(&mut desc.attrs) {
        match Prop::ALL
            .iter()
            .find(|p| scope.attr_is(&k, p.ns(), p.local()))
        {
            Some(p) => {
                fields.add(*p, v.trim().to_string());
                if !take {
                    keep_attrs.push((k, v));
                }
            }
            None => keep_attrs.push((k, v)),
        }
    }
    desc.attrs = keep_attrs;
    let mut kept = Vec::with_capacity(desc.children.len());
    for n in std::mem::take(&mut desc.children) {
        let prop = match &n {
            Node::Element(e) => Prop::ALL
                .iter()
                .find(|p| scope.enter(e).is(&e.name, p.ns(), p.local())),
            _ => None,
        };
        match (prop, &n) {
            (Some(p), Node::Element(e)) => {
                for v in entries(e, &scope) {
                    fields.add(*p, v);
                }
                if !take {
                    kept.push(n);
                } else if matches!(kept.last(), Some(Node::Text(t)) if t.trim().is_empty()) {
                    // The indentation before the property goes with it.
                    kept.pop();
                }
            }
            _ => kept.push(n),
        }
    }
    desc.children = kept;
}

/// The `rdf:Description`s directly under `rdf:RDF`: their indices.
fn descriptions(rdf: &Element, scope: &Scope) -> Vec<usize> {
    rdf.children
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n {
            Node::Element(e) if scope.enter(e).is(&e.name, RDF_NS, "Description") => Some(i),
            _ => None,
        })
        .collect()
}

/// Reads the keyword properties of a packet without changing it.
pub fn read_fields(doc: &Document) -> Fields {
    let mut doc = doc.clone();
    let mut fields = Fields::default();
    let Some((path, scope)) = find_rdf(&doc.nodes, &Scope::default()) else {
        return fields;
    };
    let Some(rdf) = element_at(&mut doc.nodes, &path) else {
        return fields;
    };
    for i in descriptions(rdf, &scope) {
        if let Some(Node::Element(d)) = rdf.children.get_mut(i) {
            collect(d, &scope, &mut fields, false);
        }
    }
    fields
}

/// Keywords other programs wrote in a packet (`dc:subject` words, and the leaves of
/// `digiKam:TagsList` / `lr:hierarchicalSubject` paths), ours left out, first spelling of each
/// (case-insensitive) in order.
pub fn foreign_keywords(doc: &Document) -> Vec<String> {
    let fields = read_fields(doc);
    let mut out: Vec<String> = Vec::new();
    let mut push = |w: &str| {
        let w = w.trim();
        if !w.is_empty() && !out.iter().any(|o| o.to_lowercase() == w.to_lowercase()) {
            out.push(w.to_string());
        }
    };
    for w in fields.foreign(Prop::Subject) {
        push(&w);
    }
    for p in [Prop::TagsList, Prop::Hierarchical] {
        let sep = p.separator().unwrap_or('/');
        for path in fields.foreign(p) {
            if let Some(leaf) = path.rsplit(sep).next() {
                push(leaf);
            }
        }
    }
    out
}

/// Replaces our earlier tags in `doc` with `tags`, keeping everything else. The merged
/// properties go into the `rdf:Description` that held `dc:subject` (else the first one, else
/// a new one), declaring the namespaces they need there.
pub fn merge(doc: &mut Document, tags: &OurTags) -> Result<(), MergeError> {
    let (path, scope) = find_rdf(&doc.nodes, &Scope::default()).ok_or(MergeError::NoRdf)?;
    let rdf = element_at(&mut doc.nodes, &path).ok_or(MergeError::NoRdf)?;
    let mut descs = descriptions(rdf, &scope);
    let mut fields = Fields::default();
    let mut target = None;
    for &i in &descs {
        if let Some(Node::Element(d)) = rdf.children.get_mut(i) {
            let before = fields.get(Prop::Subject).len();
            collect(d, &scope, &mut fields, true);
            if target.is_none() && fields.get(Prop::Subject).len() > before {
                target = Some(i);
            }
        }
    }
    if descs.is_empty() {
        let rdf_prefix = scope.prefix_of(RDF_NS).unwrap_or("rdf").to_string();
        let mut d = Element::new(format!("{rdf_prefix}:Description"));
        d.attrs.push((format!("{rdf_prefix}:about"), String::new()));
        rdf.children.push(Node::Element(d));
        descs.push(rdf.children.len() - 1);
    }
    let target = target.or(descs.first().copied()).ok_or(MergeError::NoRdf)?;
    let Some(Node::Element(desc)) = rdf.children.get_mut(target) else {
        return Err(MergeError::NoRdf);
    };

    // Foreign entries first, as they were; then ours.
    let mut subject = fields.foreign(Prop::Subject);
    let mut added = Vec::new();
    for w in &tags.flat {
        if !subject.iter().any(|s| s.to_lowercase() == w.to_lowercase()) {
            subject.push(w.clone());
            added.push(w.clone());
        }
    }
    let mut tags_list = fields.foreign(Prop::TagsList);
    let mut hier = fields.foreign(Prop::Hierarchical);
    for p in &tags.paths {
        let mut full = vec![ROOT_TAG.to_string()];
        full.extend(p.iter().cloned());
        tags_list.push(full.join("/"));
        hier.push(full.join("|"));
    }
    let inner_scope = scope.enter(desc);
    let rdf_prefix = inner_scope.prefix_of(RDF_NS).unwrap_or("rdf").to_string();
    let indent = indent_of(desc);
    for (prop, values) in [
        (Prop::Subject, subject),
        (Prop::TagsList, tags_list),
        (Prop::Hierarchical, hier),
        (Prop::Ours, added),
    ] {
        if values.is_empty() {
            continue;
        }
        let prefix = prefix_for(desc, &scope, prop);
        let mut container = Element::new(format!("{rdf_prefix}:{}", prop.container()));
        for v in values {
            let mut li = Element::new(format!("{rdf_prefix}:li"));
            li.children.push(Node::Text(v));
            container.children.push(Node::Text(format!("{indent}   ")));
            container.children.push(Node::Element(li));
        }
        container.children.push(Node::Text(format!("{indent}  ")));
        let mut el = Element::new(format!("{prefix}:{}", prop.local()));
        el.children.push(Node::Text(format!("{indent}  ")));
        el.children.push(Node::Element(container));
        el.children.push(Node::Text(format!("{indent} ")));
        // Before the closing whitespace of the description, if any.
        let at = match desc.children.last() {
            Some(Node::Text(t)) if t.trim().is_empty() => desc.children.len() - 1,
            _ => desc.children.len(),
        };
        desc.children.insert(at, Node::Text(format!("{indent} ")));
        desc.children.insert(at + 1, Node::Element(el));
    }
    Ok(())
}

/// The newline-and-spaces that precede the description's children (or a default).
fn indent_of(desc: &Element) -> String {
    desc.children
        .iter()
        .find_map(|n| match n {
            Node::Text(t) if t.trim().is_empty() && t.contains('\n') => {
                let i = t.rfind('\n').unwrap_or(0);
                let s = &t[i..];
                // One space less than the children: we add it back per level.
                Some(s.strip_suffix(' ').unwrap_or(s).to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| "\n   ".to_string())
}

/// The prefix to write `prop` with in `desc`: one already bound to its namespace, else a new
/// declaration on `desc` (its usual prefix, or a numbered one when that is taken: bound, or
/// used unbound inside `desc`, whose elements the declaration would otherwise capture).
fn prefix_for(desc: &mut Element, rdf_scope: &Scope, prop: Prop) -> String {
    let scope = rdf_scope.enter(desc);
    if let Some(p) = scope.prefix_of(prop.ns()) {
        return p.to_string();
    }
    let mut prefix = prop.prefix().to_string();
    let mut n = 1;
    while scope.is_bound(&prefix) || uses_prefix(desc, &prefix) {
        prefix = format!("{}{n}", prop.prefix());
        n += 1;
    }
    desc.attrs
        .push((format!("xmlns:{prefix}"), prop.ns().to_string()));
    prefix
}

/// Whether `e` or anything inside it names an element or attribute with `prefix:`.
fn uses_prefix(e: &Element, prefix: &str) -> bool {
    let has = |name: &str| name.split_once(':').is_some_and(|(p, _)| p == prefix);
    has(&e.name)
        || e.attrs.iter().any(|(k, _)| has(k))
        || e.children.iter().any(|n| match n {
            Node::Element(c) => uses_prefix(c, prefix),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::super::dom::{parse, write};
    use super::*;

    fn ours(flat: &[&str], paths: &[&[&str]]) -> OurTags {
        OurTags {
            flat: flat.iter().map(|s| s.to_string()).collect(),
            paths: paths
                .iter()
                .map(|p| p.iter().map(|s| s.to_string()).collect())
                .collect(),
        }
    }

    fn merged(text: &str, tags: &OurTags) -> (String, Fields) {
        let mut doc = parse(text).unwrap();
        merge(&mut doc, tags).unwrap();
        let out = write(&doc);
        let fields = read_fields(&parse(&out).unwrap());
        (out, fields)
    }

    const FOREIGN: &str = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4">
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:ns1="http://purl.org/dc/elements/1.1/">
   <ns1:title><rdf:Alt><rdf:li xml:lang="x-default">Beach</rdf:li></rdf:Alt></ns1:title>
   <ns1:subject><rdf:Seq><rdf:li>holiday</rdf:li><rdf:li>Dog</rdf:li></rdf:Seq></ns1:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#;

    #[test]
    fn foreign_fields_and_words_stay_under_their_own_prefix() {
        let tags = ours(&["dog", "animal"], &[&["animal"], &["animal", "dog"]]);
        let (out, f) = merged(FOREIGN, &tags);
        assert!(out.contains(r#"xmp:Rating="4""#), "{out}");
        assert!(out.contains(">Beach</rdf:li>"), "{out}");
        // Written with the packet's own prefix, once.
        assert!(out.contains("<ns1:subject>"), "{out}");
        assert!(!out.contains("xmlns:dc="), "{out}");
        assert_eq!(out.matches(":subject>").count(), 2, "{out}");
        // "Dog" was there already (someone else's): not added twice, not recorded as ours.
        assert_eq!(f.get(Prop::Subject), ["holiday", "Dog", "animal"]);
        assert_eq!(f.get(Prop::Ours), ["animal"]);
        assert_eq!(
            f.get(Prop::TagsList),
            ["photolabel/animal", "photolabel/animal/dog"]
        );
        assert_eq!(
            f.get(Prop::Hierarchical),
            ["photolabel|animal", "photolabel|animal|dog"]
        );
        assert!(out.ends_with(r#"<?xpacket end="w"?>"#), "{out}");
    }

    #[test]
    fn a_second_merge_replaces_our_words_and_paths_only() {
        let (first, _) = merged(FOREIGN, &ours(&["cat", "pet"], &[&["pet", "cat"]]));
        let (out, f) = merged(&first, &ours(&["car"], &[&["vehicle", "car"]]));
        assert_eq!(f.get(Prop::Subject), ["holiday", "Dog", "car"]);
        assert_eq!(f.get(Prop::Ours), ["car"]);
        assert_eq!(f.get(Prop::TagsList), ["photolabel/vehicle/car"]);
        assert!(!out.contains("cat"), "{out}");
        assert_eq!(
            foreign_keywords(&parse(&out).unwrap()),
            ["holiday", "Dog"],
            "our own tags do not read back as someone else's"
        );
    }

    #[test]
    fn attribute_form_and_foreign_paths_are_read_and_kept() {
        let text = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
            xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description
            xmlns:dc="http://purl.org/dc/elements/1.1/"
            xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
            xmlns:digiKam="http://www.digikam.org/ns/1.0/"
            dc:subject="sunset" lr:hierarchicalSubject="Places|Paris"><digiKam:TagsList><rdf:Seq>
            <rdf:li>People/Grandma</rdf:li><rdf:li>photolabel/old</rdf:li></rdf:Seq>
            </digiKam:TagsList></rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let doc = parse(text).unwrap();
        assert_eq!(
            foreign_keywords(&doc),
            ["sunset", "Grandma", "Paris"],
            "path leaves, our old root left out"
        );
        let (out, f) = merged(text, &ours(&["dog"], &[&["dog"]]));
        assert!(
            !out.contains("dc:subject=\""),
            "the attribute became a bag: {out}"
        );
        assert_eq!(f.get(Prop::Subject), ["sunset", "dog"]);
        assert_eq!(f.get(Prop::TagsList), ["People/Grandma", "photolabel/dog"]);
        assert_eq!(
            f.get(Prop::Hierarchical),
            ["Places|Paris", "photolabel|dog"]
        );
    }

    #[test]
    fn a_packet_without_descriptions_or_with_taken_prefixes_gets_its_own_declarations() {
        let text = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/" xmlns:dc="urn:not-dublin-core"><r:RDF
            xmlns:r="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>"#;
        let (out, f) = merged(text, &ours(&["dog"], &[&["dog"]]));
        assert!(out.contains("<r:Description r:about=\"\""), "{out}");
        assert!(
            out.contains(r#"xmlns:dc1="http://purl.org/dc/elements/1.1/""#),
            "{out}"
        );
        assert!(out.contains("<r:Bag>"), "{out}");
        assert_eq!(f.get(Prop::Subject), ["dog"]);
    }

    #[test]
    fn a_default_namespace_and_an_rdf_seq_read_as_dublin_core() {
        let text = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns="http://purl.org/dc/elements/1.1/"><subject><rdf:Seq>
            <rdf:li> beach </rdf:li><rdf:li>beach</rdf:li></rdf:Seq></subject><title>t</title>
            </rdf:Description></rdf:RDF>"#;
        assert_eq!(foreign_keywords(&parse(text).unwrap()), ["beach"]);
        let (out, f) = merged(text, &ours(&["dog"], &[]));
        assert_eq!(f.get(Prop::Subject), ["beach", "dog"]);
        assert!(out.contains("<title>t</title>"), "{out}");
        assert!(
            !out.contains("<subject>"),
            "replaced by one prefixed property: {out}"
        );
    }

    /// Found by fuzzing (`fuzz/regressions/xmp/unbound-prefix-captured.xmp`): a packet using
    /// the prefix `photolabel:` without declaring it. Merging declared `photolabel:` on the
    /// description, which turned the other program's undeclared `photolabel:subjects` into
    /// ours: its word "dog" stopped being the user's keyword and the next merge would drop it.
    #[test]
    fn merging_does_not_capture_an_unbound_prefix_already_in_the_packet() {
        let text = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>
            <rdf:li>dog</rdf:li></rdf:Bag></dc:subject><photolabel:subjects><rdf:Bag>
            <rdf:li>dog</rdf:li></rdf:Bag></photolabel:subjects></rdf:Description></rdf:RDF>"#;
        assert_eq!(foreign_keywords(&parse(text).unwrap()), ["dog"]);
        let (out, _) = merged(text, &ours(&["beach"], &[]));
        assert!(
            out.contains(r#"xmlns:photolabel1="urn:photolabel:xmp:1.0:""#),
            "{out}"
        );
        assert_eq!(foreign_keywords(&parse(&out).unwrap()), ["dog"], "{out}");
    }

    /// Found by fuzzing (`fuzz/regressions/xmp/prefix-with-a-colon.xmp`): a damaged declaration
    /// `xmlns:digiKxmlns:lr="…lightroom…"` was taken as binding the prefix `digiKxmlns:lr`, the
    /// merge wrote `<digiKxmlns:lr:hierarchicalSubject>` with it, and that reads back as an
    /// unknown property: the user's `people|family|Anna` was lost.
    #[test]
    fn a_declaration_whose_prefix_is_not_a_name_binds_nothing() {
        let text = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns:digiKxmlns:lr="http://ns.adobe.com/lightroom/1.0/"
            xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:="urn:x"><lr:hierarchicalSubject>
            <rdf:Bag><rdf:li>people|family|Anna</rdf:li></rdf:Bag></lr:hierarchicalSubject>
            </rdf:Description></rdf:RDF>"#;
        let (out, _) = merged(text, &ours(&["dog"], &[&["animal", "dog"]]));
        assert!(out.contains("<lr:hierarchicalSubject>"), "{out}");
        assert!(!out.contains("<digiKxmlns:lr:"), "{out}");
        assert_eq!(foreign_keywords(&parse(&out).unwrap()), ["Anna"], "{out}");
        assert!(!super::super::dom::is_ncname("a:b") && !super::super::dom::is_ncname(""));
        assert!(super::super::dom::is_ncname("ns1") && super::super::dom::is_ncname("é_x-1.2"));
    }

    #[test]
    fn no_rdf_is_refused() {
        let mut doc = parse("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>").unwrap();
        assert_eq!(merge(&mut doc, &OurTags::default()), Err(MergeError::NoRdf));
    }
}
