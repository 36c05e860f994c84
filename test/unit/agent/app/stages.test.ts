import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stages } from '../../../../agent/app/stages.js';

test('Stages: a stop signal while a stage waits ends start(); that stage is stopped with the earlier ones, later ones never start', async () => {
  const log: string[] = [];
  let release: () => void = () => undefined;
  const stage = (name: string, start: () => Promise<void> = () => Promise.resolve()) => ({
    name,
    start: () => { log.push(`start ${name}`); return start(); },
    stop: () => { log.push(`stop ${name}`); release(); return Promise.resolve(); },
  });
  // `blocked` waits until it is stopped (as an accept waits for room until the pipeline closes).
  const blocked = stage('blocked', () => new Promise<void>((_, reject) => { release = () => { reject(new Error('stopped')); }; }));
  const stages = new Stages([stage('a'), blocked, stage('c')]);
  const abort = new AbortController();
  const starting = stages.start(abort.signal);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['start a', 'start blocked']);
  abort.abort();
  await starting;
  await stages.stop();
  assert.deepEqual(log, ['start a', 'start blocked', 'stop blocked', 'stop a']);
});

test('Stages: without a stop signal a failing start is thrown and the failed stage is not stopped', async () => {
  const log: string[] = [];
  const stages = new Stages([
    { name: 'a', start: () => Promise.resolve(), stop: () => { log.push('stop a'); return Promise.resolve(); } },
    { name: 'b', start: () => Promise.reject(new Error('no')), stop: () => { log.push('stop b'); return Promise.resolve(); } },
  ]);
  await assert.rejects(stages.start(new AbortController().signal), /no/);
  await stages.stop();
  assert.deepEqual(log, ['stop a']);
});
