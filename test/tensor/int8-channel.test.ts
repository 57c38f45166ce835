/**
 * int8 per channel (--tensor_codec int8:axis=N): every cut tensor of zoo models round-trips
 * within its channel's scale/2, channel by channel; each channel has its own scale and zero
 * point in the body; tensors without the axis go per tensor; NaN/Inf are sent raw; a corrupted
 * body (CRC) or one whose header does not fit the tensor is refused in one line; the flag is
 * checked; run_all sends it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { HostTensor } from '../../src/runtime/session.js';
import { CodecError, decodeTensors, encodeTensors, int8Channel, isTensorCodecName, tensorCodec } from '../../src/tensor/codecs/index.js';
import { randomTensor } from '../../src/tensor/host.js';
import { decodePayload, encodePayload, PayloadError, type Payload } from '../../src/tensor/payload/index.js';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';
import { cutTensors } from './cut-tensors.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-int8c-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Per channel along `axis` of `t`: its scale and zero point read from the body, and every element within scale/2. */
async function checkChannels(t: HostTensor, axis: number, what: string): Promise<void> {
  const codec = int8Channel(axis);
  const coded = await codec.encode(t);
  const x = t.data as Float32Array;
  if (x.some((v) => !Number.isFinite(v))) {
    assert.equal(coded, undefined, `${what}: NaN/Inf sent raw`);
    return;
  }
  assert.ok(coded, what);
  const rank = t.dims.length;
  const a = axis < 0 ? rank + axis : axis;
  if (a < 0 || a >= rank || 5 * t.dims[a]! >= x.length) {
    assert.equal(coded.codec, 'int8', `${what}: no axis ${axis}, or as many parameter bytes as elements: per tensor`);
    return;
  }
  assert.equal(coded.codec, 'int8c');
  const view = new DataView(coded.body.buffer, coded.body.byteOffset, coded.body.byteLength);
  assert.equal(view.getUint32(0, true), a);
  const channels = t.dims[a]!;
  assert.equal(view.getUint32(4, true), channels);
  const back = (await codec.decode(coded, 'float32', t.dims)).data as Float32Array;
  const inner = t.dims.slice(a + 1).reduce((p, d) => p * d, 1);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / inner) % channels;
    const scale = view.getFloat32(8 + 4 * c, true);
    const zp = coded.body[8 + 4 * channels + c]!;
    assert.ok(scale > 0 && zp >= 0 && zp <= 255);
    assert.ok(Math.abs(back[i]! - x[i]!) <= (scale / 2) * (1 + 1e-6) + Math.abs(x[i]!) * 2 ** -23, `${what}: element ${i} (channel ${c}) ${x[i]} came back as ${back[i]} (scale ${scale})`);
  }
}

const payload = (coded: Payload['coded']): Payload => ({ kind: 'input', runId: 'r', splitIndex: 1, rep: 0, nextModels: [], timings: [], tensors: new Map(), ...(coded ? { coded } : {}) });

