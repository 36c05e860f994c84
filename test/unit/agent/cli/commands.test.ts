// `portwarden --help` lists commands without loading them; each listed name loads the command of that name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commands, summaries } from '../../../../agent/cli/commands/index.js';

test('every listed command loads the command of the same name, with a summary and --help text', async () => {
  assert.deepEqual(commands.names(), ['run', 'listeners', 'reload', 'status', 'check-config', 'replay', 'rules', 'baseline', 'policy']);
  for (const name of commands.names()) {
    const loaded = await commands.get(name);
    assert.equal(loaded.name, name);
    const summary = summaries[name] ?? '';
    assert.ok(summary.length > 10 && !summary.endsWith('.'), `${name}: a one-line summary`);
    assert.match(loaded.help, new RegExp(`^Usage: portwarden ${name}`), `${name}: --help text`);
  }
});
