// Native checks of flatten.js (no Wasm): `npm test` or `node --test`.
// The cross-language comparison with the Rust plugin is host/tests/polyglot.rs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { init, metadata, transform } from './flatten.js';
import { pack } from '../../sdk/js/value.js';

/** A JSON value packed the way the host packs it (sluice:transform `packed-value`). */
const tree = pack;

const user = () => ({
  gender: 'female',
  name: { title: 'Mme', first: 'Zoë', last: 'Lefèvre' },
  location: {
    street: { number: 4821, name: "Rue de l'Abbé-Grégoire" },
    city: 'Besançon', state: 'Doubs', country: 'France', postcode: 25000,
  },
  email: 'zoe.lefevre@example.com',
  login: { uuid: '8F0B1C5E-3A43-4D9B-9C5E-0E2B6B1F7A10', username: 'bluecat511' },
  dob: { date: '1993-07-20T09:44:18.674Z', age: 31 },
  registered: { date: '2015-02-03T04:05:06.007Z', age: 9 },
  phone: '03-12-34-56-78',
  picture: { medium: 'https://randomuser.me/api/portraits/med/women/1.jpg' },
});

const run = (u) => transform([{ value: tree(u) }])[0];
const columns = (u) => {
  const o = run(u);
  assert.equal(o.tag, 'rows', o.tag === 'rows' ? '' : o.val.message);
  return Object.fromEntries(o.val[0].columns.map((c) => [c.name, c.value]));
};

test('flattens every column', () => {
  init([]);
  const c = columns(user());
  assert.equal(Object.keys(c).length, 12);
  assert.deepEqual(c.id, { tag: 'uuid', val: '8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10' });
  assert.deepEqual(c.address, { tag: 'text', val: "4821 Rue de l'Abbé-Grégoire, Besançon, Doubs, France" });
  assert.deepEqual(c.post_code, { tag: 'text', val: '25000' });
  assert.deepEqual(c.dob, { tag: 'timestamp', val: 743161458674n });
  assert.deepEqual(c.registered_date, { tag: 'timestamp', val: 1422936306007n });
});

test('postcodes render like Rust', () => {
  init([]);
  for (const [postcode, want] of [['SW1A 1AA', 'SW1A 1AA'], [1.5, '1.5'], [1e21, '1000000000000000000000'], [1e-7, '0.0000001'], [true, 'true']]) {
    const u = user();
    u.location.postcode = postcode;
    assert.equal(columns(u).post_code.val, want);
  }
});

test('dates parse like the Rust SDK', () => {
  init([]);
  for (const [date, want] of [['1970-01-01T00:00:00Z', 0n], ['2000-02-29T12:00:00.5+01:00', 951822000500n], ['1960-01-01T00:00:00Z', -315619200000n]]) {
    const u = user();
    u.dob.date = date;
    assert.equal(columns(u).dob.val, want);
  }
});

test('bad fields are named', () => {
  init([]);
  const cases = [
    [(u) => { delete u.email; }, 'email', 'field `email` is missing'],
    [(u) => { u.login.uuid = null; }, 'login.uuid', 'field `login.uuid` is null'],
    [(u) => { u.login.uuid = 'not-a-uuid'; }, 'login.uuid', 'field `login.uuid` is not a UUID: "not-a-uuid"'],
    [(u) => { u.name.first = 42; }, 'name.first', 'field `name.first` must be text, found integer'],
    [(u) => { u.dob.date = 'yesterday'; }, 'dob.date', 'field `dob.date` is not an RFC 3339 timestamp: "yesterday"'],
    [(u) => { u.location.postcode = { a: 1 }; }, 'location.postcode', 'field `location.postcode` must be text or a number, found object'],
  ];
  for (const [mutate, field, message] of cases) {
    const u = user();
    mutate(u);
    assert.deepEqual(run(u), { tag: 'bad-input', val: { field, message } });
  }
});

test('config is checked', () => {
  assert.throws(() => init([['colour', 'red']]), (e) => e.includes('colour'));
  assert.throws(() => init([['version-column', '']]), (e) => e.includes('version-column'));
  init([['version-column', 'written_by']]);
  assert.deepEqual(columns(user()).written_by, { tag: 'text', val: metadata().version });
  init([]);
});
