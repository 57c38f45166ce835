import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { humanBytes } from '../../src/cli/format.js';
import { loadModel, modelFromBytes } from '../../src/onnx/model.js';
import { layoutGraph } from '../../src/report/graph/layout.js';
import { modelGraph } from '../../src/report/graph/model-graph.js';
import { indexGraph } from '../../src/onnx/graph.js';
import { cli } from '../cli-helper.js';
import { analyze, realSubject, tempDirs, writeZooModel } from '../helpers.js';
import { realModels } from '../models/zoo.js';
import { densenet121Like, vitB16Like } from './graph-models.js';

const temp = tempDirs();

/** Every `<g id=...>` of a kind in the SVG, with its attributes. */
function groups(svg: string, kind: 'node' | 'edge'): Map<string, Record<string, string>[]> {
  const out = new Map<string, Record<string, string>[]>();
  for (const m of svg.matchAll(/<g ([^>]*)>/g)) {
    const attrs = Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
    if (!attrs.class?.split(' ').includes(kind)) continue;
    out.set(attrs.id!, [...(out.get(attrs.id!) ?? []), attrs]);
  }
  return out;
}

function unescape(s: string): string {
  return s.replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c)));
}

/**
 * What the picture must hold, worked out from the model file alone: a box per node that reads a
 * model input (directly or through other such nodes), per input and per output; an edge per
 * distinct tensor each box reads from another box.
 */
async function expectedGraph(file: string): Promise<{ nodes: Set<string>; edges: Map<string, { from: string; to: string; tensor: string }> }> {
  const g = (await loadModel(file)).proto.graph!;
  const weights = new Set((g.initializer ?? []).map((t) => t.name!));
  const source = new Map<string, string>();
  const nodes = new Set<string>();
  g.input!.filter((v) => !weights.has(v.name!)).forEach((v, i) => (source.set(v.name!, `in${i}`), nodes.add(`in${i}`)));
  const edges = new Map<string, { from: string; to: string; tensor: string }>();
  const link = (tensor: string, to: string) => {
    const from = source.get(tensor);
    if (from) edges.set(`e${from}-${to}`, { from: from.replace(/-\d+$/, ''), to, tensor });
  };
  // The builder writes nodes in execution order, so one pass sees every producer first.
  g.node!.forEach((n, i) => {
    if (!n.input!.some((t) => source.has(t))) return;
    nodes.add(`n${i}`);
    for (const t of n.input!) link(t, `n${i}`);
    n.output!.forEach((o, slot) => source.set(o, `n${i}-${slot}`));
  });
  g.output!.forEach((v, i) => {
    if (!source.has(v.name!)) return;
    nodes.add(`out${i}`);
    link(v.name!, `out${i}`);
  });
  return { nodes, edges };
}

async function showGraph(file: string, ...extra: string[]) {
  const r = await cli(['--operation', 'show_graph', '--onnx_file', file, ...extra]);
  assert.equal(r.code, 0, r.err);
  const base = file.replace(/\.onnx$/, '');
  return { run: r, svg: await readFile(`${base}.graph.svg`, 'utf8'), html: await readFile(`${base}.graph.html`, 'utf8') };
}

const ZOO = ['inception_like', 'resnet_like', 'two_outputs', 'input_reuse', 'constant_nodes', 'transformer_block', 'mixed_dtypes'];

test('every node and every edge of the graph is in the SVG exactly once, with its shape', async () => {
  const dir = await temp('graph-ids');
  const files = ZOO.map((name) => writeZooModel(name, dir));
  const dense = join(dir, 'densenet121.onnx');
  writeFileSync(dense, encodeModel(densenet121Like()));
  for (const file of [...files, dense]) {
    const { svg } = await showGraph(file);
    const want = await expectedGraph(file);
    const nodes = groups(svg, 'node');
    const edges = groups(svg, 'edge');
    assert.deepEqual([...nodes.keys()].sort(), [...want.nodes].sort(), file);
    assert.deepEqual([...edges.keys()].sort(), [...want.edges.keys()].sort(), file);
    for (const [id, found] of [...nodes, ...edges]) assert.equal(found.length, 1, `${file}: ${id} drawn ${found.length} times`);
    for (const [id, e] of want.edges) {
      const [attrs] = edges.get(id)!;
      assert.deepEqual([attrs!['data-from'], attrs!['data-to'], unescape(attrs!['data-tensor']!)], [e.from, e.to, e.tensor], `${file}: ${id}`);
    }
    // Every id in the file is unique (boxes, edges, arrowheads).
    const ids = [...svg.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, file);
  }
  // Shapes on the edges: the input of inception_like into its first conv.
  const { svg } = await showGraph(files[0]!);
  assert.match(svg, /<g id="ein0-n0"[^>]*>.*?<text[^>]*>1x3x32x32<\/text>/s);
  assert.ok(existsSync(join(dir, 'densenet121.graph.html')));
});

