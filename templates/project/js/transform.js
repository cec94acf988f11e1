// The {{name}} transform. As generated, it turns a randomuser.me user into a
// row of the pipeline's default table (`created_users`) with a few of its
// columns; change `row` to make it yours.
//
// The module exports the `transformer` world's three functions; `host plugin
// build` makes a component of it with componentize-js. The SDK is imported
// by path: componentize-js does not search node_modules.

import { InputError, Value, badInput, row as newRow, rows } from './node_modules/sluice-plugin/index.js';

const NAME = '{{name}}';
/** Keep in step with package.json's `version`; bump it with every change you deploy. */
const VERSION = '0.1.0';

/** The `metadata` export: name, version, one line. */
export function metadata() {
  return { name: NAME, version: VERSION, description: 'randomuser.me user -> id, name and email in created_users' };
}

/** The `init` export: a thrown string refuses the plugin, with that message. */
export function init(config) {
  // Refuse settings this plugin does not know: a typo in
  // [pipeline.plugin-config] then fails the deploy instead of doing nothing.
  for (const [key] of config) {
    throw `no setting \`${key}\`: this plugin takes none`;
  }
}

/** The `transform` export: one outcome per record, in order. */
export function transform(batch) {
  return batch.map((record) => {
    try {
      return rows([row(Value.root(record.value))]);
    } catch (e) {
      // A missing or mistyped field never transforms: dead-letter it.
      if (e instanceof InputError) return badInput(e);
      throw e; // a bug: trap, and let the host isolate the record
    }
  });
}

/** The logic, as a plain function of the value so unit tests call it directly. */
export function row(user) {
  return newRow()
    .uuid('id', user.requireStr('login.uuid'))
    .text('first_name', user.requireStr('name.first'))
    .text('last_name', user.requireStr('name.last'))
    .text('email', user.requireStr('email'))
    .build();
}
