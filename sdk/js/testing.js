// Test helpers for plugins, natively under `node --test` (no Wasm): the
// JavaScript twin of the Rust SDK's `sluice_plugin::testing`.

/** A JSON value as a WIT value-tree, the way the host builds it. */
export function tree(json) {
  const nodes = [];
  const add = (v) => {
    const i = nodes.length;
    nodes.push(null);
    if (v === null) nodes[i] = { tag: 'null' };
    else if (typeof v === 'boolean') nodes[i] = { tag: 'boolean', val: v };
    else if (typeof v === 'bigint') nodes[i] = { tag: 'integer', val: v };
    else if (typeof v === 'number') {
      nodes[i] = Number.isInteger(v) ? { tag: 'integer', val: BigInt(v) } : { tag: 'float', val: v };
    } else if (typeof v === 'string') nodes[i] = { tag: 'text', val: v };
    else if (Array.isArray(v)) nodes[i] = { tag: 'list', val: v.map(add) };
    else nodes[i] = { tag: 'object', val: Object.entries(v).map(([name, x]) => ({ name, node: add(x) })) };
    return i;
  };
  add(json);
  return { nodes };
}

/** An input record holding `json` as its value, as the host would pass it. */
export function record(json) {
  return { topic: 'test', partition: 0, offset: 0n, timestamp: undefined, key: undefined, headers: [], value: tree(json) };
}
