import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { ProtoReader, WIRE_LEN } from '../../src/proto/reader.js';
import { Chunks, keyOf, lengthDelimitedHeader, ProtoWriter, varintBytes, varintLength, writeVarint } from '../../src/proto/writer.js';
import { seededRandom } from '../../src/tensor/host.js';

describe('proto writer', () => {
  it('varints are what protobufjs writes, up to 2^53 - 1, and read back', () => {
    const rand = seededRandom(3);
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 49, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 300; i++) values.push(Math.floor(rand() * 2 ** Math.floor(rand() * 53)));
    for (const v of values) {
      const want = protobuf.Writer.create().uint64(v).finish();
      const got = varintBytes(v);
      assert.deepEqual(Buffer.from(got), Buffer.from(want), `varint ${v}`);
      assert.equal(varintLength(v), want.length);
      const out = new Uint8Array(12);
      assert.equal(writeVarint(out, 2, v), 2 + want.length);
      assert.equal(new ProtoReader(out, 2).varint(), v);
    }
  });

  it('refuses what a varint of this writer cannot hold', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) {
      assert.throws(() => varintBytes(bad), /cannot encode .* as a varint/, String(bad));
      assert.throws(() => new ProtoWriter().uint(1, bad), RangeError, String(bad));
    }
    assert.throws(() => lengthDelimitedHeader(1, -1), RangeError);
  });

  it('ProtoWriter writes the bytes protobufjs writes for the same message', () => {
    const root = protobuf.Root.fromJSON({
      nested: {
        M: {
          fields: {
            a: { type: 'uint32', id: 1 },
            b: { type: 'fixed64', id: 2 },
            c: { type: 'string', id: 3 },
            d: { type: 'double', id: 4 },
            e: { type: 'bytes', id: 5 },
            n: { type: 'M', id: 6 },
            big: { type: 'string', id: 2047 },
          },
        },
      },
    });
    const M = root.lookupType('M');
    const text = 'héllo 日本語 🙂'.repeat(20); // longer than the writer's first buffer
    const want = M.encode({ a: 300, b: 2 ** 40 + 5, c: text, d: -0.25, e: new Uint8Array([1, 2, 3]), n: { a: 1 }, big: 'x' }).finish();
    const inner = new ProtoWriter().uint(1, 1);
    const got = new ProtoWriter()
      .uint(1, 300)
      .fixed64(2, 2 ** 40 + 5)
      .string(3, text)
      .double(4, -0.25)
      .bytes(5, new Uint8Array([1, 2, 3]))
      .message(6, inner)
      .string(2047, 'x')
      .finish();
    assert.deepEqual(Buffer.from(got), Buffer.from(want));
    assert.ok(Buffer.isBuffer(got));
  });

  it('Chunks frames a length-delimited field around chunks without copying them', () => {
    const big = new Uint8Array(300).fill(7);
    const inner = new Chunks().push(Uint8Array.of(1, 2)).push(new Uint8Array(0)).push(big);
    assert.equal(inner.parts.length, 2, 'empty chunks are dropped');
    const outer = new Chunks().field(5, inner).field(6, Uint8Array.of(9));
    assert.equal(outer.parts[2], big, 'the chunk itself, not a copy');
    const bytes = outer.concat();
    assert.equal(bytes.length, outer.byteLength);
    const r = new ProtoReader(bytes);
    assert.equal(r.key(), 5);
    assert.equal(r.wire, WIRE_LEN);
    const s = r.lengthDelimited(5);
    assert.deepEqual([...bytes.subarray(s, s + 3)], [1, 2, 7]);
    assert.equal(r.pos - s, 302);
    assert.equal(r.key(), 6);
    assert.deepEqual([...bytes.subarray(r.lengthDelimited(6), r.pos)], [9]);
    assert.ok(r.done);
    assert.deepEqual([...lengthDelimitedHeader(1000, 300)], [...varintBytes(keyOf(1000, WIRE_LEN)), ...varintBytes(300)]);
    const one = Uint8Array.of(4);
    assert.equal(new Chunks().push(one).concat(), one, 'a single chunk is returned as is');
  });
});
