#!/usr/bin/env node
// Reference outputs of TensorFlow.js graph models, run with the pure-JS CPU backend of
// @tensorflow/tfjs 4.22.0, for checking photolabel's Rust re-implementation.
// See README.md beside this file for what is recorded and how the inputs are defined.
//
//   node tools/reference/tfjs/reference.js --out models/reference/tfjs
//
// Options (defaults in brackets; relative to the repository root):
//   --out DIR       where the JSON files go                 [models/reference/tfjs]
//   --npm DIR       unpacked npm packages: DIR/human/package (@vladmandic/human 3.3.6) and
//                   DIR/nsfw/package (nsfwjs 4.4.0)          [../npm]
//   --photos DIR    the shared photo set                     [../shared/photos]
//   --only a,b      run only these models (centernet,movenet,emotion,faceres,nsfw_mid)
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const os = require('os');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfconv = require('@tensorflow/tfjs-converter');
const jpeg = require('jpeg-js');

const REPO = path.resolve(__dirname, '..', '..', '..');

function parseArgs(argv) {
  const a = { out: 'models/reference/tfjs', npm: '../npm', photos: '../shared/photos', only: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--out') a.out = v();
    else if (k === '--npm') a.npm = v();
    else if (k === '--photos') a.photos = v();
    else if (k === '--only') a.only = v().split(',');
    else if (k === '-h' || k === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 13).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  const abs = (p) => (path.isAbsolute(p) ? p : path.resolve(process.cwd(), p));
  a.out = abs(a.out);
  a.npm = path.isAbsolute(a.npm) ? a.npm : path.resolve(REPO, a.npm);
  a.photos = path.isAbsolute(a.photos) ? a.photos : path.resolve(REPO, a.photos);
  return a;
}

const ARGS = parseArgs(process.argv.slice(2));
const HUMAN = path.join(ARGS.npm, 'human', 'package');
const NSFW = path.join(ARGS.npm, 'nsfw', 'package');

// ---------------------------------------------------------------------------------------------
// small helpers

/** 6 significant digits, as a JSON number (NaN/Infinity become null). */
function r6(x) {
  if (!Number.isFinite(x)) return null;
  const v = Number(x.toPrecision(6));
  return Object.is(v, -0) ? 0 : v;
}
const r6a = (arr) => Array.from(arr, r6);

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** JSON with arrays of numbers/strings kept on one line. */
function toJson(obj) {
  const s = JSON.stringify(obj, null, 2);
  return s.replace(/\[([^\[\]{}]*)\]/g, (m, inner) => {
    if (!inner.includes('\n')) return m;
    const one = '[' + inner.trim().replace(/\s*\n\s*/g, ' ') + ']';
    return !inner.includes('"') || one.length <= 160 ? one : m;
  }) + '\n';
}

function writeJson(name, obj) {
  fs.mkdirSync(ARGS.out, { recursive: true });
  const file = path.join(ARGS.out, name);
  const text = toJson(obj);
  fs.writeFileSync(file, text);
  console.log(`wrote ${path.relative(process.cwd(), file)} (${text.length} bytes)`);
}

// ---------------------------------------------------------------------------------------------
// model loading

async function loadFromManifest(modelJsonPath) {
  const json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
  const dir = path.dirname(modelJsonPath);
  const weightSpecs = [];
  const buffers = [];
  const files = [{ file: path.relative(ARGS.npm, modelJsonPath), sha256: sha256(modelJsonPath) }];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const f = path.join(dir, p);
      buffers.push(fs.readFileSync(f));
      files.push({ file: path.relative(ARGS.npm, f), sha256: sha256(f) });
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format,
    generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    userDefinedMetadata: json.userDefinedMetadata, signature: json.signature,
  }));
  return { model, json, files };
}

/** nsfwjs ships its models as JS bundles: model.min.js is a UMD module whose export is the
 * model.json object, each group1-shardNofM.min.js one whose export is the shard's bytes in base64.
 * `require` evaluates them (module.exports = factory()). */
