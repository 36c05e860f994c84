// `portwarden --help` lists commands without loading them (index.ts); docs read them loaded (all.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCommands } from '../../../../agent/cli/commands/all.js';
import { commands } from '../../../../agent/cli/commands/index.js';

test('every listed command loads the command of the same name, in the same order as the docs list', async () => {
  assert.deepEqual(commands.map((c) => c.name), allCommands.map((c) => c.name));
  for (const [i, entry] of commands.entries()) {
    const loaded = await entry.load();
    assert.equal(loaded, allCommands[i], entry.name);
    assert.equal(loaded.name, entry.name);
    assert.ok(entry.summary.length > 10 && !entry.summary.endsWith('.'), `${entry.name}: a one-line summary`);
    assert.match(loaded.help, new RegExp(`^Usage: portwarden ${entry.name}`), `${entry.name}: --help text`);
  }
});