test('split point markers are list_layers\' split points with their bytes', async () => {
  const dir = await temp('graph-splits');
  const dense = join(dir, 'densenet121.onnx');
  writeFileSync(dense, encodeModel(densenet121Like({ blocks: [3, 4] })));
  for (const file of [writeZooModel('inception_like', dir), writeZooModel('two_outputs', dir), writeZooModel('mixed_dtypes', dir), dense]) {
    const { svg } = await showGraph(file);
    const listed = await cli(['--operation', 'list_layers', '--onnx_file', file, '--json']);
    assert.equal(listed.code, 0, listed.err);
    const points = (JSON.parse(listed.out) as { split_points: { index: number; split_layer: string; tensor_bytes: number }[] }).split_points;
    const markers = [...groups(svg, 'node').values()]
      .map(([a]) => a!)
      .filter((a) => a['data-split'] !== undefined)
      .map((a) => ({ index: Number(a['data-split']), split_layer: unescape(a['data-split-layer']!), tensor_bytes: Number(a['data-bytes']) }))
      .sort((x, y) => x.index - y.index);
    assert.deepEqual(markers, points.map((p) => ({ index: p.index, split_layer: p.split_layer, tensor_bytes: p.tensor_bytes })), file);
    assert.ok(points.length > 3);
  }
});

/** The data nodes of each part split_model writes, by name, and the tensors that cross (`cut`: --split_layer L or --cut_file F). */
async function partNodeNames(file: string, layer: string, dir: string, cut = ['--split_layer', layer]): Promise<{ edge: Set<string>; cloud: Set<string>; cutTensors: Set<string> }> {
  const r = await cli(['--operation', 'split_model', '--onnx_file', file, ...cut, '--onnx_path', dir]);
  assert.equal(r.code, 0, r.err);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { splits: { parts: string[]; cut_tensors: { name: string }[] }[] };
  const [p1, p2] = manifest.splits[0]!.parts;
  const names = async (part: string) => {
    const g = (await loadModel(join(dir, part))).proto.graph!;
    const index = indexGraph(g);
    return new Set(index.dataNodes.map((n) => g.node![n]!.name!));
  };
  return { edge: await names(p1!), cloud: await names(p2!), cutTensors: new Set(manifest.splits[0]!.cut_tensors.map((t) => t.name)) };
}

test('--split_layer colours exactly the edge part\'s nodes edge and the rest cloud, and draws the cut tensors red', async () => {
  const dir = await temp('graph-sides');
  for (const name of ['inception_like', 'resnet_like', 'transformer_block']) {
    const file = writeZooModel(name, dir);
    const listed = JSON.parse((await cli(['--operation', 'list_layers', '--onnx_file', file, '--json'])).out) as {
      split_points: { index: number; split_layer: string; cut_tensors: { name: string }[] }[];
    };
    const point = listed.split_points[Math.floor(listed.split_points.length / 2)]!;
    const parts = await partNodeNames(file, point.split_layer, join(dir, `${name}-parts`));
    for (const how of [String(point.index), point.split_layer]) {
      const { svg, run } = await showGraph(file, '--split_layer', how);
      assert.match(run.out, new RegExp(`coloured for split ${point.index} `));
      const boxes = [...groups(svg, 'node').values()].map(([a]) => a!).filter((a) => a.class === 'node op');
      const side = (s: string) => new Set(boxes.filter((a) => a['data-side'] === s).map((a) => unescape(a['data-name']!)));
      assert.deepEqual(side('edge'), parts.edge, `${name} at ${how}`);
      assert.deepEqual(side('cloud'), parts.cloud, `${name} at ${how}`);
      assert.equal(side('edge').size + side('cloud').size, boxes.length);
      const cut = new Set([...groups(svg, 'edge').values()].map(([a]) => a!).filter((a) => a.class === 'edge cut').map((a) => unescape(a['data-tensor']!)));
      assert.deepEqual(cut, new Set(point.cut_tensors.map((t) => t.name)), `${name} at ${how}`);
    }
  }
});

