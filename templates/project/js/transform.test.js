// Native unit tests of the {{name}} logic (no Wasm): `node --test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { record } from './node_modules/sluice-plugin/testing.js';
import { init, metadata, transform } from './transform.js';

const ID = '8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10';

/** A user as the host hands it over, reduced to what the transform reads. */
const user = () => ({
  name: { title: 'Mme', first: 'Zoë', last: 'Lefèvre' },
  email: 'zoe.lefevre@example.com',
  login: { uuid: ID, username: 'bluecat511' },
  nat: 'FR',
});

test('a user becomes one row', () => {
  init([]);
  const [outcome] = transform([record(user())]);
  assert.equal(outcome.tag, 'rows');
  const [row] = outcome.val;
  assert.equal(row.table, undefined, 'the default table');
  assert.deepEqual(row.columns.map((c) => c.name), ['id', 'first_name', 'last_name', 'email']);
  assert.deepEqual(row.columns[0].value, { tag: 'uuid', val: ID });
  assert.deepEqual(row.columns[3].value, { tag: 'text', val: 'zoe.lefevre@example.com' });
});

test('a missing field is bad input naming it', () => {
  const u = user();
  delete u.email;
  const [outcome] = transform([record(u)]);
  assert.equal(outcome.tag, 'bad-input');
  assert.equal(outcome.val.field, 'email');
});

test('unknown settings are refused', () => {
  assert.throws(() => init([['colour', 'red']]), /colour/);
});

test('metadata names the plugin', () => {
  assert.equal(metadata().name, '{{name}}');
});