async function loadNsfwBundle(dir) {
  const modelFile = path.join(dir, 'model.min.js');
  const json = require(modelFile);
  if (json.format !== 'graph-model') throw new Error(`${modelFile}: format ${json.format}`);
  const files = [{ file: path.relative(ARGS.npm, modelFile), sha256: sha256(modelFile) }];
  const weightSpecs = [];
  const buffers = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const f = path.join(dir, `${p}.min.js`);
      const b64 = require(f);
      if (typeof b64 !== 'string') throw new Error(`${f}: export is not a base64 string`);
      buffers.push(Buffer.from(b64, 'base64'));
      files.push({ file: path.relative(ARGS.npm, f), sha256: sha256(f) });
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format,
    generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    userDefinedMetadata: json.userDefinedMetadata,
  }));
  return { model, json, files, weightBytes: all.length, weightSha256: crypto.createHash('sha256').update(all).digest('hex') };
}

function resizeAttrs(json) {
  return json.modelTopology.node
    .filter((n) => n.op === 'ResizeBilinear' || n.op === 'ResizeNearestNeighbor')
    .map((n) => ({
      node: n.name, op: n.op,
      align_corners: !!(n.attr.align_corners && n.attr.align_corners.b),
      half_pixel_centers: !!(n.attr.half_pixel_centers && n.attr.half_pixel_centers.b),
    }));
}

function quantization(json) {
  const c = {};
  for (const g of json.weightsManifest) {
    for (const w of g.weights) {
      const k = `${w.dtype}${w.quantization ? ` stored as ${w.quantization.dtype}` : ''}`;
      c[k] = (c[k] || 0) + 1;
    }
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// inputs

/** v(y,x,c) = (y*131 + x*71 + c*29) % 256 */
const synth = (y, x, c) => (y * 131 + x * 71 + c * 29) % 256;

/** NHWC [1,H,W,C] from f(y,x,c), every value computed in float64 and rounded once to the
 * tensor's dtype (float32 / int32). Returns the tensor and the float64 sum of the stored values. */
function makeInput(h, w, c, dtype, f) {
  const data = dtype === 'int32' ? new Int32Array(h * w * c) : new Float32Array(h * w * c);
  let i = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data[i++] = f(y, x, k);
  let sum = 0;
  for (const v of data) sum += v;
  return { tensor: tf.tensor(data, [1, h, w, c], dtype), sum };
}

const PHOTOS = [
  'coco128/train2017/000000000036.jpg',
  'coco128/train2017/000000000049.jpg',
  'coco128/train2017/000000000074.jpg',
  'imagenet-sample/n02099712_Labrador_retriever.JPEG',
  'imagenet-sample/n02930766_cab.JPEG',
  'imagenet-sample/n03642806_laptop.JPEG',
];

/** jpeg-js decode to RGB float32 [H,W,3] 0..255 (no EXIF orientation applied). */
function decodePhoto(rel) {
  const buf = fs.readFileSync(path.join(ARGS.photos, rel));
  const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
  const { width, height } = img;
  const rgb = new Float32Array(width * height * 3);
  const mean = [0, 0, 0];
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < 3; k++) {
      const v = img.data[p * 4 + k];
      rgb[p * 3 + k] = v;
      mean[k] += v;
    }
  }
  return {
    file: rel, width, height,
    sha256: crypto.createHash('sha256').update(buf).digest('hex'),
    decoded_rgb_mean: mean.map((m) => r6(m / (width * height))),
    tensor: tf.tensor3d(rgb, [height, width, 3], 'float32'),
  };
}

/** tf.image.resizeBilinear(img, [s,s], alignCorners=false, halfPixelCenters=false) -> [1,s,s,3] */
function resize(img, s, alignCorners = false) {
  return tf.tidy(() => tf.expandDims(tf.image.resizeBilinear(img, [s, s], alignCorners, false), 0));
}

// ---------------------------------------------------------------------------------------------
// running

