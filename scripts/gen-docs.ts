// `npm run docs`: rewrites the generated sections of README.md from the code (config schema,
// CLI help, ECS documents, example events). A test fails when the README is stale.
// `npm run docs -- --capture` first records a new host snapshot for the example events from the
// host it runs on (one listener with a known owner, the owner's ancestry, the host context), with
// the agent's own source and host reader; run it as root so listeners have owners.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generatedSections, updateReadme } from '../agent/docs/generate.js';
import { exampleSnapshot } from '../agent/docs/examples.js';
import type { ExampleSnapshot } from '../agent/docs/examples.js';
import { readHostContext } from '../agent/ecs/host.js';
import { silentLogger } from '../agent/log/logger.js';
import { createSource } from '../agent/sources/index.js';
import { repoRoot } from '../testkit/paths.js';

const snapshotFile = join(repoRoot, 'docs', 'examples', 'host-snapshot.json');
if (process.argv.includes('--capture')) {
  const source = await createSource('auto', silentLogger);
  await source.start();
  try {
    const snap = await source.poll();
    const captured = exampleSnapshot(await readHostContext('example-host-id'), snap);
    mkdirSync(dirname(snapshotFile), { recursive: true });
    writeFileSync(snapshotFile, `${JSON.stringify(captured, null, 2)}\n`);
    console.log(`recorded ${captured.listener.transport} port ${captured.listener.port} of ${captured.processes[0]?.name ?? '?'} in docs/examples/host-snapshot.json`);
  } finally {
    await source.shutdown();
  }
}
const examples = JSON.parse(readFileSync(snapshotFile, 'utf8')) as ExampleSnapshot;
const file = join(repoRoot, 'README.md');
writeFileSync(file, updateReadme(readFileSync(file, 'utf8'), await generatedSections(examples)));
console.log('README.md generated sections updated');
