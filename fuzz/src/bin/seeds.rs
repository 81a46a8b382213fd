//! Writes the fuzzers' seed corpora (`fuzz/seeds/<target>/`) from the test fixtures: tiny
//! photos of every format with and without EXIF, broken ones, XMP packets, queries, trace
//! lines, a tiny ONNX protobuf and tfjs models. Kept small (a few hundred KB in all) so AFL
//! runs fast and the repository stays light. Not a fuzz target; run from the repository root:
//! `$CARGO_TARGET_DIR/release/seeds fuzz/seeds` after the build in README.md.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use photolabel::fixtures::{ExifSpec, bomb_png, exif_for, jpeg_bytes, pattern_image, png_bytes};

fn main() -> Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    let mut n = 0;
    for (target, name, bytes) in photos()?
        .into_iter()
        .chain(xmp())
        .chain(queries())
        .chain(traces()?)
        .chain(onnx())
        .chain(tfjs())
    {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        write(&dir.join(name), &bytes)?;
        n += 1;
    }
    println!("{n} seeds written under {}", out.display());
    Ok(())
}

type Seed = (&'static str, String, Vec<u8>);

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| path.display().to_string())
}

fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut out), format)?;
    Ok(out)
}

/// Photos for both image targets: every format, EXIF (with GPS, every orientation), embedded
/// XMP and IPTC keywords, a bomb header, truncated and empty files.
fn photos() -> Result<Vec<Seed>> {
    let img = pattern_image(24, 16, 3);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("plain.jpg".into(), jpeg_bytes(&img, None)),
        ("plain.png".into(), png_bytes(&img)),
        ("bomb.png".into(), bomb_png(50_000, 50_000)),
    ];
    for (i, o) in [1u16, 3, 6, 8].into_iter().enumerate() {
        let spec = ExifSpec {
            orientation: o,
            gps: i % 2 == 0,
            ..exif_for(i as u64)
        };
        files.push((format!("exif-o{o}.jpg"), jpeg_bytes(&img, Some(&spec))));
    }
    for (ext, format) in [
        ("gif", image::ImageFormat::Gif),
        ("webp", image::ImageFormat::WebP),
        ("tiff", image::ImageFormat::Tiff),
        ("bmp", image::ImageFormat::Bmp),
    ] {
        files.push((format!("plain.{ext}"), encode(&img, format)?));
    }
    let gray = image::DynamicImage::ImageRgb8(img.clone()).to_luma8();
    let mut g = Vec::new();
    gray.write_to(&mut std::io::Cursor::new(&mut g), image::ImageFormat::Jpeg)?;
    files.push(("gray.jpg".into(), g));
    let jpeg = jpeg_bytes(&img, Some(&ExifSpec::default()));
    files.push(("truncated.jpg".into(), jpeg[..jpeg.len() / 2].to_vec()));
    files.push(("keywords.jpg".into(), with_keywords(&jpeg)));
    Ok(files
        .into_iter()
        .flat_map(|(name, bytes)| {
            [
                ("photo", name.clone(), bytes.clone()),
                ("thumbnail", name, bytes),
            ]
        })
        .collect())
}

/// `jpeg` with an XMP APP1 packet and an IPTC APP13 block after its SOI marker.
fn with_keywords(jpeg: &[u8]) -> Vec<u8> {
    let segment = |marker: u8, body: &[u8]| {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    };
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(PACKET.as_bytes());
    let mut iim = Vec::new();
    for k in ["harbour", "boats"] {
        iim.extend_from_slice(&[0x1C, 2, 25]);
        iim.extend_from_slice(&(k.len() as u16).to_be_bytes());
        iim.extend_from_slice(k.as_bytes());
    }
    let mut ps = b"Photoshop 3.0\08BIM\x04\x04\0\0".to_vec();
    ps.extend_from_slice(&(iim.len() as u32).to_be_bytes());
    ps.extend_from_slice(&iim);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment(0xE1, &xmp));
    out.extend(segment(0xED, &ps));
    out.extend_from_slice(&jpeg[2..]);
    out
}

const PACKET: &str = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>holiday</rdf:li>
     <rdf:li>Beach &amp; sea</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>places/France/Nice</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>people|family|Anna</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#;

fn xmp() -> Vec<Seed> {
    let ours = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:photolabel="urn:photolabel:xmp:1.0:" dc:title="x"><dc:subject><rdf:Bag><rdf:li>dog</rdf:li><rdf:li>Mine</rdf:li></rdf:Bag></dc:subject><photolabel:subjects><rdf:Bag><rdf:li>dog</rdf:li></rdf:Bag></photolabel:subjects></rdf:Description><rdf:Description rdf:about=""/></rdf:RDF></x:xmpmeta>"#;
    let bare = r#"<?xml version="1.0"?><!DOCTYPE x><x:xmpmeta xmlns:x="adobe:ns:meta/"><!-- c --><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><![CDATA[a]]>&#x41;</rdf:RDF></x:xmpmeta>"#;
    vec![
        ("xmp", "digikam.xmp".into(), PACKET.as_bytes().to_vec()),
        ("xmp", "ours.xmp".into(), ours.as_bytes().to_vec()),
        ("xmp", "bare.xmp".into(), bare.as_bytes().to_vec()),
    ]
}

fn queries() -> Vec<Seed> {
    [
        "dog",
        "beach -people",
        "\"traffic light\" OR car",
        "(cat OR dog) conf>0.7",
        "tag:\"sea anemone\" conf>=0.5 NOT (indoor | night)",
        "person:Alice puppies AND Éléphant",
        "((((a)))) -(-b) OR",
    ]
    .iter()
    .enumerate()
    .map(|(i, q)| ("query", format!("q{i}"), q.as_bytes().to_vec()))
    .collect()
}