function run(model, input, outputs) {
  const res = model.execute(input, outputs);
  const list = Array.isArray(res) ? res : [res];
  const out = list.map((t) => ({ shape: t.shape, dtype: t.dtype, data: t.dataSync() }));
  tf.dispose(list);
  return out;
}

/** First run (recorded), then 3 timed runs of model.execute (+ dataSync of the outputs). */
function runTimed(model, input, outputs) {
  const first = run(model, input, outputs);
  const times = [];
  let identical = true;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    const again = run(model, input, outputs);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    for (let o = 0; o < first.length; o++) {
      const a = first[o].data;
      const b = again[o].data;
      for (let j = 0; j < a.length; j++) if (!(a[j] === b[j] || (Number.isNaN(a[j]) && Number.isNaN(b[j])))) { identical = false; break; }
    }
  }
  return {
    outputs: first,
    latency: {
      what: 'model.execute + dataSync of the outputs on the synthetic input, tfjs-backend-cpu (pure JS) 4.22.0',
      median_ms: r6(median(times)), runs_ms: times.map(r6), runs: 3,
      note: 'after one untimed run; the 3 timed runs gave bit-identical outputs: ' + identical,
    },
  };
}

function environment() {
  return {
    runtime: `node ${process.version}, @tensorflow/tfjs-core ${tf.version_core}, @tensorflow/tfjs-converter ${tfconv.version_converter}, @tensorflow/tfjs-backend-cpu ${require('@tensorflow/tfjs-backend-cpu').version_cpu}, jpeg-js ${require('jpeg-js/package.json').version}`,
    backend: tf.getBackend(),
    machine: `${os.cpus()[0].model.trim()}, ${os.cpus().length} logical CPUs (a CPU-bound build may have been running alongside: latencies are indicative)`,
    generated_by: 'tools/reference/tfjs/reference.js',
  };
}

const RESIZE_NOTE = 'photos: decoded with jpeg-js (RGB, no EXIF orientation), float32 0..255, then tf.image.resizeBilinear(img, [S,S], alignCorners=false, halfPixelCenters=false) (tfjs defaults)';

// ---------------------------------------------------------------------------------------------
// models

