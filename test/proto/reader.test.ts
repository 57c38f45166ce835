import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { ProtoReader, scanFields, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireError } from '../../src/proto/reader.js';
import { keyOf } from '../../src/proto/writer.js';
import { seededRandom } from '../../src/tensor/host.js';

const Long = protobuf.util.Long as unknown as { fromString(s: string, unsigned: boolean): unknown };

/** The varint protobufjs writes for an unsigned 64-bit value. */
function varint64(v: bigint): Uint8Array {
  return protobuf.Writer.create().uint64(Long.fromString(v.toString(), true) as number).finish();
}

function wireError(fn: () => unknown, message: RegExp, truncated: boolean): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof WireError, `WireError, got ${String(e)}`);
    assert.ok(e instanceof RangeError);
    assert.match(e.message, message);
    assert.equal(e.truncated, truncated, `truncated flag for ${e.message}`);
    return true;
  });
}

describe('proto reader: varints', () => {
  it('reads values up to 2^53 exactly, byte lengths 1..8', () => {
    const values = [0, 1, 127, 128, 300, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 7, Number.MAX_SAFE_INTEGER];
    for (const v of values) {
      const bytes = varint64(BigInt(v));
      const r = new ProtoReader(bytes);
      assert.equal(r.varint(), v, `value ${v}`);
      assert.equal(r.pos, bytes.length, `length of ${v}`);
      assert.equal(r.low32, Number(BigInt.asIntN(32, BigInt(v))), `low32 of ${v}`);
    }
  });

  it('reads 64-bit values beyond 2^53 without error: the nearest double, and the low 32 bits exactly', () => {
    const rand = seededRandom(5);
    const values = [2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 0xdeadbeefcafebaben];
    for (let i = 0; i < 500; i++) values.push((BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32)));
    for (const v of values) {
      const bytes = varint64(v);
      const r = new ProtoReader(bytes);
      const got = r.varint();
      assert.equal(r.pos, bytes.length);
      assert.ok(Math.abs(got - Number(v)) <= Number(v) * 2 ** -50, `${v}: got ${got}`);
      assert.equal(r.low32, Number(BigInt.asIntN(32, v)), `low32 of ${v}`);
    }
    // At or above 2^63 compares as such (the payload refuses such dims as negative).
    assert.ok(new ProtoReader(varint64(2n ** 63n)).varint() >= 2 ** 63);
    assert.ok(new ProtoReader(varint64(2n ** 53n)).varint() > Number.MAX_SAFE_INTEGER);
  });

  it('negative int32 values (ten-byte varints) come back through low32', () => {
    for (const v of [-1, -5, -(2 ** 31), -123456]) {
      const bytes = protobuf.Writer.create().int32(v).finish();
      assert.equal(bytes.length, 10);
      const r = new ProtoReader(bytes);
      r.varint();
      assert.equal(r.low32, v);
    }
  });

  it('a varint cut short is truncated; one past 64 bits is malformed', () => {
    wireError(() => new ProtoReader(Uint8Array.of(0x80)).varint(), /^truncated protobuf at byte 1 \(varint from byte 0\)$/, true);
    wireError(() => new ProtoReader(Uint8Array.of(0x01, 0xff, 0xff), 1).varint(), /^truncated protobuf at byte 3 \(varint from byte 1\)$/, true);
    wireError(() => new ProtoReader(new Uint8Array(0)).varint(), /truncated/, true);
    // the tenth byte may only carry bit 63
    wireError(() => new ProtoReader(Uint8Array.of(...new Array(9).fill(0xff), 0x02)).varint(), /^malformed varint at byte 0$/, false);
    wireError(() => new ProtoReader(Uint8Array.of(...new Array(10).fill(0x80), 0x00)).varint(), /^malformed varint at byte 0$/, false);
  });

  it('stops at `end` even where the buffer goes on', () => {
    const bytes = Uint8Array.of(0x96, 0x01, 0x05);
    wireError(() => new ProtoReader(bytes, 0, 1).varint(), /truncated protobuf at byte 1/, true);
    const r = new ProtoReader(bytes, 0, 2);
    assert.equal(r.varint(), 150);
    assert.ok(r.done);
  });
});

