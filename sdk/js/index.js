// The JavaScript SDK for Sluice transforms (npm package `sluice-plugin`).
//
// A plugin is an ES module that exports the `transformer` world's three
// functions, `metadata`, `init` and `transform`; `host plugin build` turns
// it into a component with componentize-js against this package's wit/.
// Import through a relative path (`./node_modules/sluice-plugin/index.js`):
// componentize-js loads modules by path and does not search node_modules.

export { InputError, Value, fieldError, pack, rustDebugStr, rustFloat } from './value.js';
export { RowWriter, batchOutput, entryModule } from './rows.js';

/** A `rows` outcome: the record becomes these rows (zero, one or many). */
export const rows = (list) => ({ tag: 'rows', val: list });

/** A `filtered` outcome: dropped on purpose, for `reason`. */
export const filtered = (reason) => ({ tag: 'filtered', val: reason });

/** A `bad-input` outcome from an `InputError` (or any `{ field, message }`). */
export const badInput = (e) => ({ tag: 'bad-input', val: { field: e.field, message: e.message } });

/** A `retry` outcome: transient, may work later. */
export const retry = (reason) => ({ tag: 'retry', val: reason });

/**
 * Builds a row: `row(null)` for the pipeline's default table, or
 * `row('users_by_country')`; add cells with `.text(name, s)`, `.uuid(name, s)`,
 * `.int`, `.bigint`, `.double`, `.boolean`, `.timestamp(name, ms)`, then `.build()`.
 * `.delete()` makes it a delete of the row its primary key columns name;
 * `.ttlSeconds(n)` writes it `USING TTL n`, `.writeTimeMicros(t)` `USING TIMESTAMP t`.
 */
export function row(table = null) {
  const columns = [];
  let kind = 'upsert';
  let ttlSeconds;
  let writeTimeMicros;
  const cell = (tag) => (name, val) => {
    columns.push({ name, value: val === null || val === undefined ? { tag: 'null' } : { tag, val } });
    return builder;
  };
  const builder = {
    text: cell('text'),
    uuid: cell('uuid'),
    int: cell('int'),
    bigint: (name, v) => cell('bigint')(name, v === null || v === undefined ? v : BigInt(v)),
    double: cell('double'),
    boolean: cell('boolean'),
    timestamp: (name, ms) => cell('timestamp')(name, ms === null || ms === undefined ? ms : BigInt(ms)),
    null: (name) => cell('null')(name, null),
    delete: () => {
      kind = 'delete';
      return builder;
    },
    ttlSeconds: (n) => {
      ttlSeconds = n;
      return builder;
    },
    writeTimeMicros: (t) => {
      writeTimeMicros = BigInt(t);
      return builder;
    },
    build: () => ({ table: table ?? undefined, columns, kind, ttlSeconds, writeTimeMicros }),
  };
  return builder;
}