function cocoLabels() {
  const src = fs.readFileSync(path.join(HUMAN, 'src', 'object', 'labels.ts'), 'utf8');
  const out = [];
  for (const m of src.matchAll(/\{\s*class:\s*(\d+),\s*label:\s*'([^']+)'\s*\}/g)) out.push({ cls: Number(m[1]), label: m[2] });
  if (out.length !== 80) throw new Error(`labels.ts: ${out.length} labels`);
  out.forEach((l, i) => { if (l.cls !== i + 1) throw new Error('labels.ts: unexpected order'); });
  return out.map((l) => l.label);
}

async function doCenternet(photos) {
  const { model, json, files } = await loadFromManifest(path.join(HUMAN, 'models', 'centernet.json'));
  const outs = ['tower_0/detections', 'tower_0/keypoints', 'tower_0/wh'];
  const labels = cocoLabels();
  const inp = makeInput(512, 512, 3, 'float32', synth);
  const { outputs, latency } = runTimed(model, inp.tensor, outs);
  tf.dispose(inp.tensor);
  const [det, kp, wh] = outputs;
  const [H, W, C] = kp.shape.slice(1);
  const maxPerClass = new Array(C).fill(-Infinity);
  for (let i = 0; i < kp.data.length; i++) { const c = i % C; if (kp.data[i] > maxPerClass[c]) maxPerClass[c] = kp.data[i]; }
  const meanPerClass = new Array(C).fill(0);
  for (let i = 0; i < kp.data.length; i++) meanPerClass[i % C] += kp.data[i] / (H * W);
  const GRID = [0, 18, 36, 54, 72, 90, 108, 127];
  const idx = Array.from(kp.data.keys()).sort((a, b) => kp.data[b] - kp.data[a] || a - b).slice(0, 20);
  const top = idx.map((i) => {
    const c = i % C; const x = Math.floor(i / C) % W; const y = Math.floor(i / (C * W));
    return { y, x, class: c, label: labels[c], value: r6(kp.data[i]), wh: r6a(wh.data.slice((y * W + x) * 4, (y * W + x) * 4 + 4)) };
  });
  const detRows = [];
  for (let i = 0; i < det.shape[1]; i++) detRows.push(r6a(det.data.slice(i * 6, i * 6 + 6)));

  const photoRes = [];
  for (const p of photos) {
    const x = resize(p.tensor, 512);
    const [d] = run(model, x, ['tower_0/detections']);
    tf.dispose(x);
    const rows = [];
    for (let i = 0; i < d.shape[1]; i++) rows.push(Array.from(d.data.slice(i * 6, i * 6 + 6)));
    // human's own post-processing (src/object/centernet.ts): NMS over all 100 rows with its defaults
    const keep = tf.tidy(() => {
      const boxes = tf.tensor2d(rows.map((r) => [r[1], r[0], r[3], r[2]]));
      const scores = tf.tensor1d(rows.map((r) => r[4]));
      return tf.image.nonMaxSuppression(boxes, scores, 10, 0.4, 0.2).dataSync();
    });
    const keepSet = new Set(keep);
    const dets = [];
    rows.forEach((r, i) => {
      if (!(r[4] >= 0.2)) return;
      const sx = p.width / 512; const sy = p.height / 512;
      dets.push({
        row: i, score: r6(r[4]), class: r[5], label: labels[r[5]],
        box_512: r6a(r.slice(0, 4)),
        box_original_px: [r6(r[0] * sx), r6(r[1] * sy), r6(r[2] * sx), r6(r[3] * sy)],
        kept_by_human_nms: keepSet.has(i),
      });
    });
    photoRes.push({ file: p.file, sha256: p.sha256, width: p.width, height: p.height, decoded_rgb_mean: p.decoded_rgb_mean, detections: dets });
  }
  model.dispose();
  return {
    model: 'centernet (MB3-CenterNet, COCO 80 classes) from @vladmandic/human 3.3.6 models/',
    files, weights: quantization(json),
    input_node: 'tower_0/images', input_shape: [1, 512, 512, 3], input_dtype: 'float32',
    output_nodes: outs,
    graph_resize_nodes: resizeAttrs(json),
    notes: [
      'the graph has no explicit input normalisation: tower_0/images feeds the first _FusedConv2D directly; feed RGB 0..255 (human src/object/centernet.ts:87 resizes img.tensor, which is 0..255, and executes it)',
      'tower_0/keypoints = Identity(Sigmoid(CenternetHead/centernet_cls_output/BiasAdd)): values are after the sigmoid',
      'tower_0/wh = Identity(Mul(CenternetHead/centernet_wh_output/BiasAdd, tower_0/mul/y))',
      'tower_0/detections rows are [x1, y1, x2, y2, score, class] in 512-input pixels; class is 0-based into human src/object/labels.ts (labels[class].label)',
      'weights are float16 in centernet.bin, dequantised to float32 by tfjs',
    ],
    synthetic: {
      input: 'synthetic: v=((y*131+x*71+c*29)%256) as float32, shape [1,512,512,3], fed as-is',
      input_sum: inp.sum,
      detections: detRows,
      keypoints_max_per_class: { activation: 'sigmoid (node tower_0/keypoints)', values: r6a(maxPerClass) },
      keypoints_top20: { order: 'descending value, ties by flat NHWC index', wh_at: 'tower_0/wh[0,y,x,0..4] at the same (y,x)', entries: top },
      keypoints_mean_per_class: r6a(meanPerClass),
      grid: {
        positions: 'y, x in ' + JSON.stringify(GRID) + ' (row-major: y outer, x inner)',
        keypoints_class0: GRID.flatMap((y) => GRID.map((x) => r6(kp.data[(y * W + x) * C]))),
        wh: GRID.flatMap((y) => GRID.map((x) => r6a(wh.data.slice((y * W + x) * 4, (y * W + x) * 4 + 4)))),
      },
      wh_stats_per_channel: [0, 1, 2, 3].map((k) => {
        let mn = Infinity; let mx = -Infinity; let sum = 0;
        for (let i = k; i < wh.data.length; i += 4) { const v = wh.data[i]; if (v < mn) mn = v; if (v > mx) mx = v; sum += v; }
        return { min: r6(mn), max: r6(mx), mean: r6(sum / (wh.data.length / 4)) };
      }),
    },
    latency,
    photos: {
      preprocessing: RESIZE_NOTE + ' to 512x512, fed as float32 0..255',
      detections_listed: 'rows of tower_0/detections with score >= 0.2 (no NMS); kept_by_human_nms = survives tf.image.nonMaxSuppression(maxOutput 10, iou 0.4, score 0.2) as human does; box_original_px = box_512 * (width/512, height/512)',
      results: photoRes,
    },
    environment: environment(),
  };
}

async function doMovenet(photos) {
  const { model, json, files } = await loadFromManifest(path.join(HUMAN, 'models', 'movenet-lightning.json'));
  const KP = ['nose', 'leftEye', 'rightEye', 'leftEar', 'rightEar', 'leftShoulder', 'rightShoulder', 'leftElbow', 'rightElbow', 'leftWrist', 'rightWrist', 'leftHip', 'rightHip', 'leftKnee', 'rightKnee', 'leftAnkle', 'rightAnkle'];
  const inp = makeInput(192, 192, 3, 'int32', synth);
  const { outputs, latency } = runTimed(model, inp.tensor, ['Identity:0']);
  tf.dispose(inp.tensor);
  const rows = (d) => { const r = []; for (let i = 0; i < 17; i++) r.push(r6a(d.slice(i * 3, i * 3 + 3))); return r; };
  const photoRes = [];
  for (const p of photos) {
    const x = tf.tidy(() => tf.cast(resize(p.tensor, 192), 'int32'));
    const [o] = run(model, x, ['Identity:0']);
    tf.dispose(x);
    photoRes.push({ file: p.file, sha256: p.sha256, width: p.width, height: p.height, keypoints_yx_score: rows(o.data) });
  }
  model.dispose();
  return {
    model: 'movenet-lightning (single pose) from @vladmandic/human 3.3.6 models/',
    files, weights: quantization(json),
    input_node: 'input', input_shape: [1, 192, 192, 3], input_dtype: 'int32',
    output_nodes: ['Identity:0'],
    output_shape: outputs[0].shape,
    graph_resize_nodes: resizeAttrs(json),
    keypoint_names: KP,
    notes: [
      'input is int32 RGB 0..255; the graph casts it to float itself (StatefulPartitionedCall/Cast)',
      'human src/body/movenetfix.ts:76-90 pads the photo to a square, resizeBilinear to 192 and tf.cast(.., "int32") (truncation); the photo runs here do not pad (plain resize to 192x192, then the same int32 cast)',
      'output rows are [y, x, score], y and x normalised 0..1 to the 192x192 input',
      'weights are float16 in movenet-lightning.bin, dequantised to float32 by tfjs',
    ],
    synthetic: {
      input: 'synthetic: v=((y*131+x*71+c*29)%256) as int32, shape [1,192,192,3]',
      input_sum: inp.sum,
      keypoints_yx_score: rows(outputs[0].data),
    },
    latency,
    photos: {
      preprocessing: RESIZE_NOTE + ' to 192x192, then tf.cast(x, "int32") (truncates toward zero), no padding',
      results: photoRes,
    },
    environment: environment(),
  };
}

async function doEmotion() {
  const { model, json, files } = await loadFromManifest(path.join(HUMAN, 'models', 'emotion.json'));
  const labels = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
  const W = [0.2989, 0.5870, 0.1140];
  const inp = makeInput(64, 64, 1, 'float32', (y, x) => {
    const g = W[0] * (synth(y, x, 0) / 255) + W[1] * (synth(y, x, 1) / 255) + W[2] * (synth(y, x, 2) / 255);
    return (g - 0.5) * 2;
  });
  const { outputs, latency } = runTimed(model, inp.tensor, ['Identity']);
  tf.dispose(inp.tensor);
  model.dispose();
  const probs = {};
  labels.forEach((l, i) => { probs[l] = r6(outputs[0].data[i]); });
  return {
    model: 'emotion (oarriaga face_classification mini-Xception, greyscale 64x64) from @vladmandic/human 3.3.6 models/',
    files, weights: quantization(json),
    input_node: 'input_1', input_shape: [1, 64, 64, 1], input_dtype: 'float32',
    output_nodes: ['Identity'],
    output_shape: outputs[0].shape,
    labels,
    notes: [
      'labels order: human src/gear/emotion.ts:29 (1-channel model)',
      'preprocessing, human src/gear/emotion.ts:56,69-72 with src/tfjs/constants.ts:7-10: face crop 0..1 RGB, resizeBilinear to 64, grey = sum(rgb * [0.2989, 0.5870, 0.1140]), (grey - 0.5) * 2 -> -1..1',
      'output is already a softmax (graph ends in Softmax -> Identity)',
    ],
    synthetic: {
      input: 'synthetic: v_c=((y*131+x*71+c*29)%256)/255 for c=0,1,2; fed g=(0.2989*v_0+0.5870*v_1+0.1140*v_2-0.5)*2, computed in float64 and rounded once to float32, shape [1,64,64,1]',
      input_sum: inp.sum,
      probabilities: r6a(outputs[0].data),
      by_label: probs,
    },
    latency,
    environment: environment(),
  };
}

async function doFaceres() {
  const { model, json, files } = await loadFromManifest(path.join(HUMAN, 'models', 'faceres.json'));
  const outs = ['gender_pred/Sigmoid', 'age_pred/Softmax', 'global_pooling/Mean'];
  const inp = makeInput(224, 224, 3, 'float32', synth);
  const { outputs, latency } = runTimed(model, inp.tensor, outs);
  tf.dispose(inp.tensor);
  model.dispose();
  const [g, a, d] = outputs;
  let n2 = 0;
  for (const v of d.data) n2 += v * v;
  // human's age decoding (src/face/faceres.ts:96-101)
  let am = 0;
  for (let i = 1; i < a.data.length; i++) if (a.data[i] > a.data[am]) am = i;
  const all = a.data;
  const age = Math.round(all[am - 1] > all[am + 1] ? 10 * am - 100 * all[am - 1] : 10 * am + 100 * all[am + 1]) / 10;
  return {
    model: 'faceres (HSE-FaceRes: gender, age, 1024-d descriptor) from @vladmandic/human 3.3.6 models/',
    files, weights: quantization(json),
    input_node: 'input_1', input_shape: [1, 224, 224, 3], input_dtype: 'float32',
    output_nodes: outs,
    output_shapes: outputs.map((o) => o.shape),
    notes: [
      'preprocessing, human src/face/faceres.ts:36,44,46: face crop 0..1 RGB, resizeBilinear to 224x224 (alignCorners=false), times 255 -> RGB 0..255 fed to input_1',
      'gender_pred/Sigmoid: human reads <= 0.5 as female, > 0.5 as male (faceres.ts:93)',
      'global_pooling/Mean is an inner node (it feeds the gender/age heads); it is requested as an output explicitly',
    ],
    synthetic: {
      input: 'synthetic: v=((y*131+x*71+c*29)%256) as float32 (0..255), shape [1,224,224,3], fed as-is',
      input_sum: inp.sum,
      gender: r6(g.data[0]),
      age_probabilities: r6a(a.data),
      age_argmax: am,
      age_human_decoded: r6(age),
      descriptor_first16: r6a(d.data.slice(0, 16)),
      descriptor_l2_norm: r6(Math.sqrt(n2)),
      descriptor_sum: r6(d.data.reduce((s, v) => s + v, 0)),
      descriptor_nonzero: d.data.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0),
      descriptor_top16: Array.from(d.data.keys()).sort((p, q) => d.data[q] - d.data[p] || p - q).slice(0, 16).map((i) => ({ index: i, value: r6(d.data[i]) })),
      descriptor_length: d.data.length,
    },
    latency,
    environment: environment(),
  };
}