test('--cut_file colours the cut file\'s edge nodes edge and the rest cloud, and draws the tensors that cross red, as split_model --cut_file cuts', async () => {
  const dir = await temp('graph-cut-file');
  const file = writeZooModel('inception_like', dir);
  const g = (await loadModel(file)).proto.graph!;
  const index = indexGraph(g);
  // One branch of the first Concat on the edge, with all it reads: a cut that is no split point.
  const concat = index.dataNodes.find((n) => g.node![n]!.opType === 'Concat')!;
  const edge = new Set<number>();
  const visit = (n: number) => {
    if (edge.has(n) || !index.dataNodes.includes(n)) return;
    edge.add(n);
    for (const t of g.node![n]!.input!) if (index.producer.has(t)) visit(index.producer.get(t)!);
  };
  visit(index.producer.get(g.node![concat]!.input![1]!)!);
  const cutFile = join(dir, 'edge.json');
  await writeFile(cutFile, JSON.stringify({ edge_nodes: [...edge].map((n) => g.node![n]!.name!) }));
  const parts = await partNodeNames(file, '', join(dir, 'parts'), ['--cut_file', cutFile]);
  const { svg, html, run } = await showGraph(file, '--cut_file', cutFile);
  assert.match(run.out, new RegExp(`, coloured for the cut of ${cutFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(${edge.size} edge nodes, ${parts.cutTensors.size} cut tensors?\\)$`));
  const boxes = [...groups(svg, 'node').values()].map(([a]) => a!).filter((a) => a.class === 'node op');
  const side = (s: string) => new Set(boxes.filter((a) => a['data-side'] === s).map((a) => unescape(a['data-name']!)));
  assert.deepEqual(side('edge'), parts.edge);
  assert.deepEqual(side('cloud'), parts.cloud);
  assert.ok(parts.edge.size > 0 && parts.cloud.size > 0);
  const cut = new Set([...groups(svg, 'edge').values()].map(([a]) => a!).filter((a) => a.class === 'edge cut').map((a) => unescape(a['data-tensor']!)));
  assert.deepEqual(cut, parts.cutTensors);
  // The legend and the page's key name the cut file, not a split point it is not.
  assert.match(svg, /coloured for the cut of edge\.json: edge blue, cloud yellow/);
  assert.match(html, /cut of edge\.json:/);
  assert.doesNotMatch(svg, /coloured for split \d+ \(cut:/);
  // A cut file that equals a split point is drawn as that split point.
  const prefix = join(dir, 'prefix.json');
  await writeFile(prefix, JSON.stringify({ edge_nodes: [g.node![index.dataNodes[0]!]!.name!] }));
  const asPoint = await showGraph(file, '--cut_file', prefix);
  assert.match(asPoint.run.out, /, coloured for split 1 \(/);
});

test('--cut_file is refused in one line when it cannot be read or is no cut, and with --split_layer or --netron', async () => {
  const dir = await temp('graph-cut-file-bad');
  const file = writeZooModel('lenet5', dir);
  const notClosed = join(dir, 'open.json');
  await writeFile(notClosed, JSON.stringify({ edge_nodes: ['relu_0'] }));
  const cases: [string[], RegExp][] = [
    [['--cut_file', join(dir, 'missing.json')], /cut file .*missing\.json: cannot read it \(no such file\)/],
    [['--cut_file', notClosed], /not closed under predecessors/],
    [['--cut_file', notClosed, '--split_layer', '3'], /cut_file|split_layer/],
    [['--cut_file', notClosed, '--netron'], /netron/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(['--operation', 'show_graph', '--onnx_file', file, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.errLines.length, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
  }
  assert.ok(!existsSync(join(dir, 'lenet5.graph.svg')));
});

test('--onnx_path puts the files in that folder; vit_b_16 draws every attention block', async () => {
  const dir = await temp('graph-path');
  const file = join(dir, 'vit_b_16.onnx');
  writeFileSync(file, encodeModel(vitB16Like()));
  const out = join(dir, 'pictures', 'here');
  const r = await cli(['--operation', 'show_graph', '--onnx_file', file, '--onnx_path', out]);
  assert.equal(r.code, 0, r.err);
  assert.ok(!existsSync(join(dir, 'vit_b_16.graph.svg')));
  const svg = await readFile(join(out, 'vit_b_16.graph.svg'), 'utf8');
  assert.ok(existsSync(join(out, 'vit_b_16.graph.html')));
  const ops = [...groups(svg, 'node').values()].map(([a]) => a!['data-op']);
  assert.equal(ops.filter((o) => o === 'Softmax').length, 12);
  assert.equal(ops.filter((o) => o === 'LayerNormalization').length, 25);
  assert.ok(ops.length >= 400, `${ops.length} boxes`);
});

test('bad input is refused in one line', async () => {
  const dir = await temp('graph-bad');
  const file = writeZooModel('lenet5', dir);
  const cases: [string[], RegExp][] = [
    [['--onnx_file', join(dir, 'missing.onnx')], /missing\.onnx: no such file/],
    [['--onnx_file', file, '--split_layer', '999'], /split point 999 is out of range; .* has split points 0\.\.\d+/],
    [['--onnx_file', file, '--split_layer', 'no_such_layer'], /no layer named 'no_such_layer'/],
    [['--onnx_file', join(dir, 'missing.onnx'), '--netron'], /missing\.onnx: no such file/],
    [['--onnx_file', file, '--netron', '--split_layer', '1'], /--netron/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(['--operation', 'show_graph', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.errLines.length, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    // A split point the model does not have is a bad argument.
    if (args.includes('--split_layer') && !args.includes('--netron')) assert.equal(r.code, 2, args.join(' '));
  }
  assert.ok(!existsSync(join(dir, 'lenet5.graph.svg')));
});

test('--netron runs the netron on PATH with the model, without a shell; a clear message when there is none', async () => {
  const dir = await temp('graph-netron');
  const file = writeZooModel('lenet5', dir);
  const none = await cli(['--operation', 'show_graph', '--onnx_file', file, '--netron'], { env: { PATH: join(dir, 'empty') } });
  assert.notEqual(none.code, 0);
  assert.equal(none.errLines.length, 1);
  assert.match(none.err, /no netron executable on PATH/);

  const bin = join(dir, 'bin');
  await mkdir(bin);
  const fake = join(bin, 'netron');
  // A stand-in that records its arguments; a shell would split or expand the odd file name.
  await writeFile(fake, `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(join(dir, 'args.json'))}, JSON.stringify(process.argv.slice(2)));\nconsole.log('Serving at http://localhost:8080');\nprocess.exit(3);\n`);
  await chmod(fake, 0o755);
  const odd = join(dir, 'a model; $(touch x) *.onnx');
  await writeFile(odd, await readFile(file));
  const r = await cli(['--operation', 'show_graph', '--onnx_file', odd, '--netron'], { env: { PATH: `${bin}:${dirname(process.execPath)}` } });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'args.json'), 'utf8')), [odd]);
  assert.match(r.out, /Serving at http:\/\/localhost:8080/);
  assert.equal(r.code, 3, 'Netron\'s exit status is the operation\'s');
  assert.ok(!existsSync(join(process.cwd(), 'x')));
});

test('no two boxes overlap and no shape label sits on a box, on DenseNet-121, ViT-B/16 and PP-OCRv4 det', async () => {
  const det = realModels.find((m) => m.name === 'ppocrv4_det')!;
  const subjects = [
    { name: 'densenet121', model: modelFromBytes(encodeModel(densenet121Like()), { file: 'densenet121.onnx' }), inputs: [] },
    { name: 'vit_b_16', model: modelFromBytes(encodeModel(vitB16Like()), { file: 'vit_b_16.onnx' }), inputs: [] },
    await realSubject(det),
  ];
  type Box = { x: number; y: number; width: number; height: number; id: string };
  const apart = (a: Box, b: Box) => Math.abs(a.x - b.x) * 2 >= a.width + b.width || Math.abs(a.y - b.y) * 2 >= a.height + b.height;
  for (const s of subjects) {
    const layout = layoutGraph(modelGraph(await analyze(s)), humanBytes);
    const boxes = [...layout.nodes].sort((a, b) => a.y - b.y);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length && boxes[j]!.y - boxes[i]!.y < 100; j++) {
        assert.ok(apart(boxes[i]!, boxes[j]!), `${s.name}: ${boxes[i]!.id} and ${boxes[j]!.id} overlap`);
      }
    }
    const labels = layout.edges.filter((e) => e.label).map((e) => ({ id: e.id, x: e.label!.x, y: e.label!.y, width: e.label!.width, height: 11 }));
    for (const l of labels) for (const b of boxes) if (Math.abs(b.y - l.y) < 40) assert.ok(apart(l, b), `${s.name}: the label of ${l.id} is on ${b.id}`);
    assert.ok(layout.height < 32767, `${s.name}: ${layout.height} px tall, more than an SVG rasteriser takes`);
  }
});

/** Whether the polyline through `points` passes through the box (sampled every half unit). */
function crosses(points: readonly (readonly [number, number])[], box: { x: number; y: number; width: number; height: number }): boolean {
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1]!;
    const [x1, y1] = points[i]!;
    const steps = Math.max(1, Math.ceil(2 * Math.hypot(x1 - x0, y1 - y0)));
    for (let k = 0; k <= steps; k++) {
      const x = x0 + ((x1 - x0) * k) / steps;
      const y = y0 + ((y1 - y0) * k) / steps;
      if (x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height) return true;
    }
  }
  return false;
}