/// A synthetic trace and the first lines of a recorded one (with shared stages).
fn traces() -> Result<Vec<Seed>> {
    let dir = tempfile_dir()?;
    let path = dir.join("synthetic.jsonl");
    photolabel::fixtures::synthetic_trace(3, 1).write(&path)?;
    let synthetic = std::fs::read(&path)?;
    std::fs::remove_dir_all(&dir)?;
    let recorded = std::fs::read_to_string("traces/shared-photos-17models-stages.jsonl")
        .context("run from the repository root")?;
    let head: String = recorded.lines().take(2).map(|l| format!("{l}\n")).collect();
    Ok(vec![
        ("trace", "synthetic.jsonl".into(), synthetic),
        ("trace", "recorded.jsonl".into(), head.into_bytes()),
    ])
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("photolabel-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Protobuf field: key, then the payload (length-prefixed for wire type 2).
fn field(num: u64, wire: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = varint((num << 3) | wire);
    if wire == 2 {
        v.extend(varint(payload.len() as u64));
    }
    v.extend_from_slice(payload);
    v
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut v = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(b);
            return v;
        }
        v.push(b | 0x80);
    }
}

/// A tiny ONNX model: a Conv with int, ints, float and string attributes, float initialisers
/// (raw and packed), an int64 one, graph inputs and outputs, opset import and metadata.
fn onnx() -> Vec<Seed> {
    let tensor = |name: &str, dims: &[u64], dtype: u64, data: Vec<u8>| {
        let mut t = Vec::new();
        for &d in dims {
            t.extend(field(1, 0, &varint(d)));
        }
        t.extend(field(2, 0, &varint(dtype)));
        t.extend(field(8, 2, name.as_bytes()));
        t.extend(data);
        t
    };
    let floats: Vec<u8> = (0..8)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    let w = tensor("w", &[2, 1, 2, 2], 1, field(9, 2, &floats));
    let b = tensor("b", &[2], 1, field(4, 2, &floats[..8]));
    let shape = tensor(
        "shape",
        &[2],
        7,
        field(9, 2, &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]),
    );
    let attr = |name: &str, body: Vec<u8>| {
        let mut a = field(1, 2, name.as_bytes());
        a.extend(body);
        a
    };
    let mut node = Vec::new();
    for s in ["x", "w", "b"] {
        node.extend(field(1, 2, s.as_bytes()));
    }
    node.extend(field(2, 2, b"y"));
    node.extend(field(3, 2, b"conv0"));
    node.extend(field(4, 2, b"Conv"));
    node.extend(field(5, 2, &attr("group", field(3, 0, &varint(1)))));
    let mut ints = field(8, 2, &[1, 1]);
    ints.extend(field(20, 0, &varint(7)));
    node.extend(field(5, 2, &attr("strides", ints)));
    node.extend(field(
        5,
        2,
        &attr("alpha", field(2, 5, &0.25f32.to_le_bytes())),
    ));
    node.extend(field(5, 2, &attr("auto_pad", field(4, 2, b"NOTSET"))));
    let mut graph = field(1, 2, &node);
    for t in [&w, &b, &shape] {
        graph.extend(field(5, 2, t));
    }
    graph.extend(field(11, 2, &field(1, 2, b"x")));
    graph.extend(field(12, 2, &field(1, 2, b"y")));
    let mut model = field(1, 0, &varint(8));
    let mut opset = field(1, 2, b"");
    opset.extend(field(2, 0, &varint(13)));
    model.extend(field(8, 2, &opset));
    model.extend(field(7, 2, &graph));
    let mut meta = field(1, 2, b"character");
    meta.extend(field(2, 2, b"abc"));
    model.extend(field(14, 2, &meta));
    vec![("onnx", "conv.onnx".into(), model)]
}

/// tfjs models as the `tfjs` target reads them: `model.json`, a NUL, the weight bytes; and the
/// JavaScript-wrapped form.
fn tfjs() -> Vec<Seed> {
    let json = serde_json::json!({
        "format": "graph-model",
        "modelTopology": {"node": [
            {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                "shape": {"shape": {"dim": [{"size": "1"}, {"size": "4"}, {"size": "4"}, {"size": "1"}]}}}},
            {"name": "w", "op": "Const"},
            {"name": "b", "op": "Const"},
            {"name": "conv", "op": "_FusedConv2D", "input": ["x", "w", "b", "^x"],
             "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}},
                      "padding": {"s": "U0FNRQ=="},
                      "fused_ops": {"list": {"s": ["Qmlhc0FkZA==", "UmVsdQ=="]}},
                      "data_format": {"s": "TkhXQw=="}}},
            {"name": "out", "op": "Relu", "input": ["conv:0"]}
        ]},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
            {"name": "w", "shape": [2, 2, 1, 1], "dtype": "float32"},
            {"name": "b", "shape": [1], "dtype": "float32",
             "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.01}}
        ]}]
    });
    let mut with_weights = serde_json::to_vec(&json).unwrap_or_default();
    with_weights.push(0);
    for i in 0..4 {
        with_weights.extend_from_slice(&(i as f32).to_le_bytes());
    }
    with_weights.push(100);
    let js = br#"var m={};module.exports=t();exports={format:"graph-model",modelTopology:{node:[{name:"x",op:"Placeholder"},{name:"y",op:"Relu",input:["x"]}]},weightsManifest:[{paths:["a"],weights:[{name:"k",shape:[2],dtype:"float32",x:.5,y:!0}]}]};
exports="AAAAAAAAgD8=""#;
    vec![
        ("tfjs", "conv.json".into(), with_weights),
        ("tfjs", "wrapped.js".into(), js.to_vec()),
    ]
}
