// The flatten transform in JavaScript: one randomuser.me user becomes one row
// of `created_users`, exactly as the Rust plugin (plugins/flatten) does it:
// the same 12 columns, the same errors naming the field, postcodes as text,
// dates as milliseconds since the epoch, and `id` = `login.uuid` lower-cased.
//
// Built into a component by build.mjs (componentize-js) against the
// `transformer` world of the JavaScript SDK (sdk/js/wit,
// sluice:transform@0.3.0); `just build-plugins` runs it. It reads values
// with the SDK's `Value`, imported from the checkout by path. The module
// exports the world's three functions, which take and return plain objects
// (`transform`: one outcome per record; the SDK's entry module turns them
// into the world's `batch-output`), so `node --test` can check it without
// Wasm. Plugin config:
// - `version-column`: if set, the named text column receives this plugin's
//   version.

import { InputError, Value, fieldError, rustDebugStr } from '../../sdk/js/value.js';

const NAME = 'flatten-js';
/** Keep in step with package.json's `version`. */
const VERSION = '0.1.0';

let versionColumn = null;

/** The `metadata` export. */
export function metadata() {
  return {
    name: NAME,
    version: VERSION,
    description: 'randomuser.me user -> one created_users row (JavaScript)',
  };
}

/** The `init` export: a thrown string becomes the `err` the host shows. */
export function init(config) {
  let column = null;
  for (const [key, value] of config) {
    if (key !== 'version-column') {
      throw `${NAME} has no setting \`${key}\`; it knows only \`version-column\``;
    }
    if (value === '') {
      throw 'plugin-config `version-column` is empty: name a text column or remove the setting';
    }
    column = value;
  }
  versionColumn = column;
}

/** The `transform` export: one outcome per record, in order. */
export function transform(batch) {
  return batch.map((record) => {
    try {
      return { tag: 'rows', val: [flatten(Value.root(record.value), versionColumn)] };
    } catch (e) {
      if (e instanceof InputError) {
        return { tag: 'bad-input', val: { field: e.field, message: e.message } };
      }
      throw e; // a bug: trap, and let the host isolate the record
    }
  });
}

const text = (name, val) => ({ name, value: { tag: 'text', val } });

/** The reshaping itself: a user `Value` to a WIT `row`; throws `InputError`. */
function flatten(user, versionColumn = null) {
  // Evaluated in the Rust plugin's order, so the first bad field reported is the same.
  const address = [
    user.requireText('location.street.number'),
    ' ',
    user.requireStr('location.street.name'),
    ', ',
    user.requireStr('location.city'),
    ', ',
    user.requireText('location.state'),
    ', ',
    user.requireStr('location.country'),
  ].join('');
  const columns = [
    { name: 'id', value: { tag: 'uuid', val: uuid(user, 'login.uuid') } },
    text('first_name', user.requireStr('name.first')),
    text('last_name', user.requireStr('name.last')),
    text('gender', user.requireStr('gender')),
    text('address', address),
    text('post_code', user.requireText('location.postcode')),
    text('email', user.requireStr('email')),
    text('username', user.requireStr('login.username')),
    { name: 'dob', value: { tag: 'timestamp', val: timestamp(user, 'dob.date') } },
    { name: 'registered_date', value: { tag: 'timestamp', val: timestamp(user, 'registered.date') } },
    text('phone', user.requireStr('phone')),
    text('picture', user.requireStr('picture.medium')),
  ];
  if (versionColumn !== null) columns.push(text(versionColumn, VERSION));
  return { table: undefined, columns, kind: 'upsert', ttlSeconds: undefined, writeTimeMicros: undefined };
}

function timestamp(user, path) {
  const s = user.requireStr(path);
  const ms = parseRfc3339Millis(s);
  if (ms === null) throw fieldError(path, `is not an RFC 3339 timestamp: ${rustDebugStr(s)}`);
  return BigInt(ms);
}

// Character loops rather than regular expressions here and below: a plugin
// runs in SpiderMonkey's interpreter, where a regular expression test costs
// several microseconds, and these run for every record.

/** 8-4-4-4-12 hex digits. */
function isUuid(s) {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false; // '-'
    } else if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) {
      return false;
    }
  }
  return true;
}

function uuid(user, path) {
  const s = user.requireStr(path);
  if (!isUuid(s)) throw fieldError(path, `is not a UUID: ${rustDebugStr(s)}`);
  return s.toLowerCase();
}

/** The number `s[from, to)` spells in ASCII digits, or null (also when empty). */
function digitsAt(s, from, to) {
  if (from >= to) return null;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) return null;
    n = n * 10 + c;
  }
  return n;
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fff...](Z|±HH:MM)` to milliseconds since the epoch,
 * or null; a port of the Rust SDK's `parse_rfc3339_millis`, quirks included
 * (any day 1-31 in any month, second 60, fractions truncated to ms).
 */
function parseRfc3339Millis(s) {
  if (s.length < 20) return null;
  const t = s[10];
  if (s[4] !== '-' || s[7] !== '-' || (t !== 'T' && t !== 't' && t !== ' ')) return null;
  if (s[13] !== ':' || s[16] !== ':') return null;
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 7);
  const day = digitsAt(s, 8, 10);
  const hour = digitsAt(s, 11, 13);
  const minute = digitsAt(s, 14, 16);
  const second = digitsAt(s, 17, 19);
  if (year === null || month === null || day === null || hour === null || minute === null || second === null) {
    return null;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return null;
  }
  let end = 19;
  let millis = 0;
  if (s[19] === '.') {
    let k = 20;
    while (k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
    if (k === 20) return null;
    // Fractions truncated to milliseconds: the first three digits, padded.
    millis = digitsAt(s, 20, Math.min(k, 23)) * 10 ** (3 - Math.min(k - 20, 3));
    end = k;
  }
  const rest = end === s.length - 1 ? s[end] : s.slice(end);
  let offsetMinutes;
  if (rest === 'Z' || rest === 'z') {
    offsetMinutes = 0;
  } else if (/^[+-][\x00-\x7f]{2}:[\x00-\x7f]{2}$/.test(rest)) {
    // Rust's i64 parse: an optional sign, then ASCII digits.
    const int = (t) => (/^[+-]?[0-9]+$/.test(t) ? Number(t) : null);
    const h = int(rest.slice(1, 3));
    const m = int(rest.slice(4, 6));
    if (h === null || m === null) return null;
    offsetMinutes = (rest[0] === '-' ? -1 : 1) * (h * 60 + m);
  } else {
    return null;
  }
  const days = daysFromCivil(year, month, day);
  const secs = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  return secs * 1000 + millis;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
function daysFromCivil(year, month, day) {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.trunc((y >= 0 ? y : y - 399) / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.trunc((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.trunc(yoe / 4) - Math.trunc(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
