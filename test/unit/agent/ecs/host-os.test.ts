import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beatsArchitecture, beatsPlatform, osReleaseId } from '../../../../agent/ecs/host-os.js';
import { readHostContext } from '../../../../agent/ecs/host.js';
import { ECS_VERSION } from '../../../../agent/ecs/fields.js';
import { createLogger } from '../../../../agent/log/logger.js';
import { parseConfig } from '../../../../agent/app/config.js';
import { waitFor } from '../../../helpers/wait.js';

test('host.architecture uses uname -m names, never Node\'s x64/arm64', () => {
  assert.equal(beatsArchitecture(undefined, 'x64'), 'x86_64');
  assert.equal(beatsArchitecture(undefined, 'arm64'), 'aarch64');
  assert.equal(beatsArchitecture('', 'arm64'), 'aarch64');
  assert.equal(beatsArchitecture('aarch64', 'arm64'), 'aarch64');
});

test('host.os.platform is the os-release ID on Linux, windows and darwin elsewhere', () => {
  assert.equal(beatsPlatform('linux', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'), 'debian');
  assert.equal(beatsPlatform('linux', 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'), 'ubuntu');
  assert.equal(beatsPlatform('linux', 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\n'), 'rhel');
  assert.equal(beatsPlatform('linux', 'NAME=x\n'), 'linux');
  assert.equal(beatsPlatform('linux', undefined), 'linux');
  assert.equal(beatsPlatform('win32', undefined), 'windows');
  assert.equal(beatsPlatform('darwin', undefined), 'darwin');
  assert.equal(osReleaseId('ID_LIKE=debian\nID=\'alpine\'\n'), 'alpine');
});

test('on this host: host.architecture is uname -m and host.os.platform the os-release ID', { skip: process.platform !== 'linux' }, async () => {
  const host = await readHostContext('fallback');
  assert.equal(host.architecture, execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
  const id = osReleaseId(readFileSync('/etc/os-release', 'utf8'));
  assert.ok(id !== undefined);
  assert.equal(host.os.platform, id);
  assert.notEqual(host.architecture, 'x64');
});

test('the agent\'s own ECS log lines carry the events\' ECS version', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'pw-log-')), 'agent.log');
  const logger = createLogger({ level: 'info', file, format: 'ecs' });
  logger.info('hello');
  const line = await waitFor('the log line', () => {
    try {
      return readFileSync(file, 'utf8').split('\n').find((l) => l.includes('hello'));
    } catch {
      return undefined;
    }
  }, 10_000);
  assert.equal((JSON.parse(line) as Record<string, unknown>)['ecs.version'], ECS_VERSION);
});

test('data_stream.namespace: default "default", Elastic\'s naming rules enforced', () => {
  assert.equal(parseConfig({}, 'x.yaml').config.data_stream.namespace, 'default');
  assert.equal(parseConfig({ data_stream: { namespace: 'prod_eu' } }, 'x.yaml').config.data_stream.namespace, 'prod_eu');
  for (const bad of ['Prod', 'a-b', 'a b', 'a:b', 'a#b', '', 'x'.repeat(101)]) {
    assert.throws(() => parseConfig({ data_stream: { namespace: bad } }, 'x.yaml'), /data_stream\.namespace: a data stream namespace/, bad);
  }
});