test("lenet5 at split 5: every shape label sits beside its arrow, the cut's too, and the page's header has the colour key", async () => {
  const dir = await temp('graph-labels');
  const file = writeZooModel('lenet5', dir);
  const { svg, html } = await showGraph(file, '--split_layer', '5');
  const edges = [...svg.matchAll(/<g id="([^"]+)" class="edge( cut)?"[^>]*>(.*?)<\/g>/g)];
  assert.equal(edges.length, 13);
  let cuts = 0;
  for (const [, id, cut, body] of edges) {
    // The path's points (its control points included: the curve stays within them).
    const d = /<path d="([^"]+)"/.exec(body!)![1]!;
    const points = [...d.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    const rect = /<rect x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(body!)!;
    const box = { x: Number(rect[1]), y: Number(rect[2]), width: Number(rect[3]), height: Number(rect[4]) };
    assert.ok(!crosses(points, box), `${id}: its label ${JSON.stringify(box)} is on its arrow ${d}`);
    const text = /<text x="([-\d.]+)"[^>]*>([^<]+)<\/text>/.exec(body!)!;
    assert.ok(Number(text[1]) > Math.max(...points.map((p) => p[0])), `${id}: the label is right of the arrow`);
    if (cut) {
      cuts++;
      assert.equal(text[2], '1x16x10x10');
    }
  }
  assert.equal(cuts, 1, 'one cut edge');
  // The header's key: the colours of the edge and cloud boxes and of the crossing edges.
  const header = /<header>(.*?)<\/header>/s.exec(html)![1]!;
  const key = /<span class="key" id="key">(.*?)<\/span>(?=<input)/s.exec(header)?.[1];
  assert.ok(key, `a key in the header: ${header}`);
  assert.match(key!, /split 5 \(relu_1_out\):/);
  assert.match(key!, /<span class="swatch edge" style="background: #bfdbfe"><\/span> edge/);
  assert.match(key!, /<span class="swatch cloud" style="background: #fde68a"><\/span> cloud/);
  assert.match(key!, /<span class="swatch crossing"><\/span> crossing \(6\.25 KiB\)/);
  assert.match(html, /\.swatch\.crossing \{[^}]*border-top: 3px solid #dc2626/);
});

test('the SVG and the HTML are written both or neither: a page that cannot be written leaves no SVG', async () => {
  const dir = await temp('graph-all-or-nothing');
  const file = writeZooModel('lenet5', dir);
  // The page's name is taken by a folder: the HTML cannot be written.
  await mkdir(join(dir, 'lenet5.graph.html'));
  const r = await cli(['--operation', 'show_graph', '--onnx_file', file]);
  assert.notEqual(r.code, 0, r.err);
  assert.equal(r.errLines.length, 1, r.err);
  assert.match(r.err, /lenet5\.graph\.html/);
  assert.ok(!existsSync(join(dir, 'lenet5.graph.svg')), 'no SVG without its page');
  assert.deepEqual((await readdir(dir)).sort(), ['lenet5.graph.html', 'lenet5.onnx'], 'no temporary left');
});