describe('proto reader: fields', () => {
  it('keys: field number and wire type; field 0, keys of 2^32 and more, and groups are refused', () => {
    const r = new ProtoReader(Uint8Array.of(0xfa, 0x3e, 0x00));
    assert.equal(r.key(), 1007);
    assert.equal(r.wire, WIRE_LEN);
    assert.equal(r.fieldStart, 0);
    wireError(() => new ProtoReader(Uint8Array.of(0x02)).key(), /^invalid field number 0 at byte 0$/, false);
    wireError(() => new ProtoReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10)).key(), /^invalid field key at byte 0$/, false);
    const group = new ProtoReader(Uint8Array.of(0x0b, 0x0c));
    wireError(() => group.skip(group.key()), /^unsupported wire type 3 of field 1 at byte 0$/, false);
  });

  it('a length-delimited field past the end is truncated and says how much is missing', () => {
    const bytes = Uint8Array.of(0x08, 0x01, 0x12, 0x05, 0x41, 0x42);
    const r = new ProtoReader(bytes, 0, bytes.length, 'tensor 2');
    r.skip(r.key());
    assert.equal(r.key(), 2);
    wireError(() => r.lengthDelimited(2), /^truncated protobuf at byte 6: field 2 at byte 2 needs 5 bytes, 2 left in tensor 2$/, true);
    // a length that fits the buffer but not the message's `end`
    const inner = new ProtoReader(Uint8Array.of(0x0a, 0x02, 0x41, 0x42, 0x43), 0, 3);
    wireError(() => inner.skip(inner.key()), /needs 2 bytes, 1 left/, true);
  });

  it('fixed64, double and fixed32 fields; cut short they are truncated', () => {
    const w = protobuf.Writer.create();
    w.uint32(keyOf(1, WIRE_I64)).fixed64(2 ** 40 + 3);
    w.uint32(keyOf(2, WIRE_I64)).double(-1.5e-7);
    w.uint32(keyOf(3, WIRE_I32)).fixed32(7);
    const bytes = w.finish();
    const r = new ProtoReader(bytes);
    assert.equal(r.key(), 1);
    assert.equal(r.fixed64(1), 2 ** 40 + 3);
    assert.equal(r.key(), 2);
    assert.equal(r.double(2), -1.5e-7);
    assert.equal(r.key(), 3);
    assert.equal(r.wire, WIRE_I32);
    r.skip(3);
    assert.ok(r.done);
    for (let cut = 1; cut < 9; cut++) {
      const c = new ProtoReader(bytes.subarray(0, cut));
      wireError(() => c.fixed64(c.key()), new RegExp(`^truncated protobuf at byte ${cut}: field 1 at byte 0 needs 8 bytes, ${cut - 1} left$`), true);
    }
    const last = new ProtoReader(bytes, bytes.length - 5, bytes.length - 2);
    wireError(() => last.skip(last.key()), /field 3 at byte \d+ needs 4 bytes, 2 left/, true);
  });

  it('scanFields gives each field its byte ranges, for every wire type', () => {
    const w = protobuf.Writer.create();
    w.uint32(keyOf(1, WIRE_VARINT)).int64(-1); // ten bytes
    w.uint32(keyOf(2, WIRE_LEN)).string('abc');
    w.uint32(keyOf(3, WIRE_I64)).double(1);
    w.uint32(keyOf(4, WIRE_I32)).float(1);
    w.uint32(keyOf(1000, WIRE_LEN)).bytes(new Uint8Array(200));
    const bytes = w.finish();
    assert.deepEqual(scanFields(bytes), [
      { field: 1, wireType: 0, start: 0, dataStart: 1, end: 11 },
      { field: 2, wireType: 2, start: 11, dataStart: 13, end: 16 },
      { field: 3, wireType: 1, start: 16, dataStart: 17, end: 25 },
      { field: 4, wireType: 5, start: 25, dataStart: 26, end: 30 },
      { field: 1000, wireType: 2, start: 30, dataStart: 34, end: 234 },
    ]);
    assert.deepEqual(scanFields(bytes, 11, 16), [{ field: 2, wireType: 2, start: 11, dataStart: 13, end: 16 }]);
    assert.deepEqual(scanFields(bytes, 5, 5), []);
    wireError(() => scanFields(bytes, 0, 233), /truncated protobuf at byte 233: field 1000 at byte 30 needs 200 bytes, 199 left/, true);
  });

  it('every cut of a message is refused as truncated, never read past', () => {
    const w = protobuf.Writer.create();
    w.uint32(keyOf(1, WIRE_VARINT)).uint64(2 ** 50);
    w.uint32(keyOf(2, WIRE_LEN)).bytes(new Uint8Array(130));
    w.uint32(keyOf(3, WIRE_I64)).fixed64(9);
    w.uint32(keyOf(4, WIRE_I32)).fixed32(9);
    const bytes = w.finish();
    const ends = new Set(scanFields(bytes).map((f) => f.end));
    for (let n = 1; n < bytes.length; n++) {
      if (ends.has(n)) assert.ok(scanFields(bytes, 0, n).length > 0);
      else wireError(() => scanFields(bytes, 0, n), /^truncated protobuf at byte \d+/, true);
    }
  });
});
