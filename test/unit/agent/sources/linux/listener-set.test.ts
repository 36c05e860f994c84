import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownerStarts, sameListenerSet } from '../../../../../agent/sources/linux/listener-set.js';
import type { ListenerRecord } from '../../../../../agent/sources/types.js';

const row = (inode: number, owners: number[], netns = '4026531840'): ListenerRecord => ({
  netns, transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 8000 + inode, inode, owners,
});

test('listener set: the same sockets held by the same processes are unchanged; any socket, order or owner difference is a change', () => {
  const starts = new Map([[100, '500'], [101, '510']]);
  const startKeyOf = (pid: number) => starts.get(pid);
  const last = [row(1, [100]), row(2, [100, 101]), row(3, [])];
  const lastStarts = ownerStarts(last, startKeyOf);
  assert.deepEqual([...lastStarts], [[100, '500'], [101, '510']]);
  const same = (rows: ListenerRecord[]) => sameListenerSet(rows, last, lastStarts, startKeyOf);
  assert.equal(same([row(1, [100]), row(2, [100, 101]), row(3, [])]), true, 'new record objects, same content');
  assert.equal(same([row(1, [100]), row(2, [100, 101])]), false, 'a socket closed');
  assert.equal(same([row(1, [100]), row(3, []), row(2, [100, 101])]), false, 'another order');
  assert.equal(same([row(1, [100]), row(2, [100, 101]), row(4, [])]), false, 'another socket in its place');
  assert.equal(same([row(1, [100]), row(2, [100, 101]), row(3, [], '4026532000')]), false, 'another namespace');
  assert.equal(same([row(1, [100]), row(2, [100]), row(3, [])]), false, 'a holder left');
  assert.equal(same([row(1, [101]), row(2, [100, 101]), row(3, [])]), false, 'another holder');
  assert.equal(same([row(1, [100]), row(2, [100, 101]), row(3, [101])]), false, 'an ownerless socket found its owner');
});

test('listener set: a holder\'s pid that names another process now (same pid, new start) is a change', () => {
  const starts = new Map([[100, '500']]);
  const startKeyOf = (pid: number) => starts.get(pid);
  const last = [row(1, [100])];
  const lastStarts = ownerStarts(last, startKeyOf);
  // A recycled pre-fork worker: pid 100 exited and a new worker on pid 100 inherited the socket.
  starts.set(100, '900');
  assert.equal(sameListenerSet([row(1, [100])], last, lastStarts, startKeyOf), false);
  starts.delete(100);
  assert.equal(sameListenerSet([row(1, [100])], last, lastStarts, startKeyOf), false, 'a holder no longer in the table');
  starts.set(100, '500');
  assert.equal(sameListenerSet([row(1, [100])], last, lastStarts, startKeyOf), true);
});
