// Native checks of the SDK's packed-value reader and writer: `node --test`.
// The host's own packer is checked against the same layout in crates/packed;
// host/tests/polyglot.rs runs flatten-js on values packed by the host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value, pack } from './value.js';
import { record } from './testing.js';
import { row } from './index.js';

test('the layout is the documented one, byte for byte', () => {
  // {"a": 7}: two nodes (object, integer), one field, text "a".
  const b = pack({ a: 7 });
  const u32 = (at) => new DataView(b.buffer).getUint32(at, true);
  assert.deepEqual([...b.subarray(0, 4)], [0x53, 0x4c, 0x56, 0x31], 'magic SLV1');
  assert.deepEqual([1, 2, 3, 4, 5].map((i) => u32(4 * i)), [2, 0, 1, 1, 0], 'nodes, items, fields, text, bytes');
  assert.equal(b.length, 24 + 2 * 16 + 12 + 1);
  assert.deepEqual([b[24], u32(28), u32(32)], [7, 1, 0], 'root: object of 1 field from field 0');
  assert.deepEqual([b[40], u32(48)], [2, 7], 'node 1: integer 7');
  assert.deepEqual([u32(56), u32(60), u32(64)], [0, 1, 1], 'field: name at 0, length 1, node 1');
  assert.equal(String.fromCharCode(b[68]), 'a');
});

test('paths, kinds and scalars read back', () => {
  const v = Value.root(
    pack({ name: { first: 'Zoë' }, n: 4821, big: 2n ** 62n, f: 1.5, yes: true, none: null, tags: ['a', 'b'], raw: new Uint8Array([1, 2]) }),
  );
  assert.equal(v.requireStr('name.first'), 'Zoë');
  assert.equal(v.lookup('n').asInt(), 4821n);
  assert.equal(v.lookup('big').asInt(), 2n ** 62n);
  assert.equal(v.requireText('n'), '4821');
  assert.equal(v.requireText('f'), '1.5');
  assert.equal(v.requireText('yes'), 'true');
  assert.equal(v.lookup('none').kind(), 'null');
  assert.deepEqual(v.lookup('tags').items().map((x) => x.asStr()), ['a', 'b']);
  assert.deepEqual([...v.lookup('raw').asBytes()], [1, 2]);
  assert.deepEqual(v.entries().map(([k]) => k), ['name', 'n', 'big', 'f', 'yes', 'none', 'tags', 'raw']);
  assert.equal(v.lookup('name.last'), undefined);
});

test('errors name the field as the Rust SDK does', () => {
  const v = Value.root(pack({ login: { uuid: null }, age: 3 }));
  assert.throws(() => v.require('email'), { field: 'email', message: 'field `email` is missing' });
  assert.throws(() => v.require('login.uuid'), { message: 'field `login.uuid` is null' });
  assert.throws(() => v.requireStr('age'), { message: 'field `age` must be text, found integer' });
});

test('a buffer that is not a packed value reads as null, never a crash', () => {
  for (const bad of [new Uint8Array(0), new Uint8Array(30), pack({ a: 1 }).subarray(0, 40)]) {
    const v = Value.root(bad);
    assert.equal(v.kind(), 'null');
    assert.equal(v.lookup('a'), undefined);
  }
  // A node pointing past its section reads as null.
  const b = pack({ a: 'x' });
  new DataView(b.buffer).setUint32(40 + 8, 999, true); // node 1's text offset
  assert.equal(Value.root(b).lookup('a').kind(), 'null');
});

test('records and rows have the shapes the world gives them', () => {
  const r = record({ a: 1 });
  assert.ok(r.value instanceof Uint8Array);
  assert.deepEqual(row().text('a', 'x').build(), {
    table: undefined,
    columns: [{ name: 'a', value: { tag: 'text', val: 'x' } }],
    kind: 'upsert',
    ttlSeconds: undefined,
    writeTimeMicros: undefined,
  });
  const d = row('t').uuid('id', 'u').delete().ttlSeconds(60).writeTimeMicros(5).build();
  assert.deepEqual([d.kind, d.ttlSeconds, d.writeTimeMicros], ['delete', 60, 5n]);
});

test('names and text that are not ASCII, and repeated names, read as the Rust SDK reads them', () => {
  const v = Value.root(pack({ 'straße': { 'ort': 'Zürich' }, city: 'Köln', plain: 'x', n: 5 }));
  assert.equal(v.requireStr('straße.ort'), 'Zürich');
  assert.equal(v.get('straße').requireStr('ort'), 'Zürich');
  assert.equal(v.requireText('city'), 'Köln');
  assert.equal(v.requireStr('plain'), 'x');
  assert.equal(v.lookup('strasse'), undefined);
  assert.throws(() => v.requireStr('n'), { message: 'field `n` must be text, found integer' });
  // Two fields called `a` (a producer's JSON may repeat a name): the first one wins.
  const b = pack({ a: 'first', b: 'second' });
  const names = b.indexOf('b'.charCodeAt(0), 24 + 3 * 16 + 2 * 12);
  b[names] = 'a'.charCodeAt(0);
  assert.equal(Value.root(b).requireStr('a'), 'first');
});