async function doNsfw(photos) {
  const dir = path.join(NSFW, 'dist', 'models', 'mobilenet_v2_mid');
  const { model, json, files, weightBytes, weightSha256 } = await loadNsfwBundle(dir);
  const labels = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
  const inp = makeInput(224, 224, 3, 'float32', (y, x, c) => synth(y, x, c) / 255);
  const { outputs, latency } = runTimed(model, inp.tensor, ['Identity:0']);
  tf.dispose(inp.tensor);
  const photoRes = [];
  for (const p of photos) {
    const a = tf.tidy(() => tf.div(resize(p.tensor, 224, false), 255));
    const [o1] = run(model, a, ['Identity:0']);
    const b = tf.tidy(() => resize(tf.div(p.tensor, 255), 224, true));
    const [o2] = run(model, b, ['Identity:0']);
    tf.dispose([a, b]);
    const top = labels[o1.data.indexOf(Math.max(...o1.data))];
    photoRes.push({ file: p.file, sha256: p.sha256, width: p.width, height: p.height, probabilities: r6a(o1.data), top, probabilities_nsfwjs_align_corners: r6a(o2.data) });
  }
  model.dispose();
  return {
    model: 'nsfwjs 4.4.0 MobileNetV2Mid (dist/models/mobilenet_v2_mid, JS bundles)',
    files, weights: quantization(json),
    weight_bytes: weightBytes, weight_bytes_sha256: weightSha256,
    loading: 'model.min.js and group1-shard{1,2}of2.min.js are UMD bundles, evaluated with require(): the first exports the model.json object, the shards export base64 strings; the decoded shards are concatenated in weightsManifest order (as nsfwjs dist/cjs/core.js JSONHandler does) and passed with modelTopology and weightSpecs to tf.io.fromMemory',
    input_node: 'input', input_shape: [1, 224, 224, 3], input_dtype: 'float32',
    output_nodes: ['Identity:0'],
    output_shape: outputs[0].shape,
    labels,
    notes: [
      'labels: nsfwjs dist/cjs/nsfw_classes.js',
      'preprocessing, nsfwjs dist/cjs/core.js:389-397: img.toFloat().div(255), then resizeBilinear to 224 with alignCorners=true; the graph then maps 0..1 to -1..1 itself (hub_input/Mul, hub_input/Sub)',
      'weights are uint8-quantised (min/scale affine) in the shards, dequantised to float32 by tfjs',
    ],
    synthetic: {
      input: 'synthetic: v=((y*131+x*71+c*29)%256)/255, computed in float64 and rounded to float32, shape [1,224,224,3]',
      input_sum: inp.sum,
      probabilities: r6a(outputs[0].data),
    },
    latency,
    photos: {
      preprocessing: RESIZE_NOTE + ' to 224x224, then / 255 -> "probabilities". "probabilities_nsfwjs_align_corners": nsfwjs\'s own order and flags: / 255 first, then resizeBilinear alignCorners=true, halfPixelCenters=false',
      results: photoRes,
    },
    environment: environment(),
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const want = (m) => !ARGS.only || ARGS.only.includes(m);
  const needPhotos = want('centernet') || want('movenet') || want('nsfw_mid');
  const photos = needPhotos ? PHOTOS.map(decodePhoto) : [];
  const jobs = [
    ['centernet', 'centernet.json', () => doCenternet(photos)],
    ['movenet', 'movenet_lightning.json', () => doMovenet(photos)],
    ['emotion', 'emotion.json', () => doEmotion()],
    ['faceres', 'faceres.json', () => doFaceres()],
    ['nsfw_mid', 'nsfw_mobilenet_v2_mid.json', () => doNsfw(photos)],
  ];
  for (const [name, file, fn] of jobs) {
    if (!want(name)) continue;
    const t0 = Date.now();
    writeJson(file, await fn());
    console.log(`  ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  tf.dispose(photos.map((p) => p.tensor));
}

main().catch((e) => { console.error(e); process.exit(1); });
