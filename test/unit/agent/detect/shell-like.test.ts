import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isShellLike } from '../../../../agent/detect/shell-like.js';

test('shells and interpreters are shell-like (their socket stdin is checked for TCP); other programs are not', () => {
  for (const comm of ['sh', 'bash', 'dash', 'zsh', 'busybox', 'python3', 'python3.12', 'perl5.36', 'ruby', 'php8.2', 'lua5.4', 'node', 'nc', 'ncat', 'socat']) {
    assert.equal(isShellLike(comm), true, comm);
  }
  for (const comm of ['nginx', 'sleep', 'sshd-session', 'Bash', 'nodejs', 'python-x', '']) assert.equal(isShellLike(comm), false, comm);
});
