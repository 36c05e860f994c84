import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserNames } from '../../../../../agent/sources/linux/process-reader.js';

test('UserNames: names and nologin accounts from a passwd file, re-read when it changes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-passwd-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const file = join(dir, 'passwd');
  writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n');
  let now = 0;
  const users = new UserNames(file, () => now);
  assert.equal(users.lookup(33), 'www-data');
  assert.equal(users.noLogin(33), true);
  assert.equal(users.noLogin(0), false);
  // An account added later with /bin/false, seen after the 10 s re-check.
  writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash\nappsvc:x:1500:1500::/srv/app:/bin/false\n');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  now += 11_000;
  assert.equal(users.noLogin(1500), true);
  assert.equal(users.noLogin(33), false);
  assert.equal(users.lookup(1500), 'appsvc');
});