describe('int8 per channel (int8:axis=N)', () => {
  for (const model of ['lenet5', 'resnet_like', 'mixed_dtypes']) {
    it(`every cut tensor of ${model} within its channel's scale/2, along axis 1 and -1`, async () => {
      const cuts = await cutTensors(model);
      let floats = 0;
      for (const [name, t] of cuts) {
        if (t.type !== 'float32') continue;
        floats++;
        await checkChannels(t, 1, `${model} ${name} axis 1`);
        await checkChannels(t, -1, `${model} ${name} axis -1`);
      }
      assert.ok(floats > 0);
    });
  }

  it('gives each channel its own step: a small channel keeps its precision beside a large one', async () => {
    const data = new Float32Array(2 * 3 * 4);
    for (let i = 0; i < data.length; i++) data[i] = (Math.floor(i / 4) % 3 === 0 ? 1000 : 0.001) * Math.sin(i + 1);
    const t: HostTensor = { type: 'float32', dims: [2, 3, 4], data };
    const per = (await tensorCodec('int8:axis=1')!.decode((await tensorCodec('int8:axis=1')!.encode(t))!, 'float32', t.dims)).data as Float32Array;
    const whole = (await tensorCodec('int8')!.decode((await tensorCodec('int8')!.encode(t))!, 'float32', t.dims)).data as Float32Array;
    const small = [...data.keys()].filter((i) => Math.floor(i / 4) % 3 !== 0);
    const err = (d: Float32Array) => Math.max(...small.map((i) => Math.abs(d[i]! - data[i]!)));
    assert.ok(err(per) < 1e-5, `per channel: ${err(per)}`);
    assert.ok(err(whole) > 5e-4, `per tensor loses the small channels: ${err(whole)}`);
    await checkChannels(t, 1, 'mixed ranges');
  });

  it('odd shapes, empty tensors, NaN/Inf and tensors without the axis', async () => {
    for (const dims of [[0], [3, 0, 5], [1], [7], [3, 5, 7], [1, 1, 1, 13], [], [4, 1], [2, 300, 1], [2, 3, 17], [1, 4, 5, 3]]) {
      const t = randomTensor('float32', dims, 9);
      for (const axis of [0, 1, 2, -1, -3]) await checkChannels(t, axis, `[${dims.join(', ')}] axis ${axis}`);
    }
    const nan: HostTensor = { type: 'float32', dims: [2, 2], data: new Float32Array([1, NaN, 2, 3]) };
    await checkChannels(nan, 1, 'NaN');
    await checkChannels({ type: 'float32', dims: [2, 2], data: new Float32Array([1, 2, Infinity, 3]) }, 0, 'Inf');
    assert.equal(await int8Channel(1).encode(randomTensor('int64', [3, 3], 1)), undefined, 'integers raw');
  });

  it('refuses a corrupted body, and one whose header does not fit the tensor, in one line naming the tensor', async () => {
    const t = randomTensor('float32', [2, 8, 4, 4], 4);
    const enc = await encodeTensors(new Map([['cut', t]]), 'int8:axis=1');
    const coded = enc.coded.get('cut')!;
    assert.equal(coded.codec, 'int8c');
    const bytes = Buffer.from(encodePayload(payload(enc.coded)).concat());
    const flipped = Buffer.from(bytes);
    flipped[bytes.length - 20] ^= 0x21;
    assert.throws(() => decodePayload(flipped), (e: Error) => e instanceof PayloadError && /CRC-32/.test(e.message) && /"cut"/.test(e.message) && !e.message.includes('\n'));
    // Bodies that pass their CRC (a sender wrote them so) but do not fit: refused by the codec.
    const withBody = (body: Uint8Array, dims = t.dims) => decodeTensors(decodePayload(encodePayload(payload(new Map([['cut', { ...coded, body, dims: [...dims] }]]))).concat()));
    const axis9 = Uint8Array.from(coded.body);
    new DataView(axis9.buffer).setUint32(0, 9, true);
    await assert.rejects(withBody(axis9), (e: Error) => e instanceof CodecError && /tensor "cut": int8c body .* names axis 9/.test(e.message) && !e.message.includes('\n'));
    const channels = Uint8Array.from(coded.body);
    new DataView(channels.buffer).setUint32(4, 7, true);
    await assert.rejects(withBody(channels), /has 7 channels along axis 1, the tensor 8/);
    await assert.rejects(withBody(coded.body.subarray(0, coded.body.length - 1)), /must be \d+ bytes, got \d+ \(truncated or corrupted\)/);
    await assert.rejects(withBody(coded.body.subarray(0, 5)), /less than its 8-byte header/);
    const zeroScale = Uint8Array.from(coded.body);
    new DataView(zeroScale.buffer).setFloat32(8 + 4 * 3, 0, true);
    await assert.rejects(withBody(zeroScale), /scale of channel 3 must be a positive finite number/);
    await assert.rejects(withBody(coded.body, [2, 8, 4, 5]), /must be \d+ bytes/);
    const back = await withBody(coded.body);
    assert.deepEqual(back.get('cut')!.dims, t.dims, 'the body as sent decodes');
  });

  it('is spelt int8:axis=N; other spellings are refused in one line', async () => {
    for (const ok of ['int8:axis=0', 'int8:axis=1', 'int8:axis=-1']) assert.ok(isTensorCodecName(ok), ok);
    for (const bad of ['int8:axis=', 'int8:axis=x', 'int8:1', 'int8c', 'int8:axis=1 ']) assert.ok(!isTensorCodecName(bad), bad);
    const file = writeZooModel('lenet5', dir);
    const r = await cli(['run_all', '--onnx_file', file, '--tensor_codec', 'int8:channel', '--results_file', join(dir, 'x.csv')]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /--tensor_codec int8:channel: unknown tensor codec \(choose from .*int8:axis=N\)/);
    assert.equal(r.err.trim().split('\n').length, 1);
  });

  it('run_all sends the cut tensors per channel, close to the full model and smaller than raw', async () => {
    const file = writeZooModel('lenet5', dir);
    const csv = join(dir, 'lenet5.csv');
    const r = await cli(['run_all', '--onnx_file', file, '--rep', '1', '--warmup', '0', '--graph_opt', 'disabled', '--threads', '1', '--tensor_codec', 'raw', 'int8:axis=1', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const rows = parse(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
    const coded = rows.filter((x) => x.tensor_codec === 'int8:axis=1' && x.transfer_bytes !== '0');
    assert.ok(coded.length > 0);
    for (const row of coded) {
      const raw = rows.find((x) => x.tensor_codec === 'raw' && x.split_index === row.split_index)!;
      assert.equal(row.status, 'ok', row.error);
      assert.ok(Number(row.transfer_bytes) < Number(raw.transfer_bytes), `split ${row.split_index}: ${row.transfer_bytes} < ${raw.transfer_bytes}`);
      assert.ok(Number(row.max_abs_diff) < 0.05, `split ${row.split_index}: ${row.max_abs_diff}`);
    }
    // plot_results names its chart with file-name characters only.
    const plot = await cli(['plot_results', '--results_file', csv]);
    assert.equal(plot.code, 0, plot.err);
    assert.ok(existsSync(join(dir, 'lenet5.codec-int8-axis-1.png')), plot.out);
    assert.match(readFileSync(join(dir, 'lenet5.codec-int8-axis-1.svg'), 'utf8'), /cut tensors sent as int8:axis=1/);
  });
});
